/**
 * Consecutive batches of prompts: the one way the strategies, the controls and
 * the CLI cut a list into forward calls (training batches by length are
 * `zoo/batching.ts`'s).
 */
import { check } from '../../errors.js';
import type { ProgressEvent } from '../types.js';

/** Prompts per forward call unless a strategy is told otherwise. */
export const DEFAULT_BATCH_SIZE = 32;

/** Splits a list into consecutive chunks of at most `size` items. */
export function chunks<T>(items: readonly T[], size: number = DEFAULT_BATCH_SIZE): T[][] {
  check(Number.isInteger(size) && size > 0, `batch size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Runs `fn` on consecutive chunks of `items`, one chunk after another;
 * `start` is the index of the chunk's first item. `onBatch(done, total)` is
 * called after each chunk.
 */
export async function forEachBatch<T>(
  items: readonly T[],
  size: number,
  fn: (batch: T[], start: number) => Promise<void>,
  onBatch?: (done: number, total: number) => void,
): Promise<void> {
  const parts = chunks(items, size);
  for (let i = 0; i < parts.length; i++) {
    await fn(parts[i], i * size);
    onBatch?.(i + 1, parts.length);
  }
}

/**
 * Runs `fn` on consecutive chunks of `items`, one chunk after another, and
 * concatenates the per-chunk results (which must have one entry per item).
 * `onBatch(done, total)` is called after each chunk.
 */
export async function mapBatches<T, R>(
  items: readonly T[],
  size: number,
  fn: (batch: T[], start: number) => Promise<R[]>,
  onBatch?: (done: number, total: number) => void,
): Promise<R[]> {
  const out: R[] = [];
  await forEachBatch(items, size, async (batch, start) => {
    const r = await fn(batch, start);
    check(r.length === batch.length, `mapBatches: ${r.length} results for a chunk of ${batch.length}`);
    out.push(...r);
  }, onBatch);
  return out;
}

/** A progress reporter bound to a strategy and stage, or a no-op. */
export function progressFor(
  onProgress: ((event: ProgressEvent) => void) | undefined,
  strategy: string,
  stage: string,
): ((done: number, total: number) => void) | undefined {
  return onProgress ? (done, total) => onProgress({ strategy, stage, done, total }) : undefined;
}
