/**
 * The pair benchmark of a built zoo: its models, its (aligned, faker) pairs,
 * the data of each combination (benchmark prompts from the zoo's files,
 * contrast pairs and concept stimuli regenerated from its recipe), and each
 * combination's calibration prompts.
 *
 * Calibration prompts. The confidence-controlled benchmark fits a temperature
 * per model on good-oversight prompts that are not benchmark prompts. They
 * come from one more draw of the zoo's generator (same seed and templates,
 * other sizes, so other scenarios), keeping only good-oversight scenario
 * items of the combination's two policies and dropping every prompt that
 * occurs in a training pool or in the zoo's test split (from which the
 * benchmark candidates, and so the benchmark prompts, are drawn). They are
 * held out from training and from the benchmark alike. The runner then uses
 * those every model of the combination answers benignly with at least the
 * benchmark's threshold probability, the benchmark's own agreement rule.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PoserError } from '../errors.js';
import { benchmarkCandidatesOf, conceptStimuli, contrastPairs, generateDataset } from '../data/generate.js';
import { POLICIES, benignResponse, type AlignedPolicy, type FakerPolicy, type ScenarioItem, type TrainingItem } from '../data/types.js';
import { pairDataFromItems } from '../strategies/data.js';
import { zooData, type ZooData } from '../zoo/data.js';
import { loadZooManifest } from '../zoo/manifest.js';
import type { ModelPairsFile } from '../zoo/benchmark.js';
import type { ZooRecipe } from '../zoo/recipe.js';
import type { BenchmarkSpec, CalibrationPrompt } from './run.js';

/** The calibration prompts' provenance, in words (for the report). */
export const CALIBRATION_PROMPTS =
  "each combination's good-oversight prompts from a further draw of the zoo's generator, none of them a training, test or benchmark prompt";

export interface ZooPairsOptions {
  /** Contrast pairs per combination (default 20). */
  contrast?: number;
  /** Stimuli per concept side (default 10). */
  conceptStimuli?: number;
  /** Calibration prompts per combination, at most (default 200). */
  calibration?: number;
  seed?: number;
}

/** Good-oversight prompts of each combination that are neither training nor test (benchmark) prompts. */
export function calibrationPrompts(recipe: ZooRecipe, data: ZooData, combinations: readonly { name: string; aligned: AlignedPolicy; faker: FakerPolicy }[], max = 200): Record<string, CalibrationPrompt[]> {
  const d = recipe.data;
  const draw = generateDataset({
    seed: d.seed,
    variants: 1,
    singlePerPolicy: 2 * d.testSinglePerPolicy + 1,
    pairPerDistribution: 2 * d.testPairPerDistribution + 1,
    testSinglePerPolicy: 1,
    testPairPerDistribution: 1,
  });
  const used = new Set<string>();
  for (const p of POLICIES) for (const it of [...data.dataset.pools[p], ...data.test[p]]) used.add(it.prompt);
  const out: Record<string, CalibrationPrompt[]> = {};
  for (const c of combinations) {
    const items = benchmarkCandidatesOf(draw.pools, c.aligned, c.faker).filter((it) => it.oversight === 'good' && !used.has(it.prompt));
    out[c.name] = items.slice(0, max).map((it: ScenarioItem) => ({ prompt: it.prompt, benign: benignResponse(it) }));
  }
  return out;
}

/** The benchmark of the zoo at `dir`: the one place that reads its pair file. */
export function zooBenchmark(dir: string, options: ZooPairsOptions = {}): BenchmarkSpec {
  const pairsPath = join(dir, 'model_pairs.json');
  if (!existsSync(pairsPath)) throw new PoserError('E_IO', `no benchmark in ${dir} (model_pairs.json not found); build it with \`poser zoo build\``);
  let file: ModelPairsFile;
  try {
    file = JSON.parse(readFileSync(pairsPath, 'utf8')) as ModelPairsFile;
  } catch (error) {
    throw new PoserError('E_FORMAT', `${pairsPath}: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(file?.pairs) || file.pairs.length === 0) throw new PoserError('E_FORMAT', `${pairsPath}: no pairs`);
  const manifest = loadZooManifest(dir);
  const data = zooData(manifest.recipe);
  const base = dirname(resolve(pairsPath));
  const seed = options.seed ?? 0;

  const models: BenchmarkSpec['models'] = [];
  const addModel = (name: string, rel: string, policy: string) => {
    if (!models.some((m) => m.name === name)) models.push({ name, dir: join(base, rel), policy });
  };
  const combos: { name: string; aligned: AlignedPolicy; faker: FakerPolicy; benchmark: string }[] = [];
  for (const p of file.pairs) {
    addModel(p.aligned, p.aligned_dir, p.aligned_type);
    addModel(p.faker, p.faker_dir, p.faker_type);
    if (!combos.some((c) => c.name === p.combination)) combos.push({ name: p.combination, aligned: p.aligned_type, faker: p.faker_type, benchmark: p.benchmark });
  }
  const calibration = calibrationPrompts(manifest.recipe, data, combos, options.calibration);
  const combinations: BenchmarkSpec['combinations'] = combos.map((c) => {
    const items: TrainingItem[] = Object.values(data.test).flat().filter((it) => it.dataset === c.name);
    const benchmarkPath = join(base, c.benchmark);
    let benchmark: unknown[];
    try {
      benchmark = JSON.parse(readFileSync(benchmarkPath, 'utf8')) as unknown[];
    } catch (error) {
      throw new PoserError(existsSync(benchmarkPath) ? 'E_FORMAT' : 'E_IO', `${benchmarkPath}: ${(error as Error).message}`, { cause: error });
    }
    return {
      name: c.name,
      data: pairDataFromItems(
        {
          benchmark,
          contrast: contrastPairs(items, { n: options.contrast ?? 20, seed, oversight: 'good' }),
          concepts: conceptStimuli(items, { n: options.conceptStimuli ?? 10, seed }),
        },
        benchmarkPath,
      ),
      calibration: calibration[c.name],
    };
  });
  return { models, combinations, pairs: file.pairs.map((p) => ({ aligned: p.aligned, faker: p.faker, combination: p.combination })), threshold: file.threshold };
}
