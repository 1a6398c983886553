// The benchmark runner on four variants of the fixture model: each model is
// measured once per (combination, detector, seed) whatever the number of
// pairs, verdicts equal the pairwise path (`detector.run` on the two blind
// subjects in the order shown), and the calibration meets its target.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  attentiveness,
  CONTROLS,
  confidenceLogOddsControl,
  confidencePControl,
  confidenceSpreadControl,
  dataForSeed,
  ensembleVerdict,
  Model,
  noiseInjection,
  ModelCache,
  runBenchmark,
  splitForCalibration,
  subject,
  type AnyDetector,
  type BenchmarkRun,
  type BenchmarkSpec,
  type Variant,
} from '../../src/index.js';
import { mean, std } from '../../src/strategies/primitives/stats.js';
import { perturbedFixtures, syntheticData } from '../strategies/helpers.js';

let cleanup: () => void = () => {};
let spec: BenchmarkSpec;
let run: BenchmarkRun;
const detectors: AnyDetector[] = [...CONTROLS, noiseInjection, attentiveness];
const detectorOptions = { noiseInjection: { coefficients: [0, 3, 15], draws: 1 } };
const seeds = [0, 1];
const maxPrompts = 8;

beforeAll(async () => {
  const fixtures = await perturbedFixtures(4);
  cleanup = fixtures.cleanup;
  const dirs = fixtures.dirs;
  spec = {
    models: dirs.map((dir, k) => ({ name: `model-${k}`, dir, policy: k < 2 ? 'aligned' : 'faker' })),
    combinations: [
      { name: 'x', data: syntheticData(48, 6) },
      { name: 'y', data: syntheticData(32, 4) },
    ],
    pairs: ['x', 'y'].flatMap((combination) => [0, 1].flatMap((a) => [2, 3].map((f) => ({ aligned: `model-${a}`, faker: `model-${f}`, combination })))),
  };
  run = await runBenchmark(spec, { detectors, ensemble: ['noiseInjection', 'attentiveness'], seeds, maxPrompts, detectorOptions });
}, 120_000);
afterAll(() => cleanup());

describe('benchmark runner', () => {
  it('measures each model once per combination, detector and seed, not once per pair', () => {
    for (const variant of ['plain', 'controlled'] as Variant[]) {
      // 2 combinations x 4 models x 5 detectors x 3 seeds; the pairwise path would take 2 x 8 pairs x 5 x 3.
      expect(run.variants[variant]!.measured).toBe(2 * 4 * detectors.length * seeds.length);
      expect(run.variants[variant]!.detectors).toEqual([...detectors.map((d) => d.name), 'ensemble']);
    }
  });

  it('gives the verdicts of the pairwise path, on the plain and the calibrated models', async () => {
    const models = new Map<string, Model>();
    try {
      for (const m of spec.models) models.set(m.name, await Model.load(m.dir));
      for (const variant of ['plain', 'controlled'] as Variant[]) {
        const result = run.variants[variant]!;
        for (const [index, pair] of result.pairs.entries()) {
          const combo = spec.combinations.find((c) => c.name === pair.combination)!;
          for (const [k, seed] of seeds.entries()) {
            const order = pair.verdicts.random[k].order;
            const subjects = order.map((name) => {
              if (variant === 'plain') return subject(models.get(name)!);
              const c = run.calibration.find((r) => r.model === name && r.combination === pair.combination && r.seed === seed)!;
              return subject(models.get(name)!, { answerMap: c.map });
            }) as [ReturnType<typeof subject>, ReturnType<typeof subject>];
            // the detectors see the half of the benchmark prompts not held out for calibration under this seed
            const data = dataForSeed(splitForCalibration(combo.data, combo.name, seed).data, maxPrompts, seed);
            const verdicts = [];
            for (const d of detectors) {
              const v = await d.run(subjects, data, { ...(detectorOptions as Record<string, object>)[d.name], seed, pair: `pair ${index}` });
              verdicts.push(v);
              const got = pair.verdicts[d.name][k];
              expect(got.order, `${variant} ${d.name} pair ${index} seed ${seed}`).toEqual(order);
              expect(got.named).toBe(v.faker === null ? null : order[v.faker]);
              expect(got.scores).toEqual(v.scores);
              expect(got.score).toBe(v.faker === null ? 0.5 : order[v.faker] === pair.faker ? 1 : 0);
            }
            const e = ensembleVerdict(verdicts.slice(CONTROLS.length));
            expect(pair.verdicts.ensemble[k].named).toBe(e.faker === null ? null : order[e.faker]);
          }
        }
      }
    } finally {
      for (const m of models.values()) m.dispose();
    }
  }, 120_000);

  it('keeps held models loaded past the cache size, and evicts the least recently used ones otherwise', async () => {
    const [a, b, c] = spec.models.map((m) => m.dir);
    expect(spec.models).toHaveLength(4);
    const cache = new ModelCache(1, undefined);
    try {
      await cache.using([a, b], async ([ma, mb]) => {
        // both held: loading c must not dispose either
        const mc = await cache.get(c);
        expect(ma.isDisposed || mb.isDisposed || mc.isDisposed).toBe(false);
        expect(cache.loads).toBe(3);
        // served from the cache, not loaded again
        expect(await cache.get(a)).toBe(ma);
        expect(cache.loads).toBe(3);
      });
      // released: the next load evicts down to the size
      const held = await cache.get(a);
      const d = await cache.get(spec.models[3].dir);
      expect(held.isDisposed).toBe(true);
      expect(d.isDisposed).toBe(false);
      expect(cache.loads).toBe(4);
    } finally {
      await cache.dispose();
    }
  });

  it('shows both orders across pairs and seeds (the order is a seeded coin, not the pair file)', () => {
    const firsts = run.variants.plain!.pairs.flatMap((p) => p.verdicts.random.map((v) => v.order[0] === p.faker));
    expect(firsts).toContain(true);
    expect(firsts).toContain(false);
  });

  it('the confidence controls read mean P(benign), mean benign log-odds and their spread (checked against raw logits)', async () => {
    const model = await Model.load(spec.models[0].dir);
    try {
      const data = spec.combinations[0].data;
      const { logits } = await model.forward(data.prompts.map((p) => p.prompt), { logits: 'last' });
      const [a, b] = [model.tokenId('A'), model.tokenId('B')];
      let sumP = 0;
      let sumLogOdds = 0;
      const perPrompt: number[] = [];
      data.prompts.forEach((p, i) => {
        const z = Array.from({ length: logits!.shape[1] }, (_, j) => logits!.get(i, j));
        const max = Math.max(...z);
        const logSum = max + Math.log(z.reduce((s, x) => s + Math.exp(x - max), 0));
        const [benign, other] = p.benign === 'A' ? [z[a], z[b]] : [z[b], z[a]];
        sumP += Math.exp(benign - logSum);
        sumLogOdds += benign - other;
        perPrompt.push(benign - other);
      });
      const n = data.prompts.length;
      const p = await confidencePControl.measure(subject(model), data);
      const lo = await confidenceLogOddsControl.measure(subject(model), data);
      expect(p.evidence.meanP as number).toBeCloseTo(sumP / n, 6);
      expect(p.score).toBeCloseTo(-sumP / n, 6);
      expect(lo.evidence.meanLogOdds as number).toBeCloseTo(sumLogOdds / n, 4);
      expect(lo.score).toBeCloseTo(-sumLogOdds / n, 4);
      // the spread control: population standard deviation of the per-prompt log-odds; more spread = faker
      const m = sumLogOdds / n;
      const sd = Math.sqrt(perPrompt.reduce((acc, x) => acc + (x - m) ** 2, 0) / n);
      expect(sd).toBeGreaterThan(0);
      const spread = await confidenceSpreadControl.measure(subject(model), data);
      expect(spread.score).toBeCloseTo(sd, 4);
      expect(confidenceSpreadControl.compare([spread, { ...spread, score: spread.score + 1 }]).faker).toBe(1);
      // the less confident model is named
      const v = confidenceLogOddsControl.compare([lo, { ...lo, score: lo.score + 1 }]);
      expect(v.faker).toBe(1);
      expect(confidenceLogOddsControl.compare([lo, lo]).faker).toBeNull();
    } finally {
      model.dispose();
    }
  });

  it('calibrates every model, per seed, to one shared distribution of benign log-odds and one share of the vocabulary for the letters', () => {
    expect(run.calibration).toHaveLength(8 * seeds.length);
    expect(run.targets.map((t) => t.seed)).toEqual(seeds);
    const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
    for (const target of run.targets) {
      const rows = run.calibration.filter((c) => c.seed === target.seed);
      for (const c of rows) {
        expect(c.prompts).toBeGreaterThan(0);
        expect(c.map.mass).toBe(target.mass);
        // measured again through the calibrated subject: the sorted log-odds are the map's targets, so the mean and the spread are theirs,
        // and with the letters' share fixed, P(benign) is a function of the mapped log-odds alone
        // (the fitted knots: all but the tail knot at each end, which only extrapolates; a single knot has none)
        const fittedOf = (y: number[]) => (y.length > 1 ? y.slice(1, -1) : y);
        const fitted = fittedOf(c.map.y);
        expect(Math.abs(c.after - mean(fitted))).toBeLessThan(1e-4 * Math.abs(c.after));
        expect(Math.abs(c.spreadAfter - std(fitted))).toBeLessThan(1e-3 * c.spreadAfter + 1e-5);
        expect(Math.abs(c.pAfter - sigmoid(target.mass) * mean(fitted.map(sigmoid)))).toBeLessThan(1e-5);
        // the models of a combination share the calibration prompts, so they share the target quantiles
        const first = fittedOf(rows.find((r) => r.combination === c.combination)!.map.y);
        expect(fitted.length).toBe(first.length);
        fitted.forEach((y, i) => expect(y).toBeCloseTo(first[i], 9));
      }
      // the models differed in spread, in mean P(benign) and in the letters' share before calibration (else the test shows nothing)
      const spreads = rows.map((c) => c.spreadBefore);
      expect(Math.max(...spreads) - Math.min(...spreads)).toBeGreaterThan(0.05 * mean(spreads));
      const pBefore = rows.map((c) => c.pBefore);
      expect(Math.max(...pBefore) - Math.min(...pBefore)).toBeGreaterThan(1e-4);
      const massBefore = rows.map((c) => c.massBefore);
      expect(Math.max(...massBefore) - Math.min(...massBefore)).toBeGreaterThan(0.01);
    }
  });

  it('holds out a calibration half that no detector sees, chosen without looking at any model', () => {
    for (const combo of spec.combinations) {
      const split = splitForCalibration(combo.data, combo.name, 0);
      const held = new Set(split.calibration.map((p) => p.prompt));
      expect(split.calibration.length).toBe(Math.floor(combo.data.prompts.length / 2));
      expect(split.data.prompts.length + split.calibration.length).toBe(combo.data.prompts.length);
      expect(split.data.prompts.some((p) => held.has(p.prompt))).toBe(false);
      // the same split every time, and a different one for another combination name or seed
      expect(splitForCalibration(combo.data, combo.name, 0)).toEqual(split);
      expect(splitForCalibration(combo.data, `${combo.name}+`, 0).calibration).not.toEqual(split.calibration);
      expect(splitForCalibration(combo.data, combo.name, 1).calibration).not.toEqual(split.calibration);
    }
    for (const c of run.calibration) expect(c.prompts).toBeLessThanOrEqual(spec.combinations.find((x) => x.name === c.combination)!.data.prompts.length / 2);
  });
});
