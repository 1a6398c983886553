// Training until the behaviour targets hold: the first `steps` steps are
// those of a plain run (a model that passes at once is the same model), then
// a check every `every` steps at the final learning rate, up to the cap.
import { describe, expect, it } from 'vitest';
import { Model } from '../../src/model/model.js';
import { finetune, type PhaseRecipe } from '../../src/zoo/trainingLoops.js';
import { allParameters } from '../strategies/helpers.js';
import { tempDir, writeRandomModel } from '../helpers/random-model.js';

const PHASE: PhaseRecipe = { steps: 6, batchSize: 4, lr: 1e-3, weightDecay: 0.01, betas: [0.9, 0.98], maxGradNorm: 1, lrStages: [{ fraction: 0.5, scale: 0.3 }] };
const EXAMPLES = Array.from({ length: 16 }, (_, i) => ({ ids: [1 + (i % 7), 2 + (i % 5), 3 + (i % 11), 4], target: i % 2 ? 10 : 20 }));

async function run(until?: (step: number) => boolean, maxSteps = 14): Promise<{ r: Awaited<ReturnType<typeof finetune>>; params: Float32Array; seen: number[] }> {
  const model = await Model.load(writeRandomModel(tempDir('poser-until-')));
  const seen: number[] = [];
  try {
    const r = await finetune(model, EXAMPLES, PHASE, {
      seed: 3,
      until: until && { every: 3, maxSteps, check: async (s) => (seen.push(s), until(s)) },
    });
    return { r, params: await allParameters(model), seen };
  } finally {
    model.dispose();
  }
}

describe('finetune until the targets hold', () => {
  it('keeps a model that passes at the planned step count identical to a plain run', async () => {
    const plain = await run();
    const passing = await run(() => true);
    expect(passing.seen).toEqual([6]);
    expect(passing.r.steps).toBe(6);
    expect(passing.r.passed).toBe(true);
    expect(passing.params).toEqual(plain.params);
    expect(passing.r.losses).toEqual(plain.r.losses);
  });

  it('trains on and checks every `every` steps until a check passes', async () => {
    const r = await run((s) => s >= 12);
    expect(r.seen).toEqual([6, 9, 12]);
    expect(r.r.steps).toBe(12);
    expect(r.r.passed).toBe(true);
    expect(r.r.checks).toEqual([{ step: 6, passed: false }, { step: 9, passed: false }, { step: 12, passed: true }]);
  });

  it('stops at the cap and reports the miss', async () => {
    const r = await run(() => false, 11);
    expect(r.seen).toEqual([6, 9, 11]);
    expect(r.r.steps).toBe(11);
    expect(r.r.passed).toBe(false);
  });
});
