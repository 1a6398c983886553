// Weights stored in float16 / bfloat16 are converted on load; compute dtypes
// the libtorch build cannot run are refused at load time.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Model } from '../../src/index.js';
import { FIXTURE_DIR, fixtureBatch, realPositions, tensor } from '../helpers/fixture.js';
import { tempDir } from '../helpers/random-model.js';
import { maxAbsDiff, readSafetensors, writeSafetensors, type StoredDtype } from '../helpers/safetensors.js';

function storedAs(dtype: StoredDtype): string {
  const dir = tempDir();
  const weights = readSafetensors(join(FIXTURE_DIR, 'model.safetensors'));
  const tensors = Object.fromEntries([...weights].map(([name, t]) => [name, { shape: t.shape, data: t.data as Float32Array }]));
  writeSafetensors(join(dir, 'model.safetensors'), tensors, undefined, dtype);
  copyFileSync(join(FIXTURE_DIR, 'config.json'), join(dir, 'config.json'));
  return dir;
}

describe('stored dtypes', () => {
  // Rounding the weights to 16 bits moves the logits by a few 1e-2 at most here.
  for (const [dtype, tol] of [['F16', 0.02], ['BF16', 0.3]] as const) {
    it(`${dtype} weights load as float32 close to the fp32 reference (max abs diff < ${tol})`, async () => {
      const model = await Model.load(storedAs(dtype));
      const batch = fixtureBatch();
      const out = await model.forward(batch, { logits: 'all' });
      model.dispose();
      const diff = maxAbsDiff(realPositions(out.logits!.data, batch, 256), realPositions(tensor('logits'), batch, 256));
      expect(diff).toBeLessThan(tol);
      expect(diff).toBeGreaterThan(0);
    });
  }
});

it('float16 compute either runs or is refused at load time with E_DTYPE (never mid-forward)', async () => {
  let model: Model;
  try {
    model = await Model.load(FIXTURE_DIR, { dtype: 'float16' });
  } catch (error) {
    expect(error).toMatchObject({ code: 'E_DTYPE' });
    expect((error as Error).message).toMatch(/float32 or bfloat16/);
    return;
  }
  const out = await model.forward(fixtureBatch());
  model.dispose();
  expect(out.logits!.shape).toEqual([3, 256]);
});
