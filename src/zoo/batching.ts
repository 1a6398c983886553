/**
 * Token-level data of the zoo: encoded examples and length-bucketed batches
 * (rows of similar length go together, so left padding wastes little work).
 */
import { Rng } from '../data/random.js';
import { PoserError } from '../errors.js';
import { chunks } from '../strategies/primitives/batching.js';

/** One training example: prompt token ids and the id of the answer token. */
export interface AnswerExample {
  ids: number[];
  target: number;
}

/**
 * Splits examples into batches of rows of similar length, in a random order:
 * shuffle, cut into windows of `window` batches, sort each window by length
 * and cut it into batches, then shuffle the batches. Batches stay mixed (a
 * window is a random sample) while left padding wastes little work.
 */
export function lengthBatches<T>(items: readonly T[], length: (item: T) => number, batchSize: number, rng: Rng, window = 8): T[][] {
  const shuffled = rng.shuffle(items);
  const batches: T[][] = [];
  const span = batchSize * window;
  for (let w = 0; w < shuffled.length; w += span) {
    const chunk = shuffled.slice(w, w + span).map((item, i) => ({ item, i, len: length(item) }));
    chunk.sort((a, b) => a.len - b.len || a.i - b.i);
    for (const batch of chunks(chunk, batchSize)) batches.push(batch.map((c) => c.item));
  }
  // A short last batch would weigh its rows more; fold it into another one.
  const last = batches[batches.length - 1];
  if (batches.length > 1 && last.length < batchSize / 2) {
    batches.pop();
    batches[batches.length - 1].push(...last);
  }
  return rng.shuffle(batches);
}

/**
 * Runs `fn` on the length-bucketed batches of `items` (a fixed shuffle, so
 * every call cuts the same batches) and returns its per-item results in input
 * order. For scoring many prompts: rows of similar length share a forward.
 */
export async function mapLengthBatches<T, R>(items: readonly T[], length: (item: T) => number, batchSize: number, fn: (batch: T[]) => Promise<R[]>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  const rows = items.map((item, i) => ({ i, item }));
  for (const batch of lengthBatches(rows, (r) => length(r.item), batchSize, new Rng(0))) {
    (await fn(batch.map((r) => r.item))).forEach((result, j) => {
      out[batch[j].i] = result;
    });
  }
  return out;
}

/**
 * An endless stream of batches: each epoch is a fresh length-bucketed
 * shuffle of the examples; `take(n)` returns the next n batches.
 */
export class BatchStream<T> {
  private queue: T[][] = [];
  private epoch = 0;
  constructor(
    private readonly items: readonly T[],
    private readonly length: (item: T) => number,
    private readonly batchSize: number,
    private readonly rng: Rng,
  ) {
    if (items.length === 0) throw new PoserError('E_ARG', 'BatchStream: no examples (items is empty)');
  }

  /** The next batch (a new shuffled epoch starts when one runs out). */
  next(): T[] {
    if (this.queue.length === 0) {
      this.queue = lengthBatches(this.items, this.length, this.batchSize, this.rng);
      this.epoch++;
    }
    return this.queue.shift()!;
  }

  /** Epochs started so far. */
  get epochs(): number {
    return this.epoch;
  }
}

/**
 * A stepped learning-rate schedule: the peak rate, then `lr * scale` from
 * `fraction` of the run on (stages sorted by fraction). The native optimizer
 * is rebuilt at each change, so stages are few.
 */
export function steppedLr(step: number, total: number, lr: number, stages: readonly { fraction: number; scale: number }[] = []): number {
  let scale = 1;
  for (const s of stages) if (step >= Math.round(s.fraction * total)) scale = s.scale;
  return lr * scale;
}
