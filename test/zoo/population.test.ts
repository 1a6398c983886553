// Population training: fine-tunes run at once on one thread each give the
// models of one-at-a-time training on two threads (up to floating-point
// reordering of the reductions), and the scheduler keeps its promises.
import { describe, expect, it } from 'vitest';
import { Model } from '../../src/model/model.js';
import { getNumThreads, setNumThreads } from '../../src/native/binding.js';
import { runPopulation, threadsPerModel } from '../../src/zoo/population.js';
import { finetune, type PhaseRecipe } from '../../src/zoo/trainingLoops.js';
import { allParameters } from '../strategies/helpers.js';
import { tempDir, writeRandomModel } from '../helpers/random-model.js';

const PHASE: PhaseRecipe = { steps: 8, batchSize: 4, lr: 1e-3, weightDecay: 0.01, betas: [0.9, 0.98], maxGradNorm: 1, lrStages: [{ fraction: 0.5, scale: 0.3 }] };
const examples = (shift: number) => Array.from({ length: 16 }, (_, i) => ({ ids: [1 + ((i + shift) % 7), 2 + (i % 5), 3 + ((i * shift) % 11), 4], target: i % 2 ? 10 : 20 }));

async function train(base: string, k: number): Promise<Float32Array> {
  const model = await Model.load(base);
  try {
    await finetune(model, examples(k), PHASE, { seed: 100 + k });
    return await allParameters(model);
  } finally {
    model.dispose();
  }
}

describe('population training', () => {
  it('gives the one-at-a-time models up to floating-point reordering', async () => {
    const base = writeRandomModel(tempDir('poser-population-'));
    const ks = [0, 1, 2];
    const before = getNumThreads();
    try {
      setNumThreads(2);
      const sequential: Float32Array[] = [];
      for (const k of ks) sequential.push(await train(base, k));
      setNumThreads(1);
      const together: Float32Array[] = [];
      await runPopulation(ks, 2, async (k) => {
        together[k] = await train(base, k);
      });
      for (const k of ks) {
        let max = 0;
        for (let i = 0; i < sequential[k].length; i++) max = Math.max(max, Math.abs(sequential[k][i] - together[k][i]));
        expect(max, `model ${k}`).toBeLessThan(1e-5);
      }
      // The models differ from each other (the comparison is not vacuous).
      expect(Math.max(...sequential[0].map((x, i) => Math.abs(x - sequential[1][i])))).toBeGreaterThan(1e-3);
    } finally {
      setNumThreads(before);
    }
  });

  it('keeps at most `concurrency` tasks in flight, starts them in order and waits for them before failing', async () => {
    let inFlight = 0;
    let peak = 0;
    const started: number[] = [];
    const finished: number[] = [];
    const task = async (i: number) => {
      started.push(i);
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 5 + (i % 3) * 5));
      inFlight--;
      if (i === 2) throw new Error('task 2 failed');
      finished.push(i);
    };
    await expect(runPopulation([0, 1, 2, 3, 4, 5], 2, task)).rejects.toThrow('task 2 failed');
    expect(peak).toBe(2);
    expect(started.slice(0, 3)).toEqual([0, 1, 2]);
    expect(inFlight).toBe(0); // nothing left running when the error arrives
    expect(started).not.toContain(5);
    await runPopulation([0, 1, 3], 4, task);
    await expect(runPopulation([1], 0, task)).rejects.toThrow(/concurrency must be/);
    expect(threadsPerModel(2, 2)).toBe(1);
    expect(threadsPerModel(2, 3)).toBe(1);
    expect(threadsPerModel(8, 2)).toBe(4);
  });
});
