/**
 * The pair benchmark of a built zoo, from the zoo's own files (read by
 * `readZooPairs`, src/zoo/pairsReader.ts): its models, its (aligned, faker) pairs,
 * each combination's data and calibration prompts, and the agreement
 * threshold. Pairs the zoo excluded (a model missed its targets) are not
 * among them.
 *
 * Calibration prompts: the zoo writes, per combination, good-oversight
 * prompts of the two policies from a draw of the generator that no training,
 * test or benchmark prompt comes from (docs/zoo.md). The runner uses those
 * every model of the combination answers benignly with at least the
 * benchmark's threshold probability, the benchmark's own agreement rule.
 */
import { readZooPairs, readZooPairsFile } from '../zoo/pairsReader.js';
import type { BenchmarkSpec } from './run.js';

/** The calibration prompts' provenance, in words (for the report). */
export const CALIBRATION_PROMPTS =
  "each combination's good-oversight prompts from a draw of the zoo's generator disjoint from training, test and benchmark prompts (the zoo's calibration/ files), kept where every model of the combination agrees as on the benchmark";

/** The benchmark of the zoo at `dir`: the one place the benchmark reads a zoo's pairs. */
export function zooBenchmarkSpec(dir: string): BenchmarkSpec {
  const pairs = readZooPairs(dir);
  const file = readZooPairsFile(dir);
  const models: BenchmarkSpec['models'] = [];
  const combinations: BenchmarkSpec['combinations'] = [];
  for (const p of pairs) {
    for (const m of [p.aligned, p.faker]) if (!models.some((x) => x.name === m.name)) models.push({ name: m.name, dir: m.dir, policy: m.policy });
    if (!combinations.some((c) => c.name === p.combination)) combinations.push({ name: p.combination, data: p.data, calibration: p.calibration });
  }
  return {
    models,
    combinations,
    pairs: pairs.map((p) => ({ aligned: p.aligned.name, faker: p.faker.name, combination: p.combination })),
    threshold: file.threshold,
    excluded: file.excluded.map((e) => ({ aligned: e.aligned, faker: e.faker, reason: e.reason })),
  };
}
