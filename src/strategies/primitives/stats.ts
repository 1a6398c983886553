/** Summary numbers: means, medians, spread, the mean of a curve, interpolation. */
import { check } from '../../errors.js';

/** Arithmetic mean (NaN for an empty list). */
export function mean(xs: ArrayLike<number>): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

/** Median (the mean of the two middle values for an even count; NaN for an empty list). */
export function median(xs: ArrayLike<number>): number {
  if (xs.length === 0) return NaN;
  const sorted = Array.from(xs).sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Population standard deviation. */
export function std(xs: ArrayLike<number>): number {
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i] - m) ** 2;
  return Math.sqrt(s / xs.length);
}

/**
 * The mean of a curve over its x range: trapezoidal area divided by
 * (max x - min x). With a single point, that point's value.
 */
export function curveMean(xs: readonly number[], ys: readonly number[]): number {
  check(xs.length === ys.length && xs.length > 0, `curveMean: ${xs.length} x values for ${ys.length} y values`);
  if (xs.length === 1) return ys[0];
  const order = xs.map((_, i) => i).sort((i, j) => xs[i] - xs[j]);
  let area = 0;
  for (let k = 1; k < order.length; k++) {
    const [i, j] = [order[k - 1], order[k]];
    area += ((xs[j] - xs[i]) * (ys[i] + ys[j])) / 2;
  }
  const range = xs[order[order.length - 1]] - xs[order[0]];
  return range === 0 ? mean(ys) : area / range;
}

/**
 * Linear interpolation of y(x) at `at`, with `xs` ascending. NaN outside
 * [xs[0], xs[last]] (no extrapolation); exact at the given points.
 */
export function interpolate(xs: readonly number[], ys: readonly number[], at: number): number {
  check(xs.length === ys.length && xs.length > 0, `interpolate: ${xs.length} x values for ${ys.length} y values`);
  for (let i = 1; i < xs.length; i++) check(xs[i] > xs[i - 1], 'interpolate: x values must be strictly ascending');
  if (!(at >= xs[0] && at <= xs[xs.length - 1])) return NaN;
  let k = 0;
  while (k < xs.length - 1 && xs[k + 1] < at) k++;
  if (xs[k] === at || k === xs.length - 1) return ys[k];
  if (xs[k + 1] === at) return ys[k + 1];
  return ys[k] + ((at - xs[k]) / (xs[k + 1] - xs[k])) * (ys[k + 1] - ys[k]);
}
