/**
 * Training the zoo's organisms as a population: the fine-tunes from one base
 * with one recipe are independent, so several run at once, each native call
 * on its own libuv worker thread with fewer intra-op threads. At hidden size
 * 64 a step's matrix products are too small to keep two threads busy (per-op
 * overhead dominates), so two models on one thread each finish sooner than
 * two models one after another on two threads. Each model's result is the
 * one-at-a-time result up to floating-point reordering.
 */
import { availableParallelism } from 'node:os';
import { PoserError } from '../errors.js';

/** Organisms trained at once by default: one per available core (one on a GPU, whose kernels queue anyway). */
export function defaultConcurrency(device = 'cpu'): number {
  return device === 'cpu' ? availableParallelism() : 1;
}

/** Intra-op threads per model when `concurrency` models share `threads` threads. */
export function threadsPerModel(threads: number, concurrency: number): number {
  return Math.max(1, Math.floor(threads / Math.max(1, concurrency)));
}

/**
 * Runs `task` over `items` with at most `concurrency` in flight, starting them
 * in order. After a task fails no further task starts; the tasks in flight
 * are awaited (a model that finishes is still saved) and the first error is
 * thrown.
 */
export async function runPopulation<T>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new PoserError('E_ARG', `concurrency must be an integer >= 1, got ${concurrency}`);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async (): Promise<void> => {
    while (!failure && next < items.length) {
      const i = next++;
      try {
        await task(items[i], i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  if (failure) throw failure.error;
}
