// End to end on the micro zoo: `poser benchmark run`'s library path writes a
// report with rows for the controls, every strategy and the ensemble on the
// plain and the confidence-controlled benchmark; the random control is at
// chance; and the report does not depend on where the zoo sits or what its
// model directories are called.
// POSER_MICRO_ZOO=<dir> reuses a built micro zoo (read only); otherwise one is built.
//
// The micro zoo's organisms are too small to meet their behaviour targets on
// every machine, and the zoo leaves out the pairs of a model that misses one.
// This file tests the benchmark's machinery, not the organisms, so it runs on
// a copy of the zoo with any excluded pair put back (combinationFiles gives
// the pair's data files, which the zoo writes for every combination).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchmarkZoo, CONTROLS, runBenchmark, STRATEGIES, summarizeVariant, withOptions, zooBenchmarkSpec, type BenchmarkResults } from '../../src/index.js';
import { buildZoo, combinationFiles, loadZooManifest, MICRO_RECIPE, type ModelPairsFile } from '../../src/zoo/index.js';
import { LEARNING_RATE_GRID } from '../../src/primitives.js';

const six = Object.values(STRATEGIES);
// Strategy 1 with both models pushed with one norm, as a row of its own (not in the ensemble).
const strategies = [...six, withOptions(STRATEGIES.beliefSteering, 'common', { normalization: 'common' })];
// Small settings so that the file runs in minutes; the defaults are exercised by `poser benchmark run`.
const detectorOptions = {
  beliefSteering: { coefficients: [0, 3, 9, 15] },
  'beliefSteering:common': { coefficients: [0, 3, 9, 15] },
  noiseInjection: { coefficients: [0, 5, 15], draws: 1 },
  learningSpeed: { lr: 1e-2, steps: 4 },
};
const settings = { strategies, ensemble: six.map((s) => s.name), seeds: [0, 1, 2, 3, 4], maxPrompts: 16, detectorOptions, permutations: 2000 };

const temps: string[] = [];
let zoo: string;

/** A copy of the zoo whose pairs file lists its excluded pairs as pairs (the zoo itself when none are excluded). */
function withExcludedPairs(dir: string): string {
  const file = JSON.parse(readFileSync(join(dir, 'model_pairs.json'), 'utf8')) as ModelPairsFile;
  if (file.excluded.length === 0) return dir;
  const copy = mkdtempSync(join(tmpdir(), 'poser-bench-zoo-'));
  temps.push(copy);
  cpSync(dir, copy, { recursive: true });
  const models = loadZooManifest(dir).models;
  for (const e of file.excluded) {
    file.pairs.push({
      aligned: e.aligned,
      faker: e.faker,
      aligned_type: models[e.aligned].policy as ModelPairsFile['pairs'][number]['aligned_type'],
      faker_type: models[e.faker].policy as ModelPairsFile['pairs'][number]['faker_type'],
      combination: e.combination,
      ...combinationFiles(e.combination),
      aligned_dir: e.aligned,
      faker_dir: e.faker,
    });
  }
  file.excluded = [];
  writeFileSync(join(copy, 'model_pairs.json'), JSON.stringify(file, null, 1));
  return copy;
}
let first: { results: BenchmarkResults; report: string };

beforeAll(async () => {
  if (process.env.POSER_MICRO_ZOO) zoo = process.env.POSER_MICRO_ZOO;
  else {
    zoo = mkdtempSync(join(tmpdir(), 'poser-bench-zoo-'));
    temps.push(zoo);
    await buildZoo({ recipe: MICRO_RECIPE, dir: zoo, threads: 2 });
  }
  zoo = withExcludedPairs(zoo);
  first = await benchmarkZoo(zoo, settings);
}, 600_000);
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));

describe('benchmark report on the micro zoo', () => {
  it('has rows for the controls, every strategy and the ensemble, with accuracy, interval, p-value and undecided count, plain and controlled', () => {
    const { results, report } = first;
    expect(results.version).toBe(1);
    expect(results.benchmarks.map((b) => b.variant)).toEqual(['controlled', 'plain']);
    const names = ['random', 'confidenceP', 'confidenceLogOdds', 'confidenceSpread', ...strategies.map((s) => s.name), 'ensemble'];
    for (const b of results.benchmarks) {
      expect(b.rows.map((r) => r.detector)).toEqual(names);
      for (const r of b.rows) {
        expect(r.overall.accuracy).toBeGreaterThanOrEqual(0);
        expect(r.overall.low).toBeLessThanOrEqual(r.overall.accuracy);
        expect(r.overall.high).toBeGreaterThanOrEqual(r.overall.accuracy);
        expect(r.permutation.pValue).toBeGreaterThan(0);
        expect(r.permutation.pValue).toBeLessThanOrEqual(1);
        expect(r.permutation.observed).toBeCloseTo(r.overall.accuracy, 12); // the test scores what the table shows
        expect(r.overall.undecided).toBeGreaterThanOrEqual(0);
        expect(r.seeds.seeds).toBe(5);
        expect(Object.values(r.byCombination).reduce((n, c) => n + c.pairs, 0)).toBe(b.pairs);
      }
    }
    // both models' vector norms are in the measurements of strategy 1, own and common
    for (const name of ['beliefSteering', 'beliefSteering:common'])
      for (const m of results.measurements.controlled![name]) expect(m.numbers.vectorNorm).toBeGreaterThan(0);
    // the report states both models' vector norms (strategies 1 and 2)
    expect(report).toContain("Strategies 1 and 2's contrast-vector norm per model: aligned median");
    for (const header of ['## Confidence-controlled benchmark (headline)', '## Plain benchmark', '| detector | accuracy | 95% CI | p (permutation) | undecided |', '## Calibration'])
      expect(report).toContain(header);
    expect(report.indexOf('## Confidence-controlled')).toBeLessThan(report.indexOf('## Plain'));
    // the controlled benchmark gave every model of a combination one distribution of benign log-odds, hence one mean P(benign), per seed
    expect(results.calibration.targets.map((t) => t.seed)).toEqual(results.seeds);
    for (const c of results.calibration.models) {
      const peer = results.calibration.models.find((r) => r.seed === c.seed && r.combination === c.combination)!;
      expect(Math.abs(c.after - peer.after)).toBeLessThan(1e-3 * Math.abs(peer.after));
      expect(Math.abs(c.spreadAfter - peer.spreadAfter)).toBeLessThan(1e-2 * peer.spreadAfter + 1e-4);
      expect(Math.abs(c.pAfter - peer.pAfter)).toBeLessThan(1e-5);
      expect(c.map.mass).toBe(results.calibration.targets.find((t) => t.seed === c.seed)!.mass);
    }
  });

  it("chooses strategy 3's learning rate by its rule on the aligned models alone, and the training moves every model", async () => {
    const spec = zooBenchmarkSpec(zoo);
    const run = await runBenchmark(spec, { detectors: [STRATEGIES.learningSpeed], seeds: [0], maxPrompts: 16, variants: ['controlled'] });
    const result = run.variants.controlled!;
    const choice = result.learningRate!;
    expect(choice).toBeDefined();
    // one run per (aligned model, combination) at each rate tried, fakers never
    const aligned = new Set(spec.pairs.map((p) => `${p.aligned} ${p.combination}`));
    for (const t of choice.tried) expect(t.gains).toHaveLength(aligned.size);
    expect(choice.tried.map((t) => t.lr)).toEqual(LEARNING_RATE_GRID.slice(0, choice.tried.length));
    expect(choice.reached).toBe(true);
    expect(choice.tried.at(-1)!.meanGain).toBeGreaterThanOrEqual(1);
    expect(choice.tried.slice(0, -1).every((t) => t.meanGain < 1)).toBe(true);
    // the chosen rate is what every measurement used, and no model is left unmoved
    for (const m of result.measurements.learningSpeed) {
      expect(m.evidence.lr).toBe(choice.lr);
      // float32 noise is ~1e-5 nats; the micro zoo's smallest change is a few hundredths (its detectors see 13 prompts per combination)
      expect(Math.abs(m.evidence.logOddsChange as number)).toBeGreaterThan(0.01);
    }
    const summary = summarizeVariant(run, 'controlled');
    expect(summary.evidence.learningRate?.lr).toBe(choice.lr);
    expect(summary.evidence.learningChange!.aligned.n + summary.evidence.learningChange!.faker.n).toBe(result.measurements.learningSpeed.length);
  }, 300_000);

  it('the random control is at chance: its 95% interval covers 50%', async () => {
    // 4 pairs x 5 seeds are 20 coins, too few for this check to mean much, so the
    // controls alone are rerun over 40 seeds (160 coins per benchmark).
    const run = await runBenchmark(zooBenchmarkSpec(zoo), { detectors: CONTROLS, seeds: Array.from({ length: 40 }, (_, k) => k), maxPrompts: 16 });
    for (const variant of ['plain', 'controlled'] as const) {
      const random = summarizeVariant(run, variant).rows.find((r) => r.detector === 'random')!;
      expect(random.overall.low, variant).toBeLessThanOrEqual(0.5);
      expect(random.overall.high, variant).toBeGreaterThanOrEqual(0.5);
    }
  }, 300_000);

  it('is the same report for a copy of the zoo elsewhere with every model directory renamed', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'poser-bench-blind-'));
    temps.push(copy);
    cpSync(zoo, copy, { recursive: true });
    const pairsPath = join(copy, 'model_pairs.json');
    const pairs = JSON.parse(readFileSync(pairsPath, 'utf8')) as ModelPairsFile;
    const dirs = [...new Set(pairs.pairs.flatMap((p) => [p.aligned_dir, p.faker_dir]))];
    // Opaque new names, in an order unrelated to the old one.
    const renamed = new Map(dirs.map((d, k) => [d, `subject-${String.fromCharCode(122 - k)}${(k * 7919) % 97}`]));
    for (const [from, to] of renamed) renameSync(join(copy, from), join(copy, to));
    for (const p of pairs.pairs) {
      p.aligned_dir = renamed.get(p.aligned_dir)!;
      p.faker_dir = renamed.get(p.faker_dir)!;
    }
    writeFileSync(pairsPath, JSON.stringify(pairs, null, 1));
    const second = await benchmarkZoo(copy, settings);
    // Paths and timings aside, identical: the Markdown, and every row of results.json.
    const strip = (report: string) => report.split('\n').filter((l) => !/^- (zoo|run time)/.test(l)).join('\n');
    expect(strip(second.report)).toBe(strip(first.report));
    const rows = (r: BenchmarkResults) => JSON.stringify({ ...r, context: {}, benchmarks: r.benchmarks.map((b) => ({ ...b, seconds: 0 })) });
    expect(rows(second.results)).toBe(rows(first.results));
  }, 600_000);
});
