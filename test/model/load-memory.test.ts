// Loading keeps one copy of the weights: resident memory after Model.load grows
// by at most 1.1x the weight bytes in the compute dtype, also when every tensor
// is converted on the way (BF16 stored, float32 computed). Measured by
// bench/load-memory.ts in a fresh process, so other tests' memory is not counted.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

it('resident memory after load is at most 1.1x the weights in the compute dtype', () => {
  // ~6.6M parameters: 26 MB in float32, stored as 13 MB of BF16.
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'bench/load-memory.ts', '--stored', 'BF16', '--dtype', 'float32', '--hidden', '384', '--intermediate', '1024', '--layers', '2', '--json'],
    { cwd: ROOT, encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } },
  );
  expect(run.status, run.stderr).toBe(0);
  const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as { weightBytes: number; ratio: number; peakRatio: number };
  expect(r.weightBytes).toBeGreaterThan(25e6);
  expect(r.ratio).toBeLessThanOrEqual(1.1);
  // Converting reads never hold a stored copy of the whole model next to the converted one.
  expect(r.peakRatio).toBeLessThan(1.5);
});
