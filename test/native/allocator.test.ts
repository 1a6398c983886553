import { describe, expect, it } from 'vitest';
import { buildInfo } from '../../src/native/binding.js';

// Node reports the glibc it runs on; elsewhere (musl, macOS) the setting does not exist.
const glibc = (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime;

describe('allocator', () => {
  it('keeps freed memory in the process where the C library is glibc', () => {
    expect(buildInfo().keepsFreedMemory).toBe(glibc !== undefined && process.env.POSER_KEEP_FREED_MEMORY !== '0');
  });
});
