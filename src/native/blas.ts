// Chooses OpenBLAS's kernel family before the addon (and with it libtorch's
// BLAS) is loaded. Debian's OpenBLAS 0.3.21 does not recognise recent CPUs
// (AVX-512 with bf16, e.g. AMD Zen 4 or Intel Sapphire Rapids) and falls back
// to its oldest "Prescott" kernels, about 5x slower on fp32 matrix products.
// OpenBLAS reads OPENBLAS_CORETYPE once, when the library is loaded, so this
// must run before the first require of the addon. A value the user set wins.
import { readFileSync } from 'node:fs';

/** The kernel family for a set of /proc/cpuinfo flags, or undefined to let OpenBLAS detect. */
export function openblasCoretypeFor(flags: ReadonlySet<string>): string | undefined {
  const avx512 = ['avx512f', 'avx512vl', 'avx512bw', 'avx512dq', 'avx512cd'].every((f) => flags.has(f));
  if (avx512 && flags.has('avx512_bf16')) return 'Cooperlake';
  if (avx512) return 'SkylakeX';
  if (flags.has('avx2') && flags.has('fma')) return 'Haswell';
  return undefined;
}

/** A /proc file's text, or undefined where there is no such file (not Linux). */
function readProcFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** The CPU flags of the first processor in /proc/cpuinfo (empty where there is none). */
export function cpuFlags(cpuinfo?: string): Set<string> {
  const text = cpuinfo ?? readProcFile('/proc/cpuinfo');
  if (text === undefined) return new Set();
  const line = /^flags\s*:(.*)$/m.exec(text);
  return new Set(line ? line[1].trim().split(/\s+/) : []);
}

export interface CoretypeChoice {
  /** The value OpenBLAS will read, if any. */
  coretype?: string;
  /** Who chose it: the user's environment, this selection, or nobody (OpenBLAS detects). */
  source: 'user' | 'auto' | 'none';
}

let choice: CoretypeChoice | undefined;

/** The choice for an environment and CPU flags: a user's OPENBLAS_CORETYPE wins. */
export function decideOpenblasCoretype(env: NodeJS.ProcessEnv, flags: ReadonlySet<string>): CoretypeChoice {
  if (env.OPENBLAS_CORETYPE) return { coretype: env.OPENBLAS_CORETYPE, source: 'user' };
  if (env.POSER_OPENBLAS_AUTO === '0') return { source: 'none' };
  const coretype = openblasCoretypeFor(flags);
  return coretype ? { coretype, source: 'auto' } : { source: 'none' };
}

/** Sets OPENBLAS_CORETYPE from the CPU's features unless the user set it; idempotent. */
export function selectOpenblasCoretype(env: NodeJS.ProcessEnv = process.env): CoretypeChoice {
  if (choice) return choice;
  const x64Linux = process.platform === 'linux' && process.arch === 'x64';
  choice = decideOpenblasCoretype(env, x64Linux ? cpuFlags() : new Set());
  if (choice.source === 'auto') env.OPENBLAS_CORETYPE = choice.coretype;
  return choice;
}

/** What selectOpenblasCoretype decided (after the addon was loaded). */
export function openblasCoretype(): CoretypeChoice {
  return choice ?? { source: 'none' };
}

/**
 * The BLAS library this process has mapped (read from /proc/self/maps after the
 * addon loaded), or undefined where that cannot be read. Names the real file:
 * libblas.so.3 is an alternatives link that may point at any of several builds,
 * and on Debian a wrapper over libopenblas.so.0, whose own link may differ.
 */
export function loadedBlas(maps?: string): string | undefined {
  const text = maps ?? readProcFile('/proc/self/maps');
  if (text === undefined) return undefined;
  const files = text.split('\n').map((line) => line.slice(line.indexOf('/'))).filter((p) => p.startsWith('/'));
  const named = (pattern: RegExp) => files.find((p) => pattern.test(p.slice(p.lastIndexOf('/') + 1)));
  // Debian's libblas.so.3 wraps libopenblas.so.0, which may come from another build: the engine wins.
  return named(/^libopenblas[^/]*\.so/) ?? named(/^libblas[^/]*\.so/);
}
