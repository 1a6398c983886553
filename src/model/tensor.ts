import ndarray, { type NdArray } from 'ndarray';
import type { RawTensor } from '../native/binding.js';

/** A float32 ndarray: what activations, logits and parameters come back as. */
export type Float32NdArray = NdArray<Float32Array>;

/** An ndarray view over a tensor that came back from native code (no copy). */
export function view(raw: RawTensor, shape: number[] = raw.shape): Float32NdArray {
  const data = raw.data instanceof Float32Array ? raw.data : Float32Array.from(raw.data);
  return ndarray(data, shape);
}

/** Row `i` of a 2-D ndarray as a Float32Array view (no copy when contiguous). */
export function row(a: Float32NdArray, i: number): Float32Array {
  const width = a.shape[1];
  if (a.stride[1] === 1 && a.stride[0] === width) return a.data.subarray(a.offset + i * width, a.offset + (i + 1) * width);
  const out = new Float32Array(width);
  for (let j = 0; j < width; j++) out[j] = a.get(i, j);
  return out;
}
