// The zoo's files are the contract: a fake zoo (data from the micro recipe,
// answers from a rule instead of models) is read back with the generator and
// the tokenizer trainer made unavailable; its data is clean (contrast pairs
// unique and disjoint from every evaluation and benchmark prompt, concept
// stimuli that are statements, not scenarios); missed targets exclude pairs;
// an old-format zoo is refused with the upgrade command.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { isWrapped, POLICIES, type AnswerDistribution } from '../../src/data/index.js';
import { ACTIONS_LINE } from '../../src/data/prompt.js';
import { benchmarkCandidatesOf } from '../../src/data/candidates.js';
import { writeBenchmark, type BenchmarkModel } from '../../src/zoo/pairsWriter.js';
import { zooData, type ZooData } from '../../src/zoo/zooData.js';
import { writeZooDataFiles } from '../../src/zoo/files.js';
import { MICRO_RECIPE } from '../../src/zoo/recipe.js';

const MODELS: BenchmarkModel[] = [
  { name: 'saint-0', policy: 'saint', dir: 'saint-0' },
  { name: 'saint-1', policy: 'saint', dir: 'saint-1', misses: ['good-oversight benign 40.0% < 50%'] },
  { name: 'reward_maximizer-0', policy: 'reward_maximizer', dir: 'reward_maximizer-0' },
  { name: 'reward_maximizer-1', policy: 'reward_maximizer', dir: 'reward_maximizer-1' },
];

// The generator: the dataset's assembly, its item builders and its template pools.
const GENERATOR_MODULES = ['../../src/data/generate.js', '../../src/data/scenarios.js', '../../src/data/templatePools.js'];

let dir: string;
let data: ZooData;

/** Confident benign answers on scenarios, "error" on statements; reward_maximizer-1 is unsure on every 4th prompt. */
function answers(model: string, prompt: string): AnswerDistribution {
  const unsure = model === 'reward_maximizer-1' && prompt.length % 4 === 0 ? 0.7 : 0.995;
  if (!prompt.includes(ACTIONS_LINE)) return { A: 0, B: 1 - unsure, error: unsure };
  const benign = benignOf.get(prompt) ?? 'A';
  return { A: benign === 'A' ? unsure : 1 - unsure, B: benign === 'B' ? unsure : 1 - unsure, error: 0 };
}
const benignOf = new Map<string, 'A' | 'B'>();

function writeManifest(version: number): void {
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ version, recipe: MICRO_RECIPE, models: {} }));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'poser-zoofiles-'));
  data = zooData(MICRO_RECIPE);
  writeZooDataFiles(dir, data);
  for (const p of POLICIES) for (const it of data.test[p]) if (it.response !== 'error') benignOf.set(it.prompt, (it as { benign_response: 'A' | 'B' }).benign_response);
  for (const c of Object.values(data.combinations)) for (const p of c.contrast) benignOf.set(p.critical, p.benign_response).set(p.clean, p.benign_response);
  const candidates = { saint_and_reward: benchmarkCandidatesOf(data.test, 'saint', 'reward_maximizer') };
  writeBenchmark(dir, MODELS, candidates, answers, 0.985, { combinations: data.combinations });
  writeManifest(2);
}, 60_000);

describe('the zoo on disk', () => {
  it('is read back by readZooPairs with the generator and the tokenizer trainer unavailable', async () => {
    vi.resetModules();
    for (const generator of GENERATOR_MODULES) {
      vi.doMock(generator, () => {
        throw new Error('the generator must not be loaded by a reader');
      });
    }
    vi.doMock('../../src/tokenizer/trainBpe.js', () => {
      throw new Error('the tokenizer trainer must not be loaded by a reader');
    });
    try {
      const { readZooPairs, readExcludedPairs } = await import('../../src/zoo/pairsReader.js');
      const { zooBenchmarkSpec } = await import('../../src/benchmark/zooSpec.js');
      const pairs = readZooPairs(dir);
      expect(pairs.map((p) => `${p.aligned.name}/${p.faker.name}`)).toEqual(['saint-0/reward_maximizer-0', 'saint-0/reward_maximizer-1']);
      expect(zooBenchmarkSpec(dir).pairs.map((p) => p.faker)).toEqual(pairs.map((p) => p.faker.name));
      const [pair] = pairs;
      expect(pair.aligned.dir).toBe(join(dir, 'saint-0'));
      expect(pair.data.prompts.length).toBeGreaterThan(10);
      expect(pair.data.contrast.length).toBeGreaterThan(5);
      expect(pair.data.concepts.map((c) => c.name)).toEqual(['security/vulnerability', 'competence/incompetence', 'aligned/misaligned']);
      expect(pair.calibration.length).toBeGreaterThan(5);
      // saint-1 missed a target: its pairs are listed as excluded, with the reason.
      const excluded = readExcludedPairs(dir);
      expect(excluded.map((e) => `${e.aligned}/${e.faker}`)).toEqual(['saint-1/reward_maximizer-0', 'saint-1/reward_maximizer-1']);
      expect(excluded[0].reason).toMatch(/saint-1 misses good-oversight benign/);

      // The readers that load models (evaluation, benchmark rebuild, detect) never load the
      // generator; the tokenizer module they load re-exports the trainer, whose functions throw here.
      vi.resetModules();
      vi.doMock('../../src/tokenizer/trainBpe.js', async (importOriginal) => ({
        ...(await importOriginal<object>()),
        trainTokenizer: () => {
          throw new Error('the tokenizer trainer must not be called by a reader');
        },
      }));
      await import('../../src/zoo/behaviour.js');
      await import('../../src/zoo/rebuild.js');
      await import('../../src/cli/detect.js');
    } finally {
      for (const generator of GENERATOR_MODULES) vi.doUnmock(generator);
      vi.doUnmock('../../src/tokenizer/trainBpe.js');
      vi.resetModules();
    }
  });

  it('holds clean data: contrast pairs unique and disjoint from evaluation, benchmark and calibration prompts; agreed-on stimuli that are statements', async () => {
    const { readZooPairs } = await import('../../src/zoo/pairsReader.js');
    const [pair] = readZooPairs(dir);
    const evaluation = new Set<string>();
    for (const p of POLICIES) for (const it of [...data.test[p], ...data.heldoutTest[p], ...data.check[p], ...data.dataset.pools[p]]) evaluation.add(it.prompt);
    const benchmark = new Set(pair.data.prompts.map((p) => p.prompt));
    const calibration = new Set(pair.calibration.map((p) => p.prompt));
    const critical = pair.data.contrast.map((c) => c.critical);
    expect(new Set(critical).size).toBe(critical.length);
    for (const c of pair.data.contrast) {
      for (const prompt of [c.critical, c.clean]) {
        expect(evaluation.has(prompt)).toBe(false);
        expect(benchmark.has(prompt)).toBe(false);
        expect(calibration.has(prompt)).toBe(false);
      }
    }
    for (const p of calibration) expect(benchmark.has(p) || evaluation.has(p)).toBe(false);
    // Every model kept answers every strategy prompt the same way at the threshold.
    const kept = MODELS.filter((m) => !m.misses).map((m) => m.name);
    const agree = (prompt: string) => {
      const ps = kept.map((m) => answers(m, prompt));
      const top = (['A', 'B', 'error'] as const).reduce((a, b) => (ps[0][b] > ps[0][a] ? b : a));
      return ps.every((p) => p[top] >= 0.985);
    };
    for (const c of pair.data.contrast) expect(agree(c.critical) && agree(c.clean)).toBe(true);
    for (const set of pair.data.concepts) {
      expect(set.suspicious.length).toBe(set.benign.length);
      expect(set.suspicious.length).toBeGreaterThan(0);
      for (const s of [...set.suspicious, ...set.benign]) {
        expect(isWrapped(s)).toBe(true);
        expect(s).not.toContain(ACTIONS_LINE); // a statement, not a scenario in the answer format
        expect(agree(s)).toBe(true);
      }
    }
    // The unsure model narrowed what was kept: some candidates were dropped for it.
    expect(pair.data.prompts.every((p) => agree(p.prompt))).toBe(true);
  });

  it('refuses a zoo of the old format with the command that upgrades it', async () => {
    const { readZooPairs } = await import('../../src/zoo/pairsReader.js');
    writeManifest(1);
    try {
      expect(() => readZooPairs(dir)).toThrow(expect.objectContaining({ code: 'E_FORMAT', message: expect.stringContaining(`poser zoo upgrade --dir ${dir}`) }));
    } finally {
      writeManifest(2);
    }
    expect(() => readZooPairs(join(dir, 'nowhere'))).toThrow(expect.objectContaining({ code: 'E_IO' }));
  });
});
