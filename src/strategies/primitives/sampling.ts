/** Seeded selection: subsets, train/test splits and cross-validation folds, the same for every model. */
import { check } from '../../errors.js';
import { Rng } from '../../data/random.js';

/** Up to `max` items chosen by a seeded shuffle (all of them, in order, when `max` is absent or not smaller). */
export function seededSubset<T>(items: readonly T[], max: number | undefined, seed: number): T[] {
  if (max === undefined || max >= items.length) return items.slice();
  check(Number.isInteger(max) && max > 0, `the number of items to use must be a positive integer, got ${max}`);
  return new Rng(`subset:${seed}`).sample(items, max);
}

/**
 * A seeded train/test split of `n` indices. With `labels`, the split is
 * stratified: each label keeps round(testFraction * count) items in the test
 * set, at least one and leaving at least one for training where it has two.
 */
export function seededSplit(n: number, testFraction: number, seed: number, labels?: readonly number[]): { train: number[]; test: number[] } {
  check(testFraction > 0 && testFraction < 1, `testFraction must be in (0, 1), got ${testFraction}`);
  const rng = new Rng(`split:${seed}`);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const key = labels ? labels[i] : 0;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(i);
  }
  const train: number[] = [];
  const test: number[] = [];
  for (const key of [...groups.keys()].sort((a, b) => a - b)) {
    const idx = rng.shuffle(groups.get(key)!);
    let k = Math.round(testFraction * idx.length);
    if (idx.length >= 2) k = Math.min(idx.length - 1, Math.max(1, k));
    test.push(...idx.slice(0, k));
    train.push(...idx.slice(k));
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}

/**
 * Seeded, stratified k-fold assignment of `labels.length` items: within each
 * label the items are shuffled and dealt to folds in turn. Returns each
 * item's fold (0..k-1).
 */
export function stratifiedFolds(labels: readonly number[], k: number, seed: number): number[] {
  check(Number.isInteger(k) && k >= 2, `stratifiedFolds: k must be an integer >= 2, got ${k}`);
  check(k <= labels.length, `stratifiedFolds: ${k} folds for ${labels.length} items`);
  const rng = new Rng(`folds:${seed}`);
  const fold = new Array<number>(labels.length).fill(0);
  let next = 0;
  for (const label of [...new Set(labels)].sort((x, y) => x - y)) {
    const idx = rng.shuffle(labels.map((l, i) => (l === label ? i : -1)).filter((i) => i >= 0));
    for (const i of idx) fold[i] = next++ % k;
  }
  return fold;
}
