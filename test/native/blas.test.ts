import { describe, expect, it } from 'vitest';
import { cpuFlags, decideOpenblasCoretype, loadedBlas, openblasCoretypeFor } from '../../src/native/blas.js';

describe('OpenBLAS kernel selection', () => {
  it('maps CPU features to a kernel family', () => {
    const base = ['sse2', 'avx', 'avx2', 'fma'];
    const avx512 = [...base, 'avx512f', 'avx512vl', 'avx512bw', 'avx512dq', 'avx512cd'];
    expect(openblasCoretypeFor(new Set([...avx512, 'avx512_bf16']))).toBe('Cooperlake');
    expect(openblasCoretypeFor(new Set(avx512))).toBe('SkylakeX');
    expect(openblasCoretypeFor(new Set(base))).toBe('Haswell');
    expect(openblasCoretypeFor(new Set(['sse2']))).toBeUndefined();
  });

  it('reads the flags line of /proc/cpuinfo', () => {
    const flags = cpuFlags('processor\t: 0\nflags\t\t: fpu avx2 fma\nbugs\t: none\n');
    expect([...flags]).toEqual(['fpu', 'avx2', 'fma']);
    expect(cpuFlags('processor\t: 0\n').size).toBe(0);
  });

  it('a user setting wins; POSER_OPENBLAS_AUTO=0 turns the choice off', () => {
    const flags = new Set(['avx2', 'fma']);
    expect(decideOpenblasCoretype({ OPENBLAS_CORETYPE: 'Prescott' }, flags)).toEqual({ coretype: 'Prescott', source: 'user' });
    expect(decideOpenblasCoretype({}, flags)).toEqual({ coretype: 'Haswell', source: 'auto' });
    expect(decideOpenblasCoretype({ POSER_OPENBLAS_AUTO: '0' }, flags)).toEqual({ source: 'none' });
  });
});

describe('loaded BLAS', () => {
  it('names the mapped BLAS file, not the alternatives link', () => {
    const maps = [
      '7f00-7f01 r-xp 00000000 08:01 1 /usr/lib/x86_64-linux-gnu/libtorch_cpu.so.1.13',
      '7f02-7f03 r-xp 00000000 08:01 2 /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3',
      '7f04-7f05 rw-p 00000000 00:00 0 ',
    ].join('\n');
    expect(loadedBlas(maps)).toBe('/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3');
    // A wrapper forwarding to another build's engine: the engine is named.
    const engine = '7f06-7f07 r-xp 00000000 08:01 3 /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so';
    expect(loadedBlas(`${maps}\n${engine}`)).toBe('/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblasp-r0.3.21.so');
    expect(loadedBlas('7f00-7f01 r-xp 00000000 08:01 1 /usr/lib/libc.so.6')).toBeUndefined();
  });
});
