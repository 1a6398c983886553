// The strategy primitives, on the fixture model and on plain numbers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model, residPost, type Intervention } from '../../src/index.js';
import {
  answerProbabilities,
  chunks,
  comparable,
  contrastVector,
  cosineSimilarity,
  curveMean,
  median,
  crossingDepth,
  decide,
  pushGrid,
  pushMultipliers,
  interpolate,
  isTie,
  stratifiedFolds,
  TIE_TOLERANCE,
  flipped,
  forEachBatch,
  lastTokenActivations,
  mapBatches,
  layerFor,
  meanActivation,
  row,
  seededSplit,
  sweepAnswerProbabilities,
} from '../../src/primitives.js';
import { FIXTURE_DIR } from '../helpers/fixture.js';
import { syntheticData } from './helpers.js';

let model: Model;
beforeAll(async () => {
  model = await Model.load(FIXTURE_DIR);
});
afterAll(() => model.dispose());

const data = syntheticData(10, 5);
const prompts = data.prompts.map((p) => p.prompt);
const benign = data.prompts.map((p) => p.benign);

describe('layerFor', () => {
  it("scales the paper's 40-layer indices by depth, rounding and clamping", () => {
    expect(layerFor(40, 15)).toBe(15);
    expect(layerFor(40, 20)).toBe(20);
    expect(layerFor(24, 15)).toBe(9);
    expect(layerFor(32, 5)).toBe(4);
    expect(layerFor(3, 15)).toBe(1); // 1.125
    expect(layerFor(3, 20)).toBe(2); // 1.5
    expect(layerFor(3, 5)).toBe(0); // 0.375
    expect(layerFor(80, 40)).toBe(79); // 80 clamped
    expect(layerFor(model, 15)).toBe(1);
    expect(layerFor(12, 6, 12)).toBe(6);
    expect(() => layerFor(0, 3)).toThrow(/at least one layer/);
    expect(() => layerFor(40, -1)).toThrow(/paperLayer/);
  });
});

describe('numbers', () => {
  it('cosineSimilarity', () => {
    expect(cosineSimilarity([1, 0], [0, 1])).toBe(0);
    expect(cosineSimilarity([1, 2, 3], [2, 4, 6])).toBeCloseTo(1, 12);
    expect(cosineSimilarity([1, 2, 3], [-1, -2, -3])).toBeCloseTo(-1, 12);
    expect(cosineSimilarity([3, 4], [4, 3])).toBeCloseTo(24 / 25, 12);
    expect(cosineSimilarity([0, 0], [1, 1])).toBe(0);
    expect(() => cosineSimilarity([1], [1, 2])).toThrow(/lengths/);
  });

  it('median takes the middle value, or the mean of the two middle ones, whatever the order', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median(Float32Array.from([5]))).toBe(5);
    expect(median([])).toBeNaN();
  });

  it('curveMean is the trapezoidal mean over the x range', () => {
    expect(curveMean([0, 1, 3], [0, 1, 3])).toBeCloseTo(1.5, 12); // mean of y = x on [0, 3]
    expect(curveMean([3, 0, 1], [3, 0, 1])).toBeCloseTo(1.5, 12); // order does not matter
    expect(curveMean([0, 2], [1, 1])).toBe(1);
    expect(curveMean([5], [0.25])).toBe(0.25);
  });

  it('chunks, flipped and seededSplit', () => {
    expect(chunks([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(flipped('A')).toBe('B');
    expect(flipped('B')).toBe('A');
    const labels = Array.from({ length: 50 }, (_, i) => (i < 40 ? 0 : 1));
    const s = seededSplit(50, 0.2, 3, labels);
    expect(s).toEqual(seededSplit(50, 0.2, 3, labels));
    expect([...s.train, ...s.test].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(s.test.filter((i) => labels[i] === 1)).toHaveLength(2); // stratified: 20% of 10
    expect(s.test.filter((i) => labels[i] === 0)).toHaveLength(8);
    expect(seededSplit(50, 0.2, 4, labels).test).not.toEqual(s.test);
  });

  it('forEachBatch and mapBatches walk consecutive chunks with their start index and report each', async () => {
    const seen: [number[], number][] = [];
    const progress: [number, number][] = [];
    await forEachBatch([1, 2, 3, 4, 5], 2, async (batch, start) => void seen.push([batch, start]), (d, n) => progress.push([d, n]));
    expect(seen).toEqual([[[1, 2], 0], [[3, 4], 2], [[5], 4]]);
    expect(progress).toEqual([[1, 3], [2, 3], [3, 3]]);
    expect(await mapBatches([1, 2, 3, 4, 5], 2, async (batch, start) => batch.map((x, i) => x * 10 + start + i))).toEqual([10, 21, 32, 43, 54]);
    await expect(mapBatches([1, 2, 3], 2, async () => [0])).rejects.toThrow(/1 results for a chunk of 2/);
    await expect(forEachBatch([1], 0, async () => {})).rejects.toThrow(/positive integer/);
  });

  it('comparable returns both evidences when the measurements are comparable, and names what differs', () => {
    const m = (strategy: string, layer: number, seeds: number[]) => ({ strategy, score: 0, evidence: { layer, seeds } });
    const same = ['layer', ['noise seeds', (e: { seeds: number[] }) => e.seeds]] as const;
    expect(comparable('s', [m('s', 1, [2]), m('s', 1, [2])], same)).toEqual([{ layer: 1, seeds: [2] }, { layer: 1, seeds: [2] }]);
    expect(() => comparable('s', [m('s', 1, [2]), m('t', 1, [2])], same)).toThrow(/measurement 1 is from 't'/);
    expect(() => comparable('s', [m('s', 1, [2]), m('s', 2, [2])], same)).toThrow(/differ in layer \(1 vs 2\)/);
    expect(() => comparable('s', [m('s', 1, [2]), m('s', 1, [3])], same)).toThrow(/differ in noise seeds \(\[2\] vs \[3\]\)/);
  });

  it('decide picks the higher score; a tie is undecided and reads nothing but the scores', () => {
    expect(decide('x', [0.2, 0.1], {}).faker).toBe(0);
    expect(decide('x', [0.1, 0.2], {}).faker).toBe(1);
    expect(decide('x', [-3, -2], {}).faker).toBe(1);
    for (const scores of [[1, 1], [0, 0], [NaN, 1], [1, Infinity], [1, 1 + 1e-12], [-5e6, -5e6 * (1 - 1e-10)]] as [number, number][]) {
      expect(isTie(...scores)).toBe(true);
      expect(decide('x', scores, {}).faker).toBeNull();
    }
    // Differences above the relative tolerance decide, however small the scores.
    expect(decide('x', [1e-12, 1.1e-12], {}).faker).toBe(1);
    expect(decide('x', [1, 1 + 1e-8], {}).faker).toBe(1);
    expect(TIE_TOLERANCE).toBe(1e-9);
    expect(decide.length).toBe(3); // strategy, scores, evidence: no model, no seed
  });

  it('interpolate is exact at the points, linear between them, NaN outside', () => {
    const xs = [0, 1, 3];
    const ys = [2, 4, 0];
    xs.forEach((x, i) => expect(interpolate(xs, ys, x)).toBe(ys[i]));
    expect(interpolate(xs, ys, 0.25)).toBeCloseTo(2.5, 12);
    expect(interpolate(xs, ys, 2)).toBeCloseTo(2, 12);
    expect(interpolate(xs, ys, -0.1)).toBeNaN();
    expect(interpolate(xs, ys, 3.1)).toBeNaN();
    expect(() => interpolate([0, 0], [1, 1], 0)).toThrow(/ascending/);
  });

  it('crossingDepth interpolates between the depth below the threshold and the first at or above it', () => {
    const depths = [-1, 0, 1, 2];
    expect(crossingDepth(depths, [0.5, 0.7, 0.9, 1], 0.8)).toBeCloseTo(0.5, 12);
    expect(crossingDepth(depths, [0.5, 1, 1, 1], 0.8)).toBeCloseTo(-0.4, 12);
    expect(crossingDepth(depths, [0.5, 0.8, 1, 1], 0.8)).toBe(0);
    expect(crossingDepth(depths, [0.9, 1, 1, 1], 0.8)).toBe(-1);
    expect(crossingDepth(depths, [0.5, 0.6, 0.7, 0.75], 0.8)).toBeNull();
  });

  it('pushGrid spans c/2 to maxRatio c geometrically; common multipliers include the coefficients', () => {
    const g = pushGrid([0, 1, 3], 4, 2);
    expect(g[0]).toBe(0.5);
    expect(g[g.length - 1]).toBeCloseTo(12, 12);
    for (let k = 1; k < g.length - 1; k++) expect(g[k] / g[k - 1]).toBeCloseTo(Math.SQRT2, 12);
    expect(pushMultipliers([0, 1, 3], { normalization: 'own' })).toEqual([0, 1, 3]);
    const m = pushMultipliers([0, 1, 3], { normalization: 'common', ratioSteps: 2 });
    expect(m).toEqual([...new Set([0, 1, 3, ...g])].sort((x, y) => x - y));
    expect(() => pushGrid([1], 0.5)).toThrow(/maxRatio/);
  });

  it('stratifiedFolds deals each answer evenly over the folds, fixed by the seed', () => {
    const labels = Array.from({ length: 23 }, (_, i) => (i < 8 ? 1 : 0));
    const f = stratifiedFolds(labels, 5, 2);
    expect(f).toEqual(stratifiedFolds(labels, 5, 2));
    expect(f).not.toEqual(stratifiedFolds(labels, 5, 3));
    for (let k = 0; k < 5; k++) {
      const ones = labels.filter((l, i) => l === 1 && f[i] === k).length;
      const all = f.filter((x) => x === k).length;
      expect(ones).toBeGreaterThanOrEqual(1);
      expect(ones).toBeLessThanOrEqual(2);
      expect(all).toBeGreaterThanOrEqual(4);
      expect(all).toBeLessThanOrEqual(5);
    }
    expect(() => stratifiedFolds(labels, 1, 0)).toThrow(/k must be/);
  });
});

describe('model primitives', () => {
  it('answerProbabilities agrees with scoreChoices, with and without interventions', async () => {
    const v = Float32Array.from({ length: model.hiddenSize }, (_, i) => Math.cos(i));
    const ivs: Intervention[] = [{ hook: residPost(1), op: 'add', value: v, scale: 2 }];
    for (const interventions of [undefined, ivs]) {
      const probs = await answerProbabilities(model, prompts, benign, { interventions, batchSize: 3 });
      const direct = await model.scoreChoices(prompts, ['A', 'B'], { interventions });
      direct.forEach(([pA, pB], i) => {
        expect(probs.benign[i]).toBeCloseTo(benign[i] === 'A' ? pA : pB, 6);
        expect(probs.other[i]).toBeCloseTo(benign[i] === 'A' ? pB : pA, 6);
      });
    }
    await expect(answerProbabilities(model, prompts, benign.slice(1))).rejects.toThrow(/benign letters/);
  });

  it('sweepAnswerProbabilities matches answerProbabilities setting by setting', async () => {
    const v = Float32Array.from({ length: model.hiddenSize }, (_, i) => Math.sin(i));
    const settings: Intervention[][] = [[], [{ hook: residPost(1), op: 'add', value: v, scale: -3 }], [{ hook: residPost(0), op: 'noise', noise: { seed: 5, norm: 4 } }]];
    const swept = await sweepAnswerProbabilities(model, prompts, benign, settings, { batchSize: 4 });
    for (let s = 0; s < settings.length; s++) {
      const plain = await answerProbabilities(model, prompts, benign, { interventions: settings[s] });
      plain.benign.forEach((p, i) => expect(swept[s].benign[i]).toBeCloseTo(p, 5));
      plain.other.forEach((p, i) => expect(swept[s].other[i]).toBeCloseTo(p, 5));
    }
    expect(swept[1].benign).not.toEqual(swept[0].benign);
  });

  it('lastTokenActivations does not depend on the batch size and matches capture', async () => {
    const hooks = [residPost(0), residPost(2)];
    const a = await lastTokenActivations(model, prompts, hooks, 3);
    const b = await lastTokenActivations(model, prompts, hooks, 32);
    expect(a[hooks[0]].shape).toEqual([prompts.length, model.hiddenSize]);
    const single = await model.capture([prompts[7]], hooks);
    for (const h of hooks) {
      a[h].data.forEach((x, i) => expect(x).toBeCloseTo(b[h].data[i], 4));
      row(single[h], 0).forEach((x, j) => expect(a[h].data[7 * model.hiddenSize + j]).toBeCloseTo(x, 4));
    }
  });

  it('contrastVector is the mean critical minus mean clean capture', async () => {
    const layer = 1;
    const hook = residPost(layer);
    const v = await contrastVector(model, data.contrast, layer, 2);
    const manual = new Float64Array(model.hiddenSize);
    for (const p of data.contrast) {
      const c = row((await model.capture([p.critical], [hook]))[hook], 0);
      const k = row((await model.capture([p.clean], [hook]))[hook], 0);
      for (let j = 0; j < manual.length; j++) manual[j] += (c[j] - k[j]) / data.contrast.length;
    }
    expect(v).toHaveLength(model.hiddenSize);
    v.forEach((x, j) => expect(x).toBeCloseTo(manual[j], 4));
    const m = await meanActivation(model, data.contrast.map((p) => p.critical), hook);
    const m2 = await meanActivation(model, data.contrast.map((p) => p.clean), hook);
    v.forEach((x, j) => expect(x).toBeCloseTo(m[j] - m2[j], 5));
  });
});
