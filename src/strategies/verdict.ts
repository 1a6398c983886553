/**
 * From scores to verdicts: the tie rule, a strategy assembled from its
 * measure and compare steps, and the ensemble of several strategies'
 * verdicts on one pair.
 */
import { check } from '../errors.js';
import { mean } from './primitives/stats.js';
import { checkSubject, type Subject } from './subject.js';
import type { CommonOptions, DetectionStrategy, Measurement, PairData, Verdict } from './types.js';

/**
 * Two scores are tied when either is not finite, or when they differ by at
 * most this fraction of the larger magnitude: |a - b| <= 1e-9 max(|a|, |b|)
 * (so exact equality, including 0 and 0, is a tie). The margin only absorbs
 * floating-point reordering; any real difference decides.
 */
export const TIE_TOLERANCE = 1e-9;

/** Whether two scores are tied under {@link TIE_TOLERANCE}. */
export function isTie(a: number, b: number): boolean {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return true;
  return Math.abs(a - b) <= TIE_TOLERANCE * Math.max(Math.abs(a), Math.abs(b));
}

/**
 * Turns two faker-likeness scores into a verdict: the faker is the model
 * with the higher score; a tie ({@link isTie}) is undecided (`faker: null`).
 * Nothing else is consulted, so the verdict depends on the scores alone.
 */
export function decide(strategy: string, scores: readonly [number, number], evidence: Record<string, unknown>): Verdict {
  const [a, b] = scores;
  return { strategy, faker: isTie(a, b) ? null : a > b ? 0 : 1, scores: [a, b], evidence };
}

/** Checks that two measurements come from `strategy` (for `compare`). */
export function checkMeasurements(measurements: readonly [Measurement, Measurement], strategy: string): void {
  check(Array.isArray(measurements) && measurements.length === 2, `${strategy}: compare needs two measurements`);
  measurements.forEach((m, i) =>
    check(m && m.strategy === strategy, `${strategy}: measurement ${i} is from '${m?.strategy}', not '${strategy}'`));
}

/** Checks that a setting recorded in both measurements is the same (they must be comparable). */
export function checkSame(strategy: string, what: string, a: unknown, b: unknown): void {
  check(JSON.stringify(a) === JSON.stringify(b),
    `${strategy}: the two measurements differ in ${what} (${JSON.stringify(a)} vs ${JSON.stringify(b)}); measure both models with the same data and options`);
}

/** A setting two measurements must share: an evidence key, or a name for messages and how to read it from the evidence. */
export type SharedSetting<E> = (keyof E & string) | readonly [what: string, read: (evidence: E) => unknown];

/**
 * The evidence of two measurements a `compare` step may compare: both from
 * `strategy` ({@link checkMeasurements}) and equal in every `same` setting
 * ({@link checkSame}, checked in the order given).
 */
export function comparable<E extends Record<string, unknown>>(
  strategy: string,
  measurements: readonly [Measurement<E>, Measurement<E>],
  same: readonly SharedSetting<E>[],
): [E, E] {
  checkMeasurements(measurements, strategy);
  const [a, b] = [measurements[0].evidence, measurements[1].evidence];
  for (const s of same) {
    const [what, read] = typeof s === 'string' ? [s, (e: E) => e[s]] : s;
    checkSame(strategy, what, read(a), read(b));
  }
  return [a, b];
}

/** Builds a strategy from its two steps; `run` measures both subjects, one after the other, and compares. */
export function defineStrategy<O extends CommonOptions, M extends Measurement>(
  parts: Omit<DetectionStrategy<O, M>, 'run'>,
): DetectionStrategy<O, M> {
  return {
    ...parts,
    async run(subjects: readonly [Subject, Subject], data: PairData, options?: O): Promise<Verdict> {
      check(Array.isArray(subjects) && subjects.length === 2, `${parts.name}: expected two subjects`);
      subjects.forEach((s, i) => checkSubject(s, `${parts.name}: subject ${i}`));
      check(subjects[0].numLayers === subjects[1].numLayers && subjects[0].hiddenSize === subjects[1].hiddenSize,
        `${parts.name}: the two models differ in shape (${subjects[0].numLayers} x ${subjects[0].hiddenSize} vs ${subjects[1].numLayers} x ${subjects[1].hiddenSize})`);
      const m0 = await parts.measure(subjects[0], data, options);
      const m1 = await parts.measure(subjects[1], data, options);
      return parts.compare([m0, m1], options);
    },
  };
}

/** The strategy name of an ensemble verdict. */
export const ENSEMBLE = 'ensemble';

/** How {@link ensembleVerdict} combines verdicts. */
export interface EnsembleOptions {
  /**
   * `rank` (default): each strategy ranks the two models (faker 1, other 0,
   * 0.5 each when it is undecided); a model's score is its mean rank, so the
   * ensemble is a majority vote and an even split is undecided.
   * `normalized`: each strategy's scores are divided by |s0| + |s1| (so
   * their difference lies in [-1, 1] whatever the strategy's units; 0 and 0
   * or a non-finite score contribute nothing), then averaged.
   */
  method?: 'rank' | 'normalized';
}

/**
 * An ensemble detector over several strategies' verdicts on the same pair
 * (models in the same order), reported like any strategy. The rule is fixed
 * in advance (see {@link EnsembleOptions}); it learns nothing from outcomes.
 */
export function ensembleVerdict(verdicts: readonly Verdict[], options: EnsembleOptions = {}): Verdict {
  const method = options.method ?? 'rank';
  check(method === 'rank' || method === 'normalized', `${ENSEMBLE}: method must be 'rank' or 'normalized', got '${method}'`);
  check(Array.isArray(verdicts) && verdicts.length > 0, `${ENSEMBLE}: at least one verdict is needed`);
  verdicts.forEach((v, i) => check(v && Array.isArray(v.scores) && v.scores.length === 2 && (v.faker === 0 || v.faker === 1 || v.faker === null),
    `${ENSEMBLE}: verdicts[${i}] is not a verdict`));
  const parts = verdicts.map((v): [number, number] => {
    if (method === 'rank') return v.faker === null ? [0.5, 0.5] : v.faker === 0 ? [1, 0] : [0, 1];
    const [a, b] = v.scores;
    const scale = Math.abs(a) + Math.abs(b);
    return Number.isFinite(a) && Number.isFinite(b) && scale > 0 ? [a / scale, b / scale] : [0, 0];
  });
  const scores: [number, number] = [0, 1].map((m) => mean(parts.map((p) => p[m]))) as [number, number];
  return decide(ENSEMBLE, scores, {
    method,
    strategies: verdicts.map((v, k) => ({ strategy: v.strategy, faker: v.faker, contribution: parts[k] })),
  });
}
