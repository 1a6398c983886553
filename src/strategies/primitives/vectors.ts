/** Vector arithmetic on plain and typed arrays (sums accumulate in float64). */
import { check } from '../../errors.js';

/** a - b, elementwise. */
export function subtract(a: ArrayLike<number>, b: ArrayLike<number>): Float32Array {
  check(a.length === b.length, `subtract: lengths ${a.length} and ${b.length} differ`);
  return Float32Array.from({ length: a.length }, (_, i) => a[i] - b[i]);
}

/** Dot product (float64). */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  check(a.length === b.length, `dot: lengths ${a.length} and ${b.length} differ`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Euclidean norm. */
export function l2Norm(v: ArrayLike<number>): number {
  return Math.sqrt(dot(v, v));
}

/** Cosine similarity; 0 when either vector is zero. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = l2Norm(a) * l2Norm(b);
  return n === 0 ? 0 : dot(a, b) / n;
}

/** Plain numbers from a typed array, for JSON evidence. */
export function toList(v: ArrayLike<number>): number[] {
  return Array.from(v);
}
