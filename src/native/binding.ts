// Loads the compiled addon: cmake-js writes build-cmake/Release/poser_native.node,
// node-gyp build/Release/poser_native.node (the newer one wins).
import { createRequire } from 'node:module';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PoserError } from '../errors.js';
import { selectOpenblasCoretype } from './blas.js';

/** A tensor as it crosses from native code: flat data and its shape. */
export interface RawTensor {
  data: Float32Array | Float64Array;
  shape: number[];
}

export interface RawForwardResult {
  logits?: RawTensor;
  captures: (RawTensor | null)[];
}

export interface RawOp {
  /** The hook's position in call order (src/model/hooks.ts). */
  ordinal: number;
  /** Values per position at the hook (the width of `value`'s vectors). */
  width: number;
  op: string;
  all: boolean;
  index?: Int32Array;
  k?: number;
  value?: Float32Array;
  valueRows?: number;
  scale?: number;
  noise?: { distribution: string; zeroMean: boolean; seed: number; norm: number };
}

export interface RawBatch {
  ids: Int32Array;
  mask: Uint8Array;
  batch: number;
  length: number;
}

export interface RawLoss {
  kind: 'answer' | 'lm';
  targets?: Int32Array;
  lossMask?: Uint8Array;
}

export interface NativeModel {
  forward(req: RawBatch & { logits?: { mode: string; index?: Int32Array; k?: number }; ops?: RawOp[] }): Promise<RawForwardResult>;
  sweep(req: RawBatch & { settings: RawOp[][] }): Promise<RawForwardResult[]>;
  generate(
    req: RawBatch & { promptOps: RawOp[]; stepOps: RawOp[]; maxNewTokens: number; temperature: number; topK: number; seed: number; stop: Int32Array[] },
  ): Promise<{ tokens: Int32Array; width: number; lengths: number[]; stopped: boolean[] }>;
  /** Trains exactly the named parameters (and the adapters when asked). */
  setTrainable(names: string[], adapters: boolean): Promise<string[]>;
  addLora(modules: string[], rank: number, alpha: number, seed: number): Promise<void>;
  addMlpAdapter(layer: number, rank: number, alpha: number, seed: number): Promise<void>;
  removeAdapters(): Promise<void>;
  configureOptimizer(spec: Record<string, unknown>): Promise<void>;
  setLearningRate(lr: number): Promise<void>;
  trainStep(req: RawBatch & { loss: RawLoss; ops?: RawOp[]; maxGradNorm?: number }): Promise<{ loss: number; gradNorm: number }>;
  backward(req: RawBatch & { loss: RawLoss; ops?: RawOp[] }): Promise<number>;
  zeroGrad(): Promise<void>;
  evaluateLoss(req: RawBatch & { loss: RawLoss; ops?: RawOp[] }): Promise<number>;
  getParameter(name: string): Promise<RawTensor>;
  getGrad(name: string): Promise<RawTensor>;
  setParameter(name: string, value: Float32Array, shape: number[]): Promise<void>;
  save(path: string, content: 'merged' | 'base' | 'adapters', metadata: Record<string, string>): Promise<void>;
  parameterNames(): Promise<{ parameters: string[]; adapters: string[] }>;
  dispose(): void;
}

export interface NativeBinding {
  /** `dir` is a model directory, or a .gguf file when `format` is 'gguf'; the device arrives parsed (src/device.ts). */
  loadModel(
    dir: string,
    config: Record<string, unknown>,
    options: { deviceType: 'cpu' | 'cuda'; deviceIndex: number; dtype: string; mmap?: boolean; format?: 'safetensors' | 'gguf' },
  ): Promise<NativeModel>;
  readGguf(path: string, options: { arrays?: boolean | string[] }): Promise<unknown>;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  exchangePaths(a: string, b: string): void;
  lockPath(path: string): number;
  unlockPath(fd: number, path: string): void;
  buildInfo(): {
    torchVersion: string;
    cudaAvailable: boolean;
    cudaDeviceCount: number;
    cxx11Abi?: boolean;
    parallelInfo: string;
    /** Whether freed memory stays in the process (glibc only; POSER_KEEP_FREED_MEMORY=0 turns it off). */
    keepsFreedMemory: boolean;
  };
  fitLogistic(
    x: Float32Array | Float64Array,
    n: number,
    d: number,
    y: Int32Array,
    options: { C: number; maxIter: number; tol: number; fitIntercept: boolean },
  ): Promise<{ coef: RawTensor; intercept: number; iterations: number; converged: boolean }>;
}

let cached: NativeBinding | undefined;

/** The package root (two levels above this file in both src/ and dist/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return dir;
}

/** The native addon, loaded once. */
export function binding(): NativeBinding {
  if (cached) return cached;
  const root = packageRoot();
  const candidates = [
    join(root, 'build-cmake', 'Release', 'poser_native.node'),
    join(root, 'build', 'Release', 'poser_native.node'),
  ];
  const built = candidates.filter((p) => existsSync(p)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  const path = process.env.POSER_NATIVE_ADDON ?? built[0];
  if (!path || !existsSync(path)) {
    throw new PoserError(
      'E_BINDING',
      `the poser-torch native addon is not built (looked for ${process.env.POSER_NATIVE_ADDON ?? candidates.join(', ')}). ` +
        'In a project that installed poser-torch, build it with `npm rebuild poser-torch`; in a checkout of the repository, ' +
        'with `npm run build:native` (cmake-js) or `npx node-gyp rebuild`. It needs libtorch, CMake and a C++ compiler ' +
        '(see the README, "Where libtorch comes from").',
    );
  }
  const require = createRequire(import.meta.url);
  selectOpenblasCoretype();
  try {
    cached = require(path) as NativeBinding;
  } catch (error) {
    throw new PoserError('E_BINDING', `failed to load the native addon ${path}: ${loadFailureAdvice((error as Error).message)}`, { cause: error });
  }
  return cached;
}

const REBUILD = 'rebuild it with `npm run build:native` (or `npx node-gyp rebuild`)';
const LOCATOR = '`node scripts/torch-paths.cjs info` shows which libtorch a build uses';

/** What a dlopen/Node error means for the user: a missing library, another Node, another libtorch. */
export function loadFailureAdvice(message: string): string {
  const missing = /([^\s:]+): cannot open shared object file/.exec(message);
  if (missing)
    return (
      `${message}\nThe shared library ${missing[1]} is not on the library path. The addon finds libtorch where it was at build time; ` +
      `if libtorch moved or was removed, reinstall it, add its lib/ directory to LD_LIBRARY_PATH, or ${REBUILD} (${LOCATOR}).`
    );
  if (/NODE_MODULE_VERSION/.test(message)) return `${message}\nThe addon was built for another Node.js version: ${REBUILD} under this Node.js (${process.version}).`;
  if (/undefined symbol/.test(message))
    return `${message}\nThe addon was built against another libtorch than the one found now (a version or C++ ABI mismatch): ${REBUILD} (${LOCATOR}).`;
  return message;
}

/**
 * Sets libtorch's intra-op thread count (default: the cores available, or
 * POSER_NUM_THREADS) for every later call, and OpenBLAS's thread count where
 * libtorch uses OpenBLAS (until this is called, OPENBLAS_NUM_THREADS holds).
 */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new PoserError('E_ARG', `threads must be a positive integer, got ${n}`);
  binding().setNumThreads(n);
}

/** libtorch's intra-op thread count. */
export function getNumThreads(): number {
  return binding().getNumThreads();
}

/** What the addon was built against: libtorch version, CUDA, ABI, threading. */
export function buildInfo(): ReturnType<NativeBinding['buildInfo']> {
  return binding().buildInfo();
}
