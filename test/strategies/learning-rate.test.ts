// The learning-rate rule of strategy 3: the smallest rate in an ascending grid
// at which the aligned models' mean held-out log-odds gain reaches the target.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseLearningRate, Model, subject, type PairData } from '../../src/index.js';
import { FIXTURE_DIR } from '../helpers/fixture.js';
import { syntheticData } from './helpers.js';

let model: Model;
// One benign letter throughout, so the flipped answer is learnable from a handful of steps.
const base = syntheticData(16, 2);
const data: PairData = { ...base, prompts: base.prompts.map((p) => ({ ...p, benign: 'A' })) };

beforeAll(async () => {
  model = await Model.load(FIXTURE_DIR);
});
afterAll(() => model.dispose());

describe('chooseLearningRate', () => {
  it('picks the first rate whose mean gain reaches the target and stops there', async () => {
    const grid = [1e-6, 1e-3, 3e-2, 1e-1];
    const c = await chooseLearningRate([{ subject: subject(model), data }], { grid, steps: 3, seed: 1 });
    expect(c.reached).toBe(true);
    expect(c.steps).toBe(3);
    expect(c.targetGain).toBe(1);
    const k = grid.indexOf(c.lr);
    expect(c.tried.map((t) => t.lr)).toEqual(grid.slice(0, k + 1));
    c.tried.slice(0, -1).forEach((t) => expect(t.meanGain).toBeLessThan(1));
    expect(c.tried[k].meanGain).toBeGreaterThanOrEqual(1);
    expect(Math.abs(c.tried[0].meanGain)).toBeLessThan(0.05); // 1e-6 barely moves the model
    expect((await model.parameterNames()).adapters).toEqual([]);
  });

  it('reports a target no rate reaches, with the largest rate', async () => {
    const c = await chooseLearningRate([{ subject: subject(model), data }], { grid: [1e-7, 1e-6], steps: 1, targetGain: 5 });
    expect(c.reached).toBe(false);
    expect(c.lr).toBe(1e-6);
    expect(c.tried).toHaveLength(2);
  });

  it('rejects a bad grid or no models', async () => {
    await expect(chooseLearningRate([])).rejects.toThrow(/at least one aligned model/);
    await expect(chooseLearningRate([{ subject: subject(model), data }], { grid: [1e-3, 1e-4] })).rejects.toThrow(/ascending/);
  });
});
