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

/** Checks one token id, naming what is wrong with it: type, integer, sign, vocabulary. */
export function checkTokenId(id: unknown, vocabSize: number | undefined, where = ''): asserts id is number {
  const at = where ? ` ${where}` : '';
  check(typeof id === 'number', `token ${typeof id === 'string' ? JSON.stringify(id) : String(id)}${at} is not a number (token ids are integers)`);
  check(Number.isInteger(id), `token id ${id}${at} is not an integer`);
  check(id >= 0, `token id ${id}${at} is negative`);
  if (vocabSize !== undefined) check(id < vocabSize, `token id ${id}${at} is out of range (vocab size ${vocabSize})`);
}

/** Checks a batch built outside `padLeft` against its own shape and the vocabulary. */
export function checkEncodedBatch(b: EncodedBatch, vocabSize: number): EncodedBatch {
  check(Number.isInteger(b.batch) && b.batch > 0 && Number.isInteger(b.length) && b.length > 0, `EncodedBatch: batch ${b.batch} and length ${b.length} must be positive integers`);
  check(b.ids instanceof Int32Array && b.ids.length === b.batch * b.length, `EncodedBatch: ids must be an Int32Array of batch × length = ${b.batch * b.length} ids`);
  check(b.mask instanceof Uint8Array && b.mask.length === b.ids.length, `EncodedBatch: mask must be a Uint8Array of ${b.ids.length} entries`);
  check(Array.isArray(b.lengths) && b.lengths.length === b.batch, `EncodedBatch: lengths must list ${b.batch} row lengths`);
  b.lengths.forEach((len, r) => check(Number.isInteger(len) && len > 0 && len <= b.length, `EncodedBatch: lengths[${r}] = ${len} is not in 1..${b.length}`));
  b.ids.forEach((id, i) => checkTokenId(id, vocabSize, `in EncodedBatch ids[${i}] (row ${Math.floor(i / b.length)}, position ${i % b.length})`));
  return b;
}

/** Left-pads rows of token ids (pad id 0, masked out) into one batch. */
export function padLeft(rows: number[][], vocabSize?: number): EncodedBatch {
  check(rows.length > 0, 'empty batch: at least one prompt is needed');
  rows.forEach((row, b) => check(Array.isArray(row) || ArrayBuffer.isView(row), `row ${b} must be an array of token ids, got ${typeof row === 'string' ? 'a string' : typeof row}`));
  const length = Math.max(...rows.map((r) => r.length));
  check(length > 0, 'empty prompt: every row needs at least one token');
  const batch = rows.length;
  const ids = new Int32Array(batch * length);
  const mask = new Uint8Array(batch * length);
  rows.forEach((row, b) => {
    check(row.length > 0, `empty prompt at row ${b}`);
    const offset = b * length + (length - row.length);
    row.forEach((id, t) => {
      checkTokenId(id, vocabSize, `at row ${b}, position ${t}`);
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
