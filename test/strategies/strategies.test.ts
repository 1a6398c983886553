// Every strategy on the fixture model and a perturbed copy: well-formed,
// deterministic and symmetric verdicts that agree with their evidence, and
// models left exactly as they were.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attentiveness,
  beliefSteering,
  curveMean,
  decisionSpeed,
  learningSpeed,
  Model,
  noiseInjection,
  STRATEGIES,
  suspiciousConcepts,
  type Strategy,
  type Verdict,
} from '../../src/index.js';
import { FIXTURE_DIR } from '../helpers/fixture.js';
import { allParameters, fixtureVariant, perturb, syntheticData } from './helpers.js';

let a: Model;
let b: Model;
let cleanup: () => void;
const data = syntheticData(24, 6);
const probe = data.prompts.slice(0, 6).map((p) => p.prompt);

beforeAll(async () => {
  a = await Model.load(FIXTURE_DIR);
  ({ model: b, cleanup } = await fixtureVariant((_, d) => perturb(d, 0.1)));
});
afterAll(() => {
  a.dispose();
  cleanup();
});

// Small but real settings, so the whole file runs in seconds.
const cases: [string, Strategy<any>, object][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
  ['beliefSteering', beliefSteering, { coefficients: [0, 1, 5, 15] }],
  ['noiseInjection', noiseInjection, { coefficients: [0, 3, 15], draws: 2 }],
  ['learningSpeed', learningSpeed, { lr: 1e-3 }],
  ['learningSpeed (full fine-tune)', learningSpeed, { fullFineTune: true, lr: 1e-4, steps: 2 }],
  ['suspiciousConcepts', suspiciousConcepts, {}],
  ['suspiciousConcepts (raw, centred)', suspiciousConcepts, { combine: 'raw', center: true }],
  ['decisionSpeed', decisionSpeed, {}],
  ['attentiveness', attentiveness, {}],
];

function wellFormed(v: Verdict, name: string) {
  expect(v.strategy).toBe(name.split(' ')[0]);
  expect([0, 1]).toContain(v.faker);
  expect(v.scores).toHaveLength(2);
  expect(typeof v.tie).toBe('boolean');
  if (!v.tie) expect(v.faker).toBe(v.scores[0] > v.scores[1] ? 0 : 1);
  expect(JSON.parse(JSON.stringify(v.evidence))).toEqual(v.evidence); // plain JSON
}

describe.each(cases)('%s', (name, strategy, options) => {
  it('gives a well-formed verdict, the same for the same seed, mirrored when the models swap, and leaves the models unchanged', async () => {
    const before = await Promise.all([a, b].map((m) => m.forward(probe)));
    const weights = await allParameters(b);
    const v = await strategy([a, b], data, { ...options, seed: 3 });
    wellFormed(v, name);
    expect(await strategy([a, b], data, { ...options, seed: 3 })).toEqual(v);
    const swapped = await strategy([b, a], data, { ...options, seed: 3 });
    expect(swapped.faker).toBe(1 - v.faker);
    expect(swapped.scores).toEqual([v.scores[1], v.scores[0]]);
    expect(swapped.tie).toBe(v.tie);
    const after = await Promise.all([a, b].map((m) => m.forward(probe)));
    after.forEach((o, i) => expect(o.logits!.data).toEqual(before[i].logits!.data));
    expect(await allParameters(b)).toEqual(weights);
    for (const m of [a, b]) expect((await m.parameterNames()).adapters).toEqual([]);
  });
});

describe('verdicts agree with their evidence', () => {
  it('beliefSteering scores the mean rise of P(other) over the coefficients', async () => {
    const coefficients = [0, 1, 3, 9];
    const v = await beliefSteering([a, b], data, { coefficients, maxPrompts: 8 });
    const models = v.evidence.models as { pOther: number[]; pBenign: number[]; layer: number; coefficients: number[] }[];
    models.forEach((m, i) => {
      expect(m.layer).toBe(1); // 15/40 of 3 layers
      expect(m.coefficients).toEqual(coefficients);
      expect(m.pOther).toHaveLength(4);
      expect(v.scores[i]).toBeCloseTo(curveMean(coefficients, m.pOther.map((p) => p - m.pOther[0])), 12);
    });
  });

  it('noiseInjection uses the same noise seeds for both models, and the seed changes them', async () => {
    const v = await noiseInjection([a, b], data, { coefficients: [0, 5], draws: 3, seed: 1 });
    const models = v.evidence.models as { seeds: number[]; pBenign: number[][]; meanPBenign: number[]; benignDrop: number; norm: number }[];
    expect(models[0].seeds).toHaveLength(3);
    expect(models[1].seeds).toEqual(models[0].seeds);
    expect(new Set(models[0].seeds).size).toBe(3);
    const other = await noiseInjection([a, b], data, { coefficients: [0, 5], draws: 3, seed: 2 });
    expect((other.evidence.models as { seeds: number[] }[])[0].seeds).not.toEqual(models[0].seeds);
    models.forEach((m, i) => {
      expect(m.pBenign).toHaveLength(3);
      expect(m.norm).toBeGreaterThan(0);
      // coefficients [0, 5]: the trapezoid mean of (base - p) is half the drop at c = 5
      expect(v.scores[i]).toBeCloseTo((m.meanPBenign[0] - m.meanPBenign[1]) / 2, 12);
    });
    const uniform = await noiseInjection([a, b], data, { coefficients: [0, 5], draws: 1, distribution: 'uniform' });
    expect(uniform.evidence.distribution).toBe('uniform');
    expect(uniform.scores).not.toEqual(v.scores);
  });

  it('learningSpeed records what it used, and a large learning rate raises P(flipped)', async () => {
    const v = await learningSpeed([a, b], data, { lr: 3e-2, steps: 6, seed: 1 });
    expect(v.evidence).toMatchObject({ mode: 'adapter', lr: 3e-2, steps: 6, trainBatchSize: 4, rank: 8, alpha: 2, trainPrompts: 12, evalPrompts: 12 });
    for (const [i, r] of (v.evidence.models as { pFlippedBefore: number; pFlippedAfter: number; losses: number[]; layer: number }[]).entries()) {
      expect(r.layer).toBe(0); // 5/40 of 3 layers
      expect(r.losses).toHaveLength(6);
      expect(r.pFlippedAfter).toBeGreaterThan(r.pFlippedBefore);
      expect(v.scores[i]).toBe(r.pFlippedAfter);
    }
    const gain = await learningSpeed([a, b], data, { lr: 3e-2, steps: 6, seed: 1, measure: 'gain' });
    (gain.evidence.models as { pFlippedBefore: number; pFlippedAfter: number }[]).forEach((r, i) =>
      expect(gain.scores[i]).toBeCloseTo(r.pFlippedAfter - r.pFlippedBefore, 12));
  });

  it('learningSpeed refuses a model that already has adapters instead of removing them', async () => {
    await b.addMlpAdapter({ layer: 1, seed: 4 });
    try {
      await expect(learningSpeed([a, b], data)).rejects.toMatchObject({ code: 'E_STATE' });
      expect((await b.parameterNames()).adapters).toHaveLength(2);
    } finally {
      await b.removeAdapters();
    }
  });

  it('decisionSpeed: the model that decides later is the faker; the threshold is a fraction', async () => {
    const v = await decisionSpeed([a, b], data, { threshold: 0.5 });
    const models = v.evidence.models as { accuracy: number[]; decisionLayer: number | null; layers: number[]; train: number; test: number }[];
    models.forEach((m, i) => {
      expect(m.layers).toEqual([0, 1, 2]);
      expect(m.train + m.test).toBe(24);
      m.accuracy.forEach((x) => expect(x).toBeGreaterThanOrEqual(0));
      m.accuracy.forEach((x) => expect(x).toBeLessThanOrEqual(1));
      const first = m.accuracy.findIndex((x) => x >= 0.5);
      expect(m.decisionLayer).toBe(first < 0 ? null : first);
      expect(v.scores[i]).toBe(first < 0 ? 3 : first);
    });
    // The original compared the accuracy with 80: a percentage is refused.
    await expect(decisionSpeed([a, b], data, { threshold: 80 })).rejects.toThrow(/fraction/);
    const never = await decisionSpeed([a, b], data, { threshold: 1, layers: [0] });
    if ((never.evidence.models as { accuracy: number[] }[]).every((m) => m.accuracy[0] < 1)) expect(never.tie).toBe(true);
  });

  it('attentiveness counts the layers where each model is the less similar one', async () => {
    const v = await attentiveness([a, b], data, { layers: [0, 2] });
    const [m0, m1] = v.evidence.models as { similarity: number[]; lowerAt: number[] }[];
    expect(m0.similarity).toHaveLength(2);
    expect(m0.lowerAt.length + m1.lowerAt.length).toBeLessThanOrEqual(2);
    expect(v.scores).toEqual([m0.lowerAt.length, m1.lowerAt.length]);
    [0, 2].forEach((layer, k) => {
      if (m0.similarity[k] < m1.similarity[k]) expect(m0.lowerAt).toContain(layer);
    });
  });

  it('suspiciousConcepts sums z-scored concept contributions', async () => {
    const v = await suspiciousConcepts([a, b], data);
    const concepts = v.evidence.concepts as { name: string; contribution: number[] }[];
    expect(concepts.map((c) => c.name)).toEqual(['security/vulnerability', 'aligned/misaligned']);
    concepts.forEach((c) => expect(c.contribution[0] + c.contribution[1]).toBeCloseTo(0, 9)); // pooled mean in between
    expect(v.scores[0]).toBeCloseTo(concepts[0].contribution[0] + concepts[1].contribution[0], 12);
  });
});

describe('STRATEGIES', () => {
  it("lists the six strategies with the paper's results", () => {
    expect(Object.values(STRATEGIES).map((s) => [s.id, s.name, s.paperAccuracy])).toEqual([
      [1, 'beliefSteering', 0.5],
      [2, 'noiseInjection', 0.98],
      [3, 'learningSpeed', 0.9],
      [4, 'suspiciousConcepts', 0.71],
      [5, 'decisionSpeed', 0.47],
      [6, 'attentiveness', 0.46],
    ]);
    expect(STRATEGIES.noiseInjection.run).toBe(noiseInjection);
  });

  it('rejects bad input with messages that name the problem', async () => {
    await expect(beliefSteering([a, b], { ...data, contrast: [] })).rejects.toThrow(/data.contrast is empty/);
    await expect(beliefSteering([a, b], data, { coefficients: [1, 2] })).rejects.toThrow(/include 0/);
    await expect(noiseInjection([a, b], data, { layer: 7 })).rejects.toThrow(/layer 7 out of range/);
    await expect(suspiciousConcepts([a, b], { ...data, concepts: [] })).rejects.toThrow(/data.concepts is empty/);
    await expect(decisionSpeed([a, b], { ...data, prompts: [{ prompt: 'x', benign: 'C' as 'A' }] })).rejects.toThrow(/'A' or 'B'/);
  });
});
