// The tiny LLaMA parity fixture written by tools/make_fixtures.py.
import { fileURLToPath } from 'node:url';
import type { EncodedBatch } from '../../src/index.js';
import { f32, readSafetensors, type TestTensor } from './safetensors.js';

export const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/tiny-llama', import.meta.url));
export const LOGREG_PATH = fileURLToPath(new URL('../fixtures/logreg.safetensors', import.meta.url));

let cache: Map<string, TestTensor> | undefined;
export function expected(): Map<string, TestTensor> {
  cache ??= readSafetensors(`${FIXTURE_DIR}/expected.safetensors`);
  return cache;
}

export function tensor(name: string): Float32Array {
  const t = expected().get(name);
  if (!t) throw new Error(`fixture tensor ${name} missing`);
  return f32(t);
}

/** The fixture's left-padded batch. */
export function fixtureBatch(): EncodedBatch {
  return encodedBatch(expected().get('input_ids')!, expected().get('attention_mask')!);
}

/** A left-padded batch from stored int64 ids and attention mask [B, T]. */
export function encodedBatch(ids: TestTensor, mask: TestTensor): EncodedBatch {
  const [batch, length] = ids.shape;
  const lengths: number[] = [];
  const m = new Uint8Array(batch * length);
  for (let b = 0; b < batch; b++) {
    let n = 0;
    for (let t = 0; t < length; t++) {
      m[b * length + t] = Number((mask.data as BigInt64Array)[b * length + t]);
      n += m[b * length + t];
    }
    lengths.push(n);
  }
  return { ids: Int32Array.from(ids.data as BigInt64Array, Number), mask: m, batch, length, lengths };
}

/** Values of a [B, T, ...] tensor at real (unpadded) positions only. */
export function realPositions(data: ArrayLike<number>, batch: EncodedBatch, width: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < batch.batch; b++)
    for (let t = batch.length - batch.lengths[b]; t < batch.length; t++)
      for (let j = 0; j < width; j++) out.push(data[(b * batch.length + t) * width + j]);
  return out;
}
