/**
 * The pair benchmark of a built zoo, from the zoo's own files (read by
 * `readZooPairs`, src/zoo/pairsReader.ts): its models, its (aligned, faker) pairs,
 * each combination's data, and the agreement threshold. Pairs the zoo
 * excluded (a model missed its targets) are not among them.
 *
 * The runner calibrates on a held-out half of each combination's benchmark
 * prompts, a new half per seed (`splitForCalibration`): the same oversight mix as the prompts the
 * detectors see. The zoo's calibration/ files (good oversight only) are not
 * used by the benchmark: matching confidence on good-oversight prompts alone
 * left a gap on the benchmark's good and neutral ones.
 */
import { readZooPairs, readZooPairsFile } from '../zoo/pairsReader.js';
import type { BenchmarkSpec } from './run.js';

/** The calibration prompts' provenance, in words (for the report). */
export const CALIBRATION_PROMPTS =
  "a held-out half of each combination's benchmark prompts (split by a coin of the combination's name and the seed before any model runs; no detector sees them under that seed), kept where every model of the combination agrees as on the benchmark";

/** The benchmark of the zoo at `dir`: the one place the benchmark reads a zoo's pairs. */
export function zooBenchmarkSpec(dir: string): BenchmarkSpec {
  const pairs = readZooPairs(dir);
  const file = readZooPairsFile(dir);
  const models: BenchmarkSpec['models'] = [];
  const combinations: BenchmarkSpec['combinations'] = [];
  for (const p of pairs) {
    for (const m of [p.aligned, p.faker]) if (!models.some((x) => x.name === m.name)) models.push({ name: m.name, dir: m.dir, policy: m.policy });
    if (!combinations.some((c) => c.name === p.combination)) combinations.push({ name: p.combination, data: p.data });
  }
  return {
    models,
    combinations,
    pairs: pairs.map((p) => ({ aligned: p.aligned.name, faker: p.faker.name, combination: p.combination })),
    threshold: file.threshold,
    excluded: file.excluded.map((e) => ({ aligned: e.aligned, faker: e.faker, reason: e.reason })),
  };
}
