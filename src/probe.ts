import { PoserError, check } from './errors.js';
import { binding } from './native/binding.js';

/** Rows of features: an array of vectors, or flat data with its shape. */
export type FeatureMatrix = ArrayLike<number>[] | { data: Float32Array | Float64Array; shape: [number, number] | number[] };

/** Options of {@link fitLogisticProbe} (scikit-learn's names and defaults). */
export interface LogisticOptions {
  /** Inverse L2 strength, as scikit-learn's C (default 1). */
  C?: number;
  fitIntercept?: boolean;
  /** Newton steps at most (default 100). */
  maxIter?: number;
  /** Relative gradient tolerance (default 1e-8). */
  tol?: number;
}

/** A fitted L2 logistic-regression probe (objective 0.5|w|^2 + C sum logloss, intercept unpenalised). */
export interface LogisticProbe {
  coef: Float64Array;
  intercept: number;
  iterations: number;
  converged: boolean;
  /** P(y = 1) for each row. */
  predictProba(x: FeatureMatrix): number[];
  /** 1 where x.coef + intercept > 0 (scikit-learn's rule). */
  predict(x: FeatureMatrix): number[];
  /** Fraction of rows predicted correctly. */
  accuracy(x: FeatureMatrix, y: ArrayLike<number>): number;
}

function flatten(x: FeatureMatrix, what: string): { data: Float64Array; n: number; d: number } {
  if (Array.isArray(x)) {
    check(x.length > 0, `${what}: no rows`);
    const d = x[0].length;
    check(d > 0, `${what}: rows are empty`);
    const data = new Float64Array(x.length * d);
    x.forEach((row, i) => {
      check(row.length === d, `${what}: row ${i} has ${row.length} features, row 0 has ${d}`);
      for (let j = 0; j < d; j++) data[i * d + j] = row[j];
    });
    return { data, n: x.length, d };
  }
  const m = x as { data: Float32Array | Float64Array; shape: number[] };
  check(m.shape.length === 2 && m.shape[0] * m.shape[1] === m.data.length, `${what}: shape ${JSON.stringify(m.shape)} does not match ${m.data.length} values`);
  return { data: Float64Array.from(m.data), n: m.shape[0], d: m.shape[1] };
}

/** Fits a logistic-regression probe natively (Newton's method in float64). */
export async function fitLogisticProbe(x: FeatureMatrix, y: ArrayLike<number>, options: LogisticOptions = {}): Promise<LogisticProbe> {
  const { data, n, d } = flatten(x, 'fitLogisticProbe');
  check(y.length === n, `fitLogisticProbe: ${y.length} labels for ${n} rows`);
  const labels = Int32Array.from(y as ArrayLike<number>, (v, i) => {
    check(v === 0 || v === 1, `fitLogisticProbe: label ${i} is ${v}, expected 0 or 1`);
    return v;
  });
  const C = options.C ?? 1;
  check(Number.isFinite(C) && C > 0, `fitLogisticProbe: C must be a finite number > 0, got ${C}`);
  let raw;
  try {
    raw = await binding().fitLogistic(data, n, d, labels, { C, fitIntercept: options.fitIntercept ?? true, maxIter: options.maxIter ?? 100, tol: options.tol ?? 1e-8 });
  } catch (error) {
    throw PoserError.fromNative(error);
  }
  const coef = Float64Array.from(raw.coef.data);
  const intercept = raw.intercept;
  const scores = (m: FeatureMatrix) => {
    const f = flatten(m, 'probe input');
    check(f.d === d, `probe input has ${f.d} features, the probe has ${d}`);
    return Array.from({ length: f.n }, (_, i) => {
      let s = intercept;
      for (let j = 0; j < d; j++) s += f.data[i * d + j] * coef[j];
      return s;
    });
  };
  const predict = (m: FeatureMatrix) => scores(m).map((s) => (s > 0 ? 1 : 0));
  return {
    coef,
    intercept,
    iterations: raw.iterations,
    converged: raw.converged,
    predictProba: (m) => scores(m).map((s) => 1 / (1 + Math.exp(-s))),
    predict,
    accuracy: (m, labelsOf) => {
      const p = predict(m);
      check(labelsOf.length === p.length, `accuracy: ${labelsOf.length} labels for ${p.length} rows`);
      return p.filter((v, i) => v === labelsOf[i]).length / p.length;
    },
  };
}
