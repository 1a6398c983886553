/**
 * Last-token activations as row-major matrices: capture in batches, rows,
 * means, and the contrast (oversight) vector of strategies 1 and 2.
 */
import { check } from '../../errors.js';
import { residPost } from '../../model/hooks.js';
import { row } from '../../model/tensor.js';
import { DEFAULT_BATCH_SIZE, forEachBatch } from './batching.js';
import type { Computes } from './computes.js';
import { subtract } from './vectors.js';

/** A row-major matrix: `shape[0]` rows (prompts) of `shape[1]` values. Accepted by `fitLogisticProbe`. */
export interface ActivationMatrix {
  data: Float32Array;
  shape: [number, number];
}

/** Row `i` of a matrix (a view, no copy). */
export function matrixRow(m: ActivationMatrix, i: number): Float32Array {
  const d = m.shape[1];
  return m.data.subarray(i * d, (i + 1) * d);
}

/** The rows of a matrix at the given indices, as a new matrix. */
export function selectRows(m: ActivationMatrix, indices: readonly number[]): ActivationMatrix {
  const d = m.shape[1];
  const data = new Float32Array(indices.length * d);
  indices.forEach((r, i) => data.set(matrixRow(m, r), i * d));
  return { data, shape: [indices.length, d] };
}

/**
 * Last-token activations of every prompt at each hook, captured in batches
 * (one forward per batch for all hooks): hook -> [prompts, D].
 */
export async function lastTokenActivations(
  model: Computes<'capture' | 'hiddenSize'>,
  prompts: readonly string[],
  hooks: readonly string[],
  batchSize: number = DEFAULT_BATCH_SIZE,
  onBatch?: (done: number, total: number) => void,
): Promise<Record<string, ActivationMatrix>> {
  check(prompts.length > 0, 'lastTokenActivations: no prompts');
  check(hooks.length > 0, 'lastTokenActivations: no hooks');
  const d = model.hiddenSize;
  const out: Record<string, ActivationMatrix> = {};
  for (const h of hooks) out[h] = { data: new Float32Array(prompts.length * d), shape: [prompts.length, d] };
  await forEachBatch(prompts, batchSize, async (batch, start) => {
    const caps = await model.capture(batch, [...hooks]);
    for (const h of hooks) {
      const a = caps[h];
      for (let i = 0; i < batch.length; i++) out[h].data.set(row(a, i), (start + i) * d);
    }
  }, onBatch);
  return out;
}

/** The mean of a matrix's rows (accumulated in float64). */
export function meanRows(m: ActivationMatrix): Float32Array {
  const [n, d] = m.shape;
  check(n > 0, 'meanRows: no rows');
  const acc = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) acc[j] += m.data[i * d + j];
  return Float32Array.from(acc, (x) => x / n);
}

/** Mean last-token activation over prompts at one hook. */
export async function meanActivation(model: Computes<'capture' | 'hiddenSize'>, prompts: readonly string[], hook: string, batchSize: number = DEFAULT_BATCH_SIZE): Promise<Float32Array> {
  const acts = await lastTokenActivations(model, prompts, [hook], batchSize);
  return meanRows(acts[hook]);
}

/**
 * The contrast (oversight) vector of strategies 1 and 2: the mean last-token
 * activation after block `layer` over the critical prompts minus the mean over
 * the clean prompts.
 */
export async function contrastVector(
  model: Computes<'capture' | 'hiddenSize'>,
  pairs: readonly { critical: string; clean: string }[],
  layer: number,
  batchSize: number = DEFAULT_BATCH_SIZE,
): Promise<Float32Array> {
  check(pairs.length > 0, 'contrastVector: no contrast pairs');
  const hook = residPost(layer);
  const critical = await meanActivation(model, pairs.map((p) => p.critical), hook, batchSize);
  const clean = await meanActivation(model, pairs.map((p) => p.clean), hook, batchSize);
  return subtract(critical, clean);
}
