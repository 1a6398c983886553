// The blind handle strategies compute with: it shows nothing that names or
// locates a model, and its prepended interventions reach every call. A logit
// temperature as a final-norm scale is checked against logits / T computed
// from the plain model's logits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model, residPost, subject, type Intervention } from '../../src/index.js';
import { FINAL_HOOK, answerBias, answerLogits, benignProbabilityUnderBias, logitTemperature, mean } from '../../src/primitives.js';
import { FIXTURE_DIR } from '../helpers/fixture.js';
import { syntheticData } from './helpers.js';

let model: Model;
const data = syntheticData(8, 2);
const prompts = data.prompts.map((p) => p.prompt);
const ids = () => [model.tokenId('A'), model.tokenId('B')];

beforeAll(async () => {
  model = await Model.load(FIXTURE_DIR);
});
afterAll(() => model.dispose());

/** log softmax(logits / T) at the given ids, per row, in float64. */
function logSoftmaxAt(logits: { shape: number[]; get(i: number, j: number): number }, t: number, at: number[]): number[][] {
  const [b, v] = logits.shape;
  return Array.from({ length: b }, (_, i) => {
    let max = -Infinity;
    for (let j = 0; j < v; j++) max = Math.max(max, logits.get(i, j) / t);
    let sum = 0;
    for (let j = 0; j < v; j++) sum += Math.exp(logits.get(i, j) / t - max);
    return at.map((id) => logits.get(i, id) / t - max - Math.log(sum));
  });
}

describe('Subject', () => {
  it('exposes the shape and compute methods, and nothing that names or locates the model', () => {
    const s = subject(model);
    expect(Object.keys(s).sort()).toEqual(['hiddenSize', 'numLayers', 'vocabSize']);
    for (const key of ['dir', 'config', 'name', 'path', 'device', 'dtype']) expect(key in s).toBe(false);
    expect(JSON.stringify(s)).toBe(JSON.stringify({ numLayers: 3, hiddenSize: 64, vocabSize: 256 }));
    expect(JSON.stringify(s)).not.toContain(FIXTURE_DIR);
    expect(s.tokenId('A')).toBe(model.tokenId('A'));
    expect(() => subject({ dir: FIXTURE_DIR } as unknown as Model)).toThrow(/expected a loaded Model/);
  });

  it('without interventions it computes exactly what the model computes', async () => {
    const s = subject(model);
    expect(await s.scoreChoices(prompts, ['A', 'B'])).toEqual(await model.scoreChoices(prompts, ['A', 'B']));
    const hooks = [residPost(1)];
    expect((await s.capture(prompts, hooks))[hooks[0]].data).toEqual((await model.capture(prompts, hooks))[hooks[0]].data);
  });

  it('logitTemperature(T) divides the logits by T: forward, scoreChoices and sweep', async () => {
    const plain = (await model.forward(prompts)).logits!;
    for (const t of [0.5, 2, 7]) {
      const s = subject(model, { interventions: [logitTemperature(t)] });
      const want = logSoftmaxAt(plain, t, ids());
      const scaled = (await s.forward(prompts)).logits!;
      scaled.data.forEach((x, k) => expect(x).toBeCloseTo(plain.data[k] / t, 4));
      (await s.scoreChoices(prompts, ['A', 'B'])).forEach((row, i) => row.forEach((p, j) => expect(Math.log(p)).toBeCloseTo(want[i][j], 4)));
      // A sweep: the unmodified setting, and one with a steering vector, each under the temperature.
      const v = Float32Array.from({ length: model.hiddenSize }, (_, i) => Math.sin(i));
      const steer: Intervention = { hook: residPost(1), op: 'add', value: v, scale: 2 };
      const swept = await s.sweep(prompts, [[], [steer]]);
      const steered = (await model.forward(prompts, { interventions: [steer] })).logits!;
      swept[0].logits.data.forEach((x, k) => expect(x).toBeCloseTo(plain.data[k] / t, 4));
      swept[1].logits.data.forEach((x, k) => expect(x).toBeCloseTo(steered.data[k] / t, 4));
    }
    expect(() => logitTemperature(0)).toThrow(/temperature/);
  });

  it('a logit bias adds to the chosen tokens\' logits only: forward, scoreChoices, sweep and the answer logits', async () => {
    const plain = (await model.forward(prompts)).logits!;
    const [a, b] = ids();
    const v = model.vocabSize;
    for (const bias of [-3, 1.5]) {
      const s = subject(model, { interventions: [logitTemperature(2)], logitBias: answerBias(bias) });
      expect([...s.logitBias]).toEqual([[a, bias], [b, bias]]);
      const want = (k: number) => plain.data[k] / 2 + (k % v === a || k % v === b ? bias : 0);
      (await s.forward(prompts)).logits!.data.forEach((x, k) => expect(x).toBeCloseTo(want(k), 4));
      (await s.sweep(prompts, [[]]))[0].logits.data.forEach((x, k) => expect(x).toBeCloseTo(want(k), 4));
      // P over the whole vocabulary, from the biased logits in float64
      const biased = { shape: plain.shape, get: (i: number, j: number) => plain.get(i, j) / 2 + (j === a || j === b ? bias : 0) };
      const wantP = logSoftmaxAt(biased, 1, [a, b]);
      const got = await s.scoreChoices(prompts, ['A', 'B']);
      got.forEach((row, i) => row.forEach((p, j) => expect(Math.log(p)).toBeCloseTo(wantP[i][j], 4)));
      // the log-odds of one letter against the other do not move
      const t2 = await subject(model, { interventions: [logitTemperature(2)] }).scoreChoices(prompts, ['A', 'B']);
      got.forEach((row, i) => expect(Math.log(row[0] / row[1])).toBeCloseTo(Math.log(t2[i][0] / t2[i][1]), 4));
      // answerLogits + benignProbabilityUnderBias recompute the same P(benign) from the unbiased subject
      const l = await answerLogits(subject(model, { interventions: [logitTemperature(2)] }), prompts, data.prompts.map((p) => p.benign));
      l.benign.forEach((x, i) => {
        const p = benignProbabilityUnderBias({ benign: x, other: l.other[i], rest: l.rest[i] }, bias);
        expect(p).toBeCloseTo(got[i][data.prompts[i].benign === 'A' ? 0 : 1], 6);
      });
    }
    expect(() => subject(model, { logitBias: [{ token: 'A', bias: NaN }] })).toThrow(/logitBias\[0\]/);
  });

  it('training and loss evaluation honour the temperature', async () => {
    const t = 3;
    const targets = data.prompts.map((p) => (p.benign === 'A' ? 'B' : 'A'));
    const want = logSoftmaxAt((await model.forward(prompts)).logits!, t, targets.map((x) => model.tokenId(x)));
    const expected = -want.reduce((s, row, i) => s + row[i], 0) / prompts.length;
    const trainee = await Model.load(FIXTURE_DIR);
    try {
      const s = subject(trainee, { interventions: [logitTemperature(t)] });
      expect(await s.evaluateLoss(prompts, { kind: 'answer', targets })).toBeCloseTo(expected, 4);
      expect(await trainee.evaluateLoss(prompts, { kind: 'answer', targets })).not.toBeCloseTo(expected, 2);
      await s.addMlpAdapter({ layer: 0, seed: 1 });
      await s.setTrainable({ adapters: true });
      await s.configureOptimizer({ lr: 1e-3 });
      const step = await s.trainStep(prompts, { kind: 'answer', targets });
      expect(step.loss).toBeCloseTo(expected, 4); // the loss before the update (B = 0: the adapter starts as a no-op)
    } finally {
      trainee.dispose();
    }
  });

  it('refuses prepended interventions a sweep cannot apply, and takes the final hook at every position', async () => {
    const bad = subject(model, { interventions: [{ hook: residPost(0), op: 'scale', scale: 2, positions: 'all' }] });
    await expect(bad.sweep(prompts, [[]])).rejects.toThrow(/cannot be applied in a sweep/);
    expect(await bad.scoreChoices(prompts, ['A', 'B'])).toHaveLength(prompts.length); // fine outside sweeps
    expect(logitTemperature(2)).toEqual({ hook: FINAL_HOOK, op: 'scale', scale: 0.5, positions: 'all' });
    expect(() => subject(model, { interventions: [{ hook: 'blocks.9.hook_resid_post', op: 'scale', scale: 1 }] })).toThrow(/out of range/);
  });

  it('fork gives a separately trainable copy with the same interventions', async () => {
    const s = subject(model, { interventions: [logitTemperature(2)] });
    const copy = await s.fork();
    try {
      expect(await copy.scoreChoices(prompts, ['A', 'B'])).toEqual(await s.scoreChoices(prompts, ['A', 'B']));
      await copy.setTrainable({ patterns: 'all' });
      await copy.configureOptimizer({ lr: 1e-2 });
      await copy.trainStep(prompts, { kind: 'answer', targets: prompts.map(() => 'A') });
      expect(await copy.scoreChoices(prompts, ['A', 'B'])).not.toEqual(await s.scoreChoices(prompts, ['A', 'B']));
    } finally {
      copy.dispose();
    }
  });
});
