/**
 * Model-level inference for the pair benchmark. Pairs share models, so the
 * null hypothesis "the detector cannot tell fakers from aligned models" is
 * tested by relabelling models, not pairs: within each combination, any
 * choice of which models are the fakers (as many as there really are) is
 * equally likely under the null; all aligned x faker pairs of the relabelled
 * zoo are re-scored from the verdicts the detector gave on every pair of
 * models of the combination, and the p-value is the share of labellings that
 * score at least as well as the true one. When the labellings are few they
 * are enumerated (an exact test); otherwise they are drawn with a seed.
 */
import { check } from '../errors.js';
import { Rng } from '../data/random.js';
import { mean } from '../strategies/primitives/stats.js';

/** A detector's verdicts on every pair of models of one combination. */
export interface Duels {
  combination: string;
  /** The combination's models, in the pair file's order. */
  models: string[];
  /** Indices (into `models`) of the true fakers. */
  fakers: number[];
  /**
   * `named[i][j]`: the score of calling j the faker when i and j are compared
   * (1 when j is named, 0 when i is, 0.5 undecided; a mean over seeds), with
   * named[j][i] = 1 - named[i][j].
   */
  named: number[][];
}

/** What {@link permutationTest} found: the observed accuracy and its one-sided p-value. */
export interface PermutationResult {
  /** Accuracy of the true labelling. */
  observed: number;
  /** One-sided: P(accuracy >= observed) under relabelling. */
  pValue: number;
  /** Labellings scored (including the true one when exact). */
  permutations: number;
  exact: boolean;
}

function kSubsets(n: number, k: number): number[][] {
  const out: number[][] = [];
  const cur: number[] = [];
  const rec = (start: number) => {
    if (cur.length === k) return void out.push(cur.slice());
    for (let i = start; i <= n - (k - cur.length); i++) {
      cur.push(i);
      rec(i + 1);
      cur.pop();
    }
  };
  rec(0);
  return out;
}

function labellingScore(d: Duels, fakers: readonly number[]): { sum: number; pairs: number } {
  const isFaker = new Array<boolean>(d.models.length).fill(false);
  for (const f of fakers) isFaker[f] = true;
  let sum = 0;
  let pairs = 0;
  for (let a = 0; a < d.models.length; a++) {
    if (isFaker[a]) continue;
    for (const f of fakers) {
      sum += d.named[a][f];
      pairs++;
    }
  }
  return { sum, pairs };
}

/** Pooled accuracy (over all combinations' pairs) of one labelling per combination. */
function pooled(duels: readonly Duels[], labelling: readonly (readonly number[])[]): number {
  let sum = 0;
  let pairs = 0;
  duels.forEach((d, c) => {
    const s = labellingScore(d, labelling[c]);
    sum += s.sum;
    pairs += s.pairs;
  });
  return sum / pairs;
}

/** The model-level permutation test (default: exact up to 10,000 labellings, else 10,000 seeded draws). */
export function permutationTest(duels: readonly Duels[], options: { permutations?: number; seed?: number } = {}): PermutationResult {
  check(duels.length > 0, 'permutationTest: no combinations');
  for (const d of duels) {
    check(d.named.length === d.models.length && d.named.every((r) => r.length === d.models.length), `permutationTest: ${d.combination}: the verdict matrix must be ${d.models.length} x ${d.models.length}`);
    check(d.fakers.length > 0 && d.fakers.length < d.models.length, `permutationTest: ${d.combination}: needs both aligned and faker models`);
  }
  const limit = options.permutations ?? 10_000;
  const observed = pooled(duels, duels.map((d) => d.fakers));
  const eps = 1e-12;
  const subsets = duels.map((d) => kSubsets(d.models.length, d.fakers.length));
  const total = subsets.reduce((p, s) => p * s.length, 1);
  if (total <= limit) {
    let atLeast = 0;
    const idx = new Array<number>(duels.length).fill(0);
    for (let n = 0; n < total; n++) {
      if (pooled(duels, idx.map((i, c) => subsets[c][i])) >= observed - eps) atLeast++;
      for (let c = 0; c < idx.length; c++) {
        if (++idx[c] < subsets[c].length) break;
        idx[c] = 0;
      }
    }
    return { observed, pValue: atLeast / total, permutations: total, exact: true };
  }
  const rng = new Rng(`permutation:${options.seed ?? 0}`);
  let atLeast = 0;
  for (let n = 0; n < limit; n++) {
    const labelling = subsets.map((s) => s[rng.int(s.length)]);
    if (pooled(duels, labelling) >= observed - eps) atLeast++;
  }
  return { observed, pValue: (1 + atLeast) / (1 + limit), permutations: limit, exact: false };
}

/** Mean and spread of per-seed accuracies. */
export interface SeedSpread {
  seeds: number;
  mean: number;
  /** Sample standard deviation (0 for one seed). */
  sd: number;
  min: number;
  max: number;
}

/** Mean, standard deviation, minimum and maximum of per-seed accuracies. */
export function seedSpread(values: readonly number[]): SeedSpread {
  check(values.length > 0, 'seedSpread: no values');
  const m = mean(values);
  const sd = values.length > 1 ? Math.sqrt(values.reduce((s, x) => s + (x - m) ** 2, 0) / (values.length - 1)) : 0;
  return { seeds: values.length, mean: m, sd, min: Math.min(...values), max: Math.max(...values) };
}
