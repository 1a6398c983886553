/**
 * How hard strategies 1 and 2 push a model: `own` scales the push to the
 * model's own contrast-vector norm (the paper), `common` pushes both models of
 * a pair with the same norm, the mean of their two vector norms.
 *
 * A measurement depends on one model only, but the common norm depends on the
 * pair. So a `common` measurement records the response at the coefficients and
 * at a geometric grid of push multipliers (in units of the model's own norm)
 * covering c·ρ for every coefficient c and ρ from 1/2 to `maxRatio`; comparing
 * two such measurements reads each model's response at c·ρ_i with
 * ρ_i = (n0 + n1) / (2 n_i) by linear interpolation in the multiplier. The
 * coefficients themselves are on the grid, so models with equal norms are
 * read exactly. A partner whose norm exceeds (2 maxRatio - 1) times the
 * model's own lies outside the grid and the pair is undecided.
 */
import { check } from '../errors.js';
import { interpolate } from './primitives/stats.js';
import type { Measurement, Verdict } from './types.js';
import { checkSame, comparable, decide, type SharedSetting } from './verdict.js';

/** How a push is scaled: relative to each model's own vector norm, or to a norm common to both models. */
export type Normalization = 'own' | 'common';

/** How strategies 1 and 2 scale their push. */
export interface PushOptions {
  /** `own` (default, the paper's): each model is pushed relative to its own vector norm. `common`: both with the mean of the two norms. */
  normalization?: Normalization;
  /** `common` only: largest ratio of the common norm to a model's own that the measurement covers (default 4). */
  maxRatio?: number;
  /** `common` only: grid points per doubling of the push (default 8). */
  ratioSteps?: number;
}

/**
 * The geometric grid of push multipliers a `common` measurement adds: from
 * half the smallest |coefficient| to maxRatio times the largest, `steps`
 * points per doubling (so every c·ρ with ρ in [1/2, maxRatio] lies inside it).
 */
export function pushGrid(coefficients: readonly number[], maxRatio = 4, steps = 8): number[] {
  check(Number.isFinite(maxRatio) && maxRatio >= 1, `push: maxRatio must be >= 1, got ${maxRatio}`);
  check(Number.isInteger(steps) && steps >= 1, `push: ratioSteps must be a positive integer, got ${steps}`);
  const mags = coefficients.map(Math.abs).filter((c) => c > 0);
  if (mags.length === 0) return [];
  const [lo, hi] = [Math.min(...mags) / 2, Math.max(...mags) * maxRatio];
  const out: number[] = [];
  for (let k = 0; lo * 2 ** (k / steps) <= hi * (1 + 1e-12); k++) out.push(lo * 2 ** (k / steps));
  if (out[out.length - 1] < hi) out.push(hi);
  return out;
}

/** Checks a `normalization` option (default `own`); the error names the strategy. */
export function checkNormalization(n: unknown, strategy: string): Normalization {
  const v = n ?? 'own';
  check(v === 'own' || v === 'common', `${strategy}: normalization must be 'own' or 'common', got '${String(n)}'`);
  return v as Normalization;
}

/** The push multipliers (units of the model's own norm) a measurement needs, ascending and distinct. */
export function pushMultipliers(coefficients: readonly number[], o: PushOptions): number[] {
  const set = new Set(coefficients);
  if (checkNormalization(o.normalization, 'push') === 'common') {
    const grid = pushGrid(coefficients, o.maxRatio, o.ratioSteps);
    for (const g of grid) set.add(g);
    if (coefficients.some((c) => c < 0)) for (const g of grid) set.add(-g);
  }
  return [...set].sort((a, b) => a - b);
}

/** A model's response read at the coefficients: exactly (`own`), or at c·ρ with ρ = common norm / own norm (`common`). */
export function responseAt(
  coefficients: readonly number[],
  multipliers: readonly number[],
  values: readonly number[],
  ratio: number,
): number[] {
  return coefficients.map((c) => interpolate(multipliers, values, c * ratio));
}

/** What a push measurement of strategy 1 or 2 records for {@link comparePush}. */
export interface PushRecord extends Record<string, unknown> {
  coefficients: number[];
  /** How it was measured: only a `common` measurement can be read at a common norm. */
  normalization: Normalization;
  /** The push multipliers measured, in units of the model's own norm, ascending. */
  multipliers: number[];
}

/** How {@link comparePush} reads one strategy's push measurements. */
export interface PushComparison<E extends PushRecord> {
  /** Settings both measurements must share (see {@link comparable}). */
  same: readonly SharedSetting<E>[];
  /** The model's own unit of push (its contrast-vector norm, or an absolute norm). */
  norm: (e: E) => number;
  /** The model's score pushed relative to its own norm, as measured. */
  ownScore: (e: E) => number;
  /** The response per multiplier that is read again at the common norm. */
  response: (e: E) => number[];
  /** A score from a response read at the coefficients. */
  score: (coefficients: readonly number[], response: readonly number[]) => number;
  /** The evidence key of the two responses read at the common norm. */
  commonKey: string;
  /** Evidence recorded with either normalization, after `normalization`. */
  evidence: (a: E, b: E) => Record<string, unknown>;
}

/**
 * The verdict of strategy 1 or 2 on two push measurements. `own`: each
 * model's score at its own norm. `common`: both models pushed with the mean of
 * their two norms, each response read at c·ρ (ρ = common norm / own norm, see
 * {@link responseAt}) and scored again; both measurements must be `common`.
 */
export function comparePush<E extends PushRecord>(
  strategy: string,
  measurements: readonly [Measurement<E>, Measurement<E>],
  options: PushOptions,
  how: PushComparison<E>,
): Verdict {
  const normalization = checkNormalization(options.normalization, strategy);
  const [a, b] = comparable(strategy, measurements, how.same);
  const base = { normalization, ...how.evidence(a, b) };
  if (normalization === 'own') return decide(strategy, [how.ownScore(a), how.ownScore(b)], { ...base, pushNorms: [how.norm(a), how.norm(b)], models: [a, b] });
  for (const [i, e] of [a, b].entries())
    if (e.normalization !== 'common') checkSame(strategy, `normalization of measurement ${i} (measure with normalization 'common')`, e.normalization, 'common');
  const common = (how.norm(a) + how.norm(b)) / 2;
  const curves = [a, b].map((e) => responseAt(e.coefficients, e.multipliers, how.response(e), common / how.norm(e)));
  const scores = curves.map((c) => how.score(a.coefficients, c)) as [number, number];
  return decide(strategy, scores, {
    ...base,
    pushNorms: [common, common],
    // The response per coefficient at the common push norm; null where it lies outside a measurement's grid.
    [how.commonKey]: curves.map((c) => c.map((x) => (Number.isFinite(x) ? x : null))),
    models: [a, b],
  });
}
