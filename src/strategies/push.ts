/**
 * How hard strategies 1 and 2 push a model: `own` scales the push to the
 * model's own contrast-vector norm (the paper), `common` pushes both models of
 * a pair with the same norm, the mean of their two vector norms.
 *
 * A measurement depends on one model only, but the common norm depends on the
 * pair. So a `common` measurement records the response at push multipliers
 * c·ρ (in units of the model's own norm) for every coefficient c and a
 * geometric grid of ratios ρ from 1/2 to `maxRatio`; comparing two such
 * measurements reads each model's response at ρ = (n0 + n1) / (2 n_i) by
 * linear interpolation in the multiplier. ρ = 1 is on the grid, so models with
 * equal norms are read exactly. A partner whose norm exceeds (2 maxRatio - 1)
 * times the model's own lies outside the grid and the pair is undecided.
 */
import { check } from '../errors.js';
import { interpolate } from './primitives.js';

export type Normalization = 'own' | 'common';

export interface PushOptions {
  /** `own` (default, the paper's): each model is pushed relative to its own vector norm. `common`: both with the mean of the two norms. */
  normalization?: Normalization;
  /** `common` only: largest ratio of the common norm to a model's own that the measurement covers (default 4). */
  maxRatio?: number;
  /** `common` only: grid ratios per doubling (default 4). */
  ratioSteps?: number;
}

/** Ratios ρ = 2^(k / steps) / 2 from 1/2 up to maxRatio (1 included). */
export function pushRatios(maxRatio = 4, steps = 4): number[] {
  check(Number.isFinite(maxRatio) && maxRatio >= 1, `push: maxRatio must be >= 1, got ${maxRatio}`);
  check(Number.isInteger(steps) && steps >= 1, `push: ratioSteps must be a positive integer, got ${steps}`);
  const out: number[] = [];
  for (let k = 0; 2 ** (k / steps) / 2 <= maxRatio * (1 + 1e-12); k++) out.push(2 ** (k / steps) / 2);
  return out;
}

export function checkNormalization(n: unknown, strategy: string): Normalization {
  const v = n ?? 'own';
  check(v === 'own' || v === 'common', `${strategy}: normalization must be 'own' or 'common', got '${String(n)}'`);
  return v as Normalization;
}

/** The push multipliers (units of the model's own norm) a measurement needs, ascending and distinct. */
export function pushMultipliers(coefficients: readonly number[], o: PushOptions): number[] {
  const set = new Set(coefficients);
  if (checkNormalization(o.normalization, 'push') === 'common')
    for (const c of coefficients) for (const r of pushRatios(o.maxRatio, o.ratioSteps)) set.add(c * r);
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
