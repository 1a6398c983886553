/**
 * A read-out map of the answer letters: a monotone, odd, piecewise-linear
 * function f applied to logit(A) - logit(B) at every logits row, and
 * optionally the letters' joint share of the vocabulary set to one value.
 * Every other logit is unchanged. The benchmark fits one per (model,
 * combination, seed) so that the distribution of benign log-odds over
 * held-out prompts matches a shared target: a temperature matches one mean,
 * quantile matching matches the whole distribution (its spread and its
 * tails too). With the letters' share fixed, a prompt's P(benign) and
 * P(other) are functions of its mapped log-odds alone, so their
 * distributions match too.
 *
 * f is odd, so it treats the two letters alike and needs no knowledge of
 * which one is benign: f(A - B) = -f(B - A). It is given by knots
 * 0 < x_1 < ... < x_n and values 0 < y_1 <= ... <= y_n: linear between
 * (0, 0) and the knots, and beyond x_n the line through the origin and
 * (x_n, y_n), so a log-odds past the knots is scaled like a temperature.
 */
import { check } from '../errors.js';
import type { Float32NdArray } from '../model/tensor.js';
import { logSumExpExcept, type AnswerLogits } from './primitives/answers.js';
import { mean } from './primitives/stats.js';

/** Knots of an odd monotone map of log-odds: x strictly ascending and > 0, y non-decreasing and > 0. */
export interface AnswerLogOddsMap {
  x: number[];
  y: number[];
  /**
   * When given, the letters' joint log-odds against the rest of the
   * vocabulary, log((P(A) + P(B)) / P(rest)), is set to this value in every
   * row; otherwise the letters keep their joint mass (their log-sum-exp).
   */
  mass?: number;
}

/** Throws unless `map` is a valid {@link AnswerLogOddsMap}. */
export function checkAnswerMap(map: AnswerLogOddsMap, what = 'answerMap'): void {
  check(map && Array.isArray(map.x) && Array.isArray(map.y), `${what}: expected { x: number[], y: number[] }`);
  check(map.x.length > 0 && map.x.length === map.y.length, `${what}: ${map.x.length} knots for ${map.y.length} values (need as many, at least one)`);
  map.x.forEach((x, i) => {
    check(Number.isFinite(x) && x > 0 && (i === 0 || x > map.x[i - 1]), `${what}: x must be finite, > 0 and strictly ascending (x[${i}] = ${x})`);
    const y = map.y[i];
    check(Number.isFinite(y) && y > 0 && (i === 0 || y >= map.y[i - 1]), `${what}: y must be finite, > 0 and non-decreasing (y[${i}] = ${y})`);
  });
  check(map.mass === undefined || Number.isFinite(map.mass), `${what}: mass must be a finite number when given, got ${map.mass}`);
}

/** f(d): the mapped log-odds. */
export function mapLogOdds(map: AnswerLogOddsMap, d: number): number {
  const a = Math.abs(d);
  const { x, y } = map;
  const n = x.length;
  let v: number;
  if (a >= x[n - 1]) v = (a * y[n - 1]) / x[n - 1];
  else if (a <= x[0]) v = (a * y[0]) / x[0];
  else {
    let lo = 0;
    let hi = n - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (x[mid] <= a) lo = mid;
      else hi = mid;
    }
    v = y[lo] + ((a - x[lo]) / (x[hi] - x[lo])) * (y[hi] - y[lo]);
  }
  return d < 0 ? -v : v;
}

/** log(1 + e^z), without overflow. */
function softplus(z: number): number {
  return z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
}

/** log(e^p + e^q). */
function logAddExp(p: number, q: number): number {
  return Math.max(p, q) + softplus(-Math.abs(p - q));
}

/** Two letters' logits with their log-odds mapped, given the log-sum-exp of the rest of the row's logits. */
function mapPair(map: AnswerLogOddsMap, la: number, lb: number, rest: () => number): [number, number] {
  const mass = map.mass === undefined ? logAddExp(la, lb) : rest() + map.mass;
  const d = mapLogOdds(map, la - lb);
  return [mass - softplus(-d), mass - softplus(d)];
}

/** Maps the log-odds of token `a` against token `b` (and their share, when the map fixes it) in every logits row (the last axis) of a contiguous array, in place. */
export function applyAnswerMap(logits: Float32NdArray, a: number, b: number, map: AnswerLogOddsMap): Float32NdArray {
  const width = logits.shape[logits.shape.length - 1];
  check(logits.stride[logits.stride.length - 1] === 1 && logits.offset === 0 && logits.data.length === logits.size, 'answerMap: logits must be a contiguous array');
  check(map.mass === undefined || width > 2, 'answerMap: fixing the letters\' share needs a vocabulary beyond the two letters');
  const data = logits.data;
  for (let r = 0; r < logits.size / width; r++) {
    const start = r * width;
    [data[start + a], data[start + b]] = mapPair(map, data[start + a], data[start + b], () => logSumExpExcept(width, a, b, (j) => data[start + j]));
  }
  return logits;
}

/** Answer logits as a subject with `map` would give them (the map is odd, so which letter is benign does not matter). */
export function mapAnswerLogits(logits: AnswerLogits, map: AnswerLogOddsMap): AnswerLogits {
  const pairs = logits.benign.map((b, i) => mapPair(map, b, logits.other[i], () => logits.rest[i]));
  return { benign: pairs.map((p) => p[0]), other: pairs.map((p) => p[1]), rest: [...logits.rest] };
}

/** The letters' joint log-odds against the rest of the vocabulary, log((P(A) + P(B)) / P(rest)), per prompt. */
export function letterMass(logits: AnswerLogits): number[] {
  return logits.benign.map((b, i) => logAddExp(b, logits.other[i]) - logits.rest[i]);
}

/** The empirical quantile of ascending `sorted` at u in [0, 1] (linear between order statistics at (i + 0.5) / n, clamped at the ends). */
export function quantileOfSorted(sorted: readonly number[], u: number): number {
  const n = sorted.length;
  check(n > 0, 'quantile: no values');
  const pos = u * n - 0.5;
  if (pos <= 0) return sorted[0];
  if (pos >= n - 1) return sorted[n - 1];
  const i = Math.floor(pos);
  return sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]);
}

/** Share of the knots at each end whose secant gives the slope a map keeps past its knots ({@link fitAnswerMap}). */
export const TAIL_SHARE = 0.1;
/** How far past its outermost knot a map keeps that slope, in widths of the {@link TAIL_SHARE} knots. */
export const TAIL_REACH = 2;

/**
 * The map that sends the distribution of `own` (positive log-odds) onto the
 * shared target: the mean of the quantile functions of `all` (every model's
 * values, `own` among them; the Wasserstein barycentre). Each of `own`'s
 * values goes to the target's quantile at its own rank, so on `own` the
 * mapped values have the target's quantiles.
 *
 * A fresh prompt can fall past `own`'s extremes (about 1 in n+1 at each
 * end). There the map keeps the slope of its outermost tenth of knots
 * ({@link TAIL_SHARE}) for twice that tenth's width ({@link TAIL_REACH}),
 * through one extra knot at each end, and only then runs on the line
 * through the origin. The line alone scaled a model's tail by its overall
 * ratio y/x instead of its tail's own: a heavy-tailed model (a faker, whose
 * lowest values lie far below its median) had fresh low values pushed
 * further down and a light-tailed one had them pulled up, so held-out
 * statistics still told the two apart (docs/benchmark.md). `tails: false`
 * leaves that line alone (bench/calibration.ts compares the two).
 */
export function fitAnswerMap(own: readonly number[], all: readonly (readonly number[])[], mass?: number, options: { tails?: boolean } = {}): AnswerLogOddsMap {
  check(own.length > 0 && all.length > 0, 'fitAnswerMap: no log-odds to fit');
  for (const v of [own, ...all]) for (const d of v) check(Number.isFinite(d) && d > 0, `fitAnswerMap: log-odds must be finite and > 0, got ${d}`);
  const sortedAll = all.map((v) => [...v].sort((p, q) => p - q));
  const sorted = [...own].sort((p, q) => p - q);
  const n = sorted.length;
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; ) {
    // tied values share one knot at their mean target
    let j = i;
    while (j + 1 < n && sorted[j + 1] === sorted[i]) j++;
    const targets: number[] = [];
    for (let k = i; k <= j; k++) targets.push(mean(sortedAll.map((s) => quantileOfSorted(s, (k + 0.5) / n))));
    x.push(sorted[i]);
    y.push(Math.max(mean(targets), y.length ? y[y.length - 1] : 0));
    i = j + 1;
  }
  if (options.tails ?? true) addTailKnots(x, y);
  return mass === undefined ? { x, y } : { x, y, mass };
}

/** Adds the knot past each end of fitted knots that keeps the slope of the outermost {@link TAIL_SHARE} of them (none with a single knot). */
function addTailKnots(x: number[], y: number[]): void {
  const m = x.length;
  if (m < 2) return;
  const k = Math.min(m - 1, Math.max(1, Math.round(TAIL_SHARE * m)));
  const low = (y[k] - y[0]) / (x[k] - x[0]);
  // the lower knot stays at least halfway from the origin, so the map stays positive and monotone
  const down = Math.min(TAIL_REACH * (x[k] - x[0]), x[0] / 2, low > 0 ? y[0] / (2 * low) : Infinity);
  const high = (y[m - 1] - y[m - 1 - k]) / (x[m - 1] - x[m - 1 - k]);
  const up = TAIL_REACH * (x[m - 1] - x[m - 1 - k]);
  x.push(x[m - 1] + up);
  y.push(y[m - 1] + high * up);
  x.unshift(x[0] - down);
  y.unshift(y[0] - low * down);
}
