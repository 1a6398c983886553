import { PoserError, check } from '../errors.js';
import type { RawOp } from '../native/binding.js';
import { absolutePositions, type EncodedBatch } from './batch.js';
import { parseHook, type ParsedHook } from './hooks.js';

/**
 * Which positions an intervention touches in each row: the last token, every
 * position (padding included), or explicit indices relative to the row's real
 * tokens (0 = first real token, -1 = last).
 */
export type Positions = 'last' | 'all' | number[];

/** A vector of the model's hidden size. */
export type Vector = Float32Array | ArrayLike<number>;

/** The random vector of a `noise` intervention. */
export interface NoiseOptions {
  /** Gaussian N(0, 1) (default) or uniform. */
  distribution?: 'gaussian' | 'uniform';
  /** Uniform noise on [-0.5, 0.5) instead of [0, 1) (default true). */
  zeroMean?: boolean;
  /** The draw depends on the seed alone: same seed, same noise, any batch or device. */
  seed: number;
  /** Rescale the draw to this L2 norm before `scale` multiplies it. */
  norm?: number;
}

interface Base {
  /**
   * A hook point name, e.g. `blocks.3.hook_resid_post`. Vectors are as wide as
   * the hook holds per position: hidden size; heads x head_dim at
   * `attn.hook_z`; intermediate size at `mlp.hook_post`; heads x key length
   * at `attn.hook_pattern` (a query position's row of every head).
   */
  hook: string;
  positions?: Positions;
}

/**
 * An intervention is data: the native forward applies it at the hook's call
 * site, in the order given. No JavaScript runs inside a forward pass.
 */
export type Intervention =
  | (Base & { op: 'capture'; /** key of the result (default: the hook name) */ name?: string })
  | (Base & { op: 'add'; /** [D], or one [D] vector per row */ value: Vector | Vector[]; scale?: number })
  | (Base & { op: 'set'; value: Vector | Vector[] })
  | (Base & { op: 'scale'; scale: number })
  | (Base & { op: 'noise'; noise: NoiseOptions; scale?: number })
  | (Base & { op: 'project_out'; /** direction(s) to remove; normalised */ value: Vector | Vector[] });

export const OPS = ['capture', 'add', 'set', 'scale', 'noise', 'project_out'] as const;

function finite(x: number, what: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new PoserError('E_ARG', `${what} must be a finite number, got ${x}`);
  return x;
}

/** The sizes that fix each hook's vector width. */
export interface HookDims {
  numLayers: number;
  hidden: number;
  numHeads: number;
  headDim: number;
  intermediate: number;
}

/** Width of one position's vector at a hook, for keys of length `keyLength`. */
export function hookWidth(hook: ParsedHook, dims: HookDims, keyLength: number): number {
  switch (hook.shape) {
    case 'heads':
      return dims.numHeads * dims.headDim;
    case 'mlp':
      return dims.intermediate;
    case 'pattern':
      return dims.numHeads * keyLength;
    default:
      return dims.hidden;
  }
}

function vectorValue(value: Vector | Vector[], width: number, rows: number, what: string, widthName: string): { data: Float32Array; rows: number } {
  const isRows = Array.isArray(value) && value.length > 0 && typeof value[0] !== 'number';
  const list = (isRows ? (value as Vector[]) : [value as Vector]);
  if (isRows) check(list.length === rows, `${what}: ${list.length} vectors given for ${rows} rows`);
  const data = new Float32Array(list.length * width);
  list.forEach((v, r) => {
    const u = v as unknown;
    const isVector = Array.isArray(u) || (ArrayBuffer.isView(u) && !(u instanceof DataView));
    check(isVector, `${what}: value must be an array or typed array of numbers, got ${typeof u === 'string' ? `the string ${JSON.stringify(u.length > 20 ? `${u.slice(0, 20)}…` : u)}` : u === null ? 'null' : typeof u}`);
    check(v.length === width, `${what}: vector of width ${v.length}, but ${widthName}`);
    for (let i = 0; i < width; i++) data[r * width + i] = finite(v[i], `${what}: value[${i}]`);
  });
  return { data, rows: isRows ? rows : 0 };
}

/** Validates interventions and lowers them to the addon's flat form (hooks as ordinals). */
export function lowerInterventions(
  interventions: readonly Intervention[],
  batch: EncodedBatch,
  dims: HookDims,
  keyLength = batch.length,
): RawOp[] {
  return interventions.map((iv, i) => {
    const what = `interventions[${i}] (${iv?.op} at ${iv?.hook})`;
    check(iv && typeof iv === 'object', `interventions[${i}] must be an object`);
    check((OPS as readonly string[]).includes(iv.op), `interventions[${i}]: unknown op '${iv.op}' (expected ${OPS.join(', ')})`);
    const hook = parseHook(iv.hook, dims.numLayers);
    const width = hookWidth(hook, dims, keyLength);
    const positions = iv.positions ?? 'last';
    const raw: RawOp = { ordinal: hook.ordinal, width, op: iv.op, all: positions === 'all' };
    if (positions === 'last') {
      raw.index = new Int32Array(batch.batch).fill(batch.length - 1);
      raw.k = 1;
    } else if (Array.isArray(positions)) {
      raw.index = absolutePositions(batch, positions);
      raw.k = positions.length;
    } else {
      check(positions === 'all', `${what}: positions must be 'last', 'all' or an array of indices`);
    }
    switch (iv.op) {
      case 'capture':
        break;
      case 'add':
      case 'set':
      case 'project_out': {
        check(iv.value !== undefined, `${what}: a value is required`);
        const widthName = hook.shape === 'hidden' ? `the model's hidden size is ${width}` : `this hook holds ${width} values per position`;
        const v = vectorValue(iv.value, width, batch.batch, what, widthName);
        raw.value = v.data;
        raw.valueRows = v.rows;
        if (iv.op === 'add') raw.scale = finite(iv.scale ?? 1, `${what}: scale`);
        break;
      }
      case 'scale':
        raw.scale = finite(iv.scale, `${what}: scale`);
        break;
      case 'noise': {
        const n = iv.noise;
        check(n && Number.isInteger(n.seed) && n.seed >= 0, `${what}: noise.seed must be a non-negative integer`);
        check(n.distribution === undefined || n.distribution === 'gaussian' || n.distribution === 'uniform',
          `${what}: noise.distribution must be 'gaussian' or 'uniform'`);
        if (n.norm !== undefined) check(finite(n.norm, `${what}: noise.norm`) > 0, `${what}: noise.norm must be > 0`);
        raw.noise = { distribution: n.distribution ?? 'gaussian', zeroMean: n.zeroMean ?? true, seed: n.seed, norm: n.norm ?? -1 };
        raw.scale = finite(iv.scale ?? 1, `${what}: scale`);
        break;
      }
    }
    return raw;
  });
}

/** The key a capture's result is returned under. */
export function captureKey(iv: Intervention): string {
  return iv.op === 'capture' && iv.name ? iv.name : iv.hook;
}
