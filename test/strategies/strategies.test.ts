// Every strategy on the fixture model and a perturbed copy: well-formed,
// deterministic and symmetric verdicts that agree with their evidence, run
// equal to compare of separately taken (cacheable) measurements, and models
// left exactly as they were.
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
  subject,
  suspiciousConcepts,
  type DetectionStrategy,
  type Subject,
  type Verdict,
} from '../../src/index.js';
import { FIXTURE_DIR } from '../helpers/fixture.js';
import { allParameters, fixtureVariant, perturb, syntheticData } from './helpers.js';

let a: Model;
let b: Model;
let sa: Subject;
let sb: Subject;
let cleanup: () => void;
const data = syntheticData(24, 6);
const probe = data.prompts.slice(0, 6).map((p) => p.prompt);

beforeAll(async () => {
  a = await Model.load(FIXTURE_DIR);
  ({ model: b, cleanup } = await fixtureVariant((_, d) => perturb(d, 0.1)));
  [sa, sb] = [subject(a), subject(b)];
});
afterAll(() => {
  a.dispose();
  cleanup();
});

// Small but real settings, so the whole file runs in seconds.
const cases: [string, DetectionStrategy<any, any>, object][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
  ['beliefSteering', beliefSteering, { coefficients: [0, 1, 5, 15] }],
  ['beliefSteering (common)', beliefSteering, { coefficients: [0, 1, 5, 15], normalization: 'common' }],
  ['noiseInjection', noiseInjection, { coefficients: [0, 3, 15], draws: 2 }],
  ['noiseInjection (common)', noiseInjection, { coefficients: [0, 3, 15], draws: 2, normalization: 'common' }],
  ['learningSpeed', learningSpeed, { lr: 1e-3 }],
  ['learningSpeed (full fine-tune)', learningSpeed, { fullFineTune: true, lr: 1e-4, steps: 2 }],
  ['suspiciousConcepts', suspiciousConcepts, {}],
  ['suspiciousConcepts (raw, centred)', suspiciousConcepts, { combine: 'raw', center: true }],
  ['decisionSpeed', decisionSpeed, {}],
  ['attentiveness', attentiveness, {}],
];

function wellFormed(v: Verdict, name: string) {
  expect(v.strategy).toBe(name.split(' ')[0]);
  expect([0, 1, null]).toContain(v.faker);
  expect(v.scores).toHaveLength(2);
  if (v.faker !== null) expect(v.faker).toBe(v.scores[0] > v.scores[1] ? 0 : 1);
  expect(JSON.parse(JSON.stringify(v.evidence))).toEqual(v.evidence); // plain JSON
}

describe.each(cases)('%s', (name, strategy, options) => {
  it('gives a well-formed verdict, the same for the same seed, mirrored when the models swap, and leaves the models unchanged', async () => {
    const before = await Promise.all([a, b].map((m) => m.forward(probe)));
    const weights = await allParameters(b);
    const v = await strategy.run([sa, sb], data, { ...options, seed: 3 });
    wellFormed(v, name);
    expect(await strategy.run([sa, sb], data, { ...options, seed: 3 })).toEqual(v);
    const swapped = await strategy.run([sb, sa], data, { ...options, seed: 3 });
    expect(swapped.faker).toBe(v.faker === null ? null : 1 - v.faker);
    expect(swapped.scores).toEqual([v.scores[1], v.scores[0]]);
    const after = await Promise.all([a, b].map((m) => m.forward(probe)));
    after.forEach((o, i) => expect(o.logits!.data).toEqual(before[i].logits!.data));
    expect(await allParameters(b)).toEqual(weights);
    for (const m of [a, b]) expect((await m.parameterNames()).adapters).toEqual([]);
  });

  it('run equals compare of measurements taken separately (and through JSON, as a cache would store them)', async () => {
    const o = { ...options, seed: 5 };
    const cached = [await strategy.measure(sb, data, o), await strategy.measure(sa, data, o)];
    const stored = JSON.parse(JSON.stringify(cached));
    expect(stored.map((m: { strategy: string }) => m.strategy)).toEqual([strategy.name, strategy.name]);
    expect(strategy.compare([stored[1], stored[0]], o)).toEqual(await strategy.run([sa, sb], data, o));
    expect(strategy.compare([cached[0], cached[1]], o)).toEqual(await strategy.run([sb, sa], data, o));
  });

  it('a model against itself is undecided', async () => {
    const m = await strategy.measure(sa, data, { ...options, seed: 1 });
    const v = strategy.compare([m, m], { ...options, seed: 1 });
    expect(v.faker).toBeNull();
  });
});

describe('verdicts agree with their evidence', () => {
  it('beliefSteering scores the mean rise of P(other) over the coefficients, and shows both vector norms', async () => {
    const coefficients = [0, 1, 3, 9];
    const v = await beliefSteering.run([sa, sb], data, { coefficients, maxPrompts: 8 });
    const models = v.evidence.models as { pOther: number[]; layer: number; coefficients: number[]; multipliers: number[]; vectorNorm: number }[];
    expect(v.evidence.normalization).toBe('own');
    expect(v.evidence.vectorNorms).toEqual(models.map((m) => m.vectorNorm));
    models.forEach((m, i) => {
      expect(m.layer).toBe(1); // 15/40 of 3 layers
      expect(m.coefficients).toEqual(coefficients);
      expect(m.multipliers).toEqual(coefficients);
      expect(m.vectorNorm).toBeGreaterThan(0);
      expect(v.scores[i]).toBeCloseTo(curveMean(coefficients, m.pOther.map((p) => p - m.pOther[0])), 12);
    });
  });

  it("beliefSteering 'common' pushes both models with the mean norm; a 'common' measurement also answers 'own'", async () => {
    const o = { coefficients: [0, 1, 3, 9], maxPrompts: 8, normalization: 'common' as const };
    const ms = [await beliefSteering.measure(sa, data, o), await beliefSteering.measure(sb, data, o)] as const;
    const common = beliefSteering.compare(ms, o);
    const [n0, n1] = common.evidence.vectorNorms as number[];
    expect(n0).not.toBeCloseTo(n1, 3);
    expect(common.evidence.pushNorms).toEqual([(n0 + n1) / 2, (n0 + n1) / 2]);
    // Up to float reordering (the grid's sweep stacks more settings per batch).
    const viaCommon = beliefSteering.compare(ms, { ...o, normalization: 'own' });
    const direct = await beliefSteering.run([sa, sb], data, { ...o, normalization: 'own' });
    expect(viaCommon.faker).toBe(direct.faker);
    viaCommon.scores.forEach((x, i) => expect(x).toBeCloseTo(direct.scores[i], 7));
    // An 'own' measurement cannot answer 'common'.
    const own = [await beliefSteering.measure(sa, data, { ...o, normalization: 'own' }), ms[1]] as const;
    expect(() => beliefSteering.compare(own, o)).toThrow(/normalization 'common'/);
  });

  it("noiseInjection 'common' reads each model's response at the pair's mean norm", async () => {
    const o = { coefficients: [0, 2, 6], draws: 2, maxPrompts: 8, seed: 2 };
    const ms = [await noiseInjection.measure(sa, data, { ...o, normalization: 'common' }), await noiseInjection.measure(sb, data, { ...o, normalization: 'common' })] as const;
    const v = noiseInjection.compare(ms, { ...o, normalization: 'common' });
    const [n0, n1] = v.evidence.vectorNorms as number[];
    const common = (n0 + n1) / 2;
    // The same models pushed directly with the absolute common norm: the interpolated response is close,
    // relative to how much the response moves (the fixture's probabilities are small).
    for (const [i, s] of [sa, sb].entries()) {
      const direct = (await noiseInjection.measure(s, data, { ...o, norm: common })).evidence;
      const read = (v.evidence.commonPBenign as number[][])[i];
      const span = Math.max(...direct.meanPBenign) - Math.min(...direct.meanPBenign);
      expect(span).toBeGreaterThan(0);
      direct.meanPBenign.forEach((p: number, k: number) => expect(Math.abs(read[k] - p)).toBeLessThan(0.02 * span));
      expect(Math.abs(v.scores[i] - direct.benignDrop)).toBeLessThan(0.02 * Math.abs(direct.benignDrop));
    }
  });

  it('noiseInjection uses the same noise seeds for both models, and the seed changes them', async () => {
    const v = await noiseInjection.run([sa, sb], data, { coefficients: [0, 5], draws: 3, seed: 1 });
    const models = v.evidence.models as { seeds: number[]; pBenign: number[][]; meanPBenign: number[]; benignDrop: number; norm: number }[];
    expect(models[0].seeds).toHaveLength(3);
    expect(models[1].seeds).toEqual(models[0].seeds);
    expect(new Set(models[0].seeds).size).toBe(3);
    const other = await noiseInjection.run([sa, sb], data, { coefficients: [0, 5], draws: 3, seed: 2 });
    expect((other.evidence.models as { seeds: number[] }[])[0].seeds).not.toEqual(models[0].seeds);
    models.forEach((m, i) => {
      expect(m.pBenign).toHaveLength(3);
      expect(m.norm).toBeGreaterThan(0);
      // coefficients [0, 5]: the trapezoid mean of (base - p) is half the drop at c = 5
      expect(v.scores[i]).toBeCloseTo((m.meanPBenign[0] - m.meanPBenign[1]) / 2, 12);
    });
    const uniform = await noiseInjection.run([sa, sb], data, { coefficients: [0, 5], draws: 1, distribution: 'uniform' });
    expect(uniform.evidence.distribution).toBe('uniform');
    expect(uniform.scores).not.toEqual(v.scores);
  });

  it('learningSpeed scores the gain in held-out log-odds of the flipped answer, and shows every model moving', async () => {
    const v = await learningSpeed.run([sa, sb], data, { lr: 3e-2, steps: 6, seed: 1 });
    expect(v.evidence).toMatchObject({ mode: 'adapter', lr: 3e-2, steps: 6, trainPrompts: 12, evalPrompts: 12 });
    const records = v.evidence.models as { logOddsBefore: number; logOddsAfter: number; logOddsChange: number; pFlippedBefore: number; pFlippedAfter: number; losses: number[]; layer: number; rank: number }[];
    expect(v.evidence.logOddsChange).toEqual(records.map((r) => r.logOddsChange));
    for (const [i, r] of records.entries()) {
      expect(r.layer).toBe(0); // 5/40 of 3 layers
      expect(r.rank).toBe(8);
      expect(r.losses).toHaveLength(6);
      expect(r.logOddsChange).toBeCloseTo(r.logOddsAfter - r.logOddsBefore, 12);
      expect(Math.abs(r.logOddsChange)).toBeGreaterThan(0.01); // it moved
      expect(r.pFlippedAfter).toBeGreaterThan(r.pFlippedBefore);
      expect(v.scores[i]).toBe(r.logOddsChange);
    }
  });

  it('learningSpeed refuses a model that already has adapters instead of removing them', async () => {
    await b.addMlpAdapter({ layer: 1, seed: 4 });
    try {
      await expect(learningSpeed.run([sa, sb], data)).rejects.toMatchObject({ code: 'E_STATE' });
      expect((await b.parameterNames()).adapters).toHaveLength(2);
    } finally {
      await b.removeAdapters();
    }
  });

  it('decisionSpeed: cross-validated accuracy from the embedding on, and an interpolated crossing', async () => {
    const v = await decisionSpeed.run([sa, sb], data, { threshold: 0.6 });
    const models = v.evidence.models as { depths: number[]; balancedAccuracy: number[]; accuracy: number[]; crossing: number | null; folds: number }[];
    models.forEach((m, i) => {
      expect(m.depths).toEqual([-1, 0, 1, 2]);
      expect(m.folds).toBe(5);
      [...m.accuracy, ...m.balancedAccuracy].forEach((x) => expect(x >= 0 && x <= 1).toBe(true));
      expect(m.balancedAccuracy[0]).toBeCloseTo(0.5, 12); // the last token's embedding is the same for every prompt
      const k = m.balancedAccuracy.findIndex((x) => x >= 0.6);
      if (k < 0) expect(m.crossing).toBeNull();
      else {
        expect(m.crossing!).toBeGreaterThan(m.depths[k - 1]);
        expect(m.crossing!).toBeLessThanOrEqual(m.depths[k]);
      }
      expect(v.scores[i]).toBe(m.crossing ?? 3);
    });
    // The original compared the accuracy with 80: a percentage is refused.
    await expect(decisionSpeed.run([sa, sb], data, { threshold: 80 })).rejects.toThrow(/fraction/);
  });

  it('attentiveness counts the layers where each model is the less similar one', async () => {
    const v = await attentiveness.run([sa, sb], data, { layers: [0, 2] });
    const [m0, m1] = v.evidence.models as { similarity: number[]; lowerAt: number[] }[];
    expect(m0.similarity).toHaveLength(2);
    expect(m0.lowerAt.length + m1.lowerAt.length).toBeLessThanOrEqual(2);
    expect(v.scores).toEqual([m0.lowerAt.length, m1.lowerAt.length]);
    [0, 2].forEach((layer, k) => {
      if (m0.similarity[k] < m1.similarity[k]) expect(m0.lowerAt).toContain(layer);
    });
  });

  it('suspiciousConcepts sums z-scored concept contributions', async () => {
    const v = await suspiciousConcepts.run([sa, sb], data);
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
    expect(STRATEGIES.noiseInjection.measure).toBe(noiseInjection.measure);
    for (const s of Object.values(STRATEGIES)) expect(typeof s.title).toBe('string');
  });

  it('rejects bad input with messages that name the problem', async () => {
    await expect(beliefSteering.run([sa, sb], { ...data, contrast: [] })).rejects.toThrow(/data.contrast is empty/);
    await expect(beliefSteering.run([sa, sb], data, { coefficients: [1, 2] })).rejects.toThrow(/include 0/);
    await expect(beliefSteering.run([sa, sb], data, { normalization: 'mean' as 'own' })).rejects.toThrow(/normalization/);
    await expect(noiseInjection.run([sa, sb], data, { layer: 7 })).rejects.toThrow(/layer 7 out of range/);
    await expect(suspiciousConcepts.run([sa, sb], { ...data, concepts: [] })).rejects.toThrow(/data.concepts is empty/);
    await expect(decisionSpeed.run([sa, sb], { ...data, prompts: [{ prompt: 'x', benign: 'C' as 'A' }] })).rejects.toThrow(/'A' or 'B'/);
    // Strategies take subjects, never models.
    await expect(attentiveness.run([a, b] as unknown as [Subject, Subject], data)).rejects.toThrow(/wrap it with subject\(model\)/);
    await expect(attentiveness.measure(a as unknown as Subject, data)).rejects.toMatchObject({ code: 'E_ARG' });
    // Measurements taken with different settings are not compared.
    const m1 = await attentiveness.measure(sa, data, { layers: [0] });
    const m2 = await attentiveness.measure(sb, data, { layers: [1] });
    expect(() => attentiveness.compare([m1, m2])).toThrow(/differ in layers/);
    expect(() => attentiveness.compare([m1, { ...m2, strategy: 'noiseInjection' }])).toThrow(/not 'attentiveness'/);
  });
});
