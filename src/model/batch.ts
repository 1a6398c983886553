import { check } from '../errors.js';

/** Token ids of a batch, left-padded to a common length, with its mask. */
export interface EncodedBatch {
  ids: Int32Array; // [B, T]
  mask: Uint8Array; // [B, T], 1 on real tokens
  batch: number;
  length: number;
  /** Real (unpadded) length of each row. */
  lengths: number[];
}

/** Left-pads rows of token ids (pad id 0, masked out) into one batch. */
export function padLeft(rows: number[][], vocabSize?: number): EncodedBatch {
  check(rows.length > 0, 'empty batch: at least one prompt is needed');
  const length = Math.max(...rows.map((r) => r.length));
  check(length > 0, 'empty prompt: every row needs at least one token');
  const batch = rows.length;
  const ids = new Int32Array(batch * length);
  const mask = new Uint8Array(batch * length);
  rows.forEach((row, b) => {
    check(row.length > 0, `empty prompt at row ${b}`);
    const offset = b * length + (length - row.length);
    row.forEach((id, t) => {
      check(Number.isInteger(id) && id >= 0 && (vocabSize === undefined || id < vocabSize),
        `token id ${id} at row ${b}, position ${t} is out of range${vocabSize === undefined ? '' : ` (vocab size ${vocabSize})`}`);
      ids[offset + t] = id;
      mask[offset + t] = 1;
    });
  });
  return { ids, mask, batch, length, lengths: rows.map((r) => r.length) };
}

/**
 * Absolute (padded) positions [B, K] of positions given relative to each
 * row's real tokens (0 = first real token; negative counts from the end).
 */
export function absolutePositions(batch: EncodedBatch, positions: number[]): Int32Array {
  check(positions.length > 0, 'positions: at least one position is needed');
  const k = positions.length;
  const out = new Int32Array(batch.batch * k);
  batch.lengths.forEach((len, b) => {
    const seen = new Set<number>();
    positions.forEach((p, j) => {
      check(Number.isInteger(p), `position ${p} is not an integer`);
      const rel = p < 0 ? len + p : p;
      check(rel >= 0 && rel < len, `position ${p} out of range for row ${b} (it has ${len} tokens)`);
      check(!seen.has(rel), `position ${p} repeats position ${rel} in row ${b}`);
      seen.add(rel);
      out[b * k + j] = batch.length - len + rel;
    });
  });
  return out;
}
