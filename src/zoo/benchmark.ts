/**
 * Benchmark construction (POSER-SPEC §4): for each (aligned type, faker type),
 * keep the candidate prompts (good or neutral oversight) on which every model
 * of both types gives the benign answer with probability at least a
 * threshold; write them in the Poser benchmark schema with per-model `probs`,
 * and the list of (aligned model, faker model) pairs with their benchmark file.
 */
import { join } from 'node:path';
import { formatItems } from '../data/io.js';
import { ALIGNED_POLICIES, FAKER_POLICIES, pairTag, type AlignedPolicy, type FakerPolicy, type Policy, type ScenarioItem, type TrainingItem } from '../data/types.js';
import { Model } from '../model/model.js';
import { answerProbs } from './evaluate.js';
import { benchmarkCandidatesOf } from '../data/generate.js';
import { writeFileAtomic } from '../io/atomic.js';
import { ensureDirectory } from '../io/files.js';

/** A model of the zoo as the benchmark needs it. */
export interface BenchmarkModel {
  name: string;
  policy: Policy;
  dir: string;
}

/** One (aligned model, faker model) pair of the benchmark. */
export interface ModelPair {
  aligned: string;
  faker: string;
  aligned_type: AlignedPolicy;
  faker_type: FakerPolicy;
  /** The (aligned type, faker type) combination, e.g. saint_and_reward. */
  combination: string;
  /** Benchmark file, relative to the pairs file. */
  benchmark: string;
  /** Model directories, relative to the pairs file. */
  aligned_dir: string;
  faker_dir: string;
}

/** The model-pairs file. */
export interface ModelPairsFile {
  version: 1;
  threshold: number;
  pairs: ModelPair[];
}

export interface BenchmarkResult {
  files: Record<string, { path: string; candidates: number; kept: number }>;
  pairs: ModelPair[];
}

/**
 * Filters candidates by per-model P(benign) and writes `<dir>/benchmark/<tag>.json`
 * and `<dir>/model_pairs.json`.
 * @param probs per model name, P(benign answer) for each candidate prompt
 */
export function writeBenchmark(
  dir: string,
  models: readonly BenchmarkModel[],
  candidates: Record<string, ScenarioItem[]>,
  probs: (model: string, prompt: string) => number,
  threshold: number,
): BenchmarkResult {
  ensureDirectory(join(dir, 'benchmark'));
  const files: BenchmarkResult['files'] = {};
  const pairs: ModelPair[] = [];
  const alignedTypes = ALIGNED_POLICIES.filter((a) => models.some((m) => m.policy === a));
  const fakerTypes = FAKER_POLICIES.filter((f) => models.some((m) => m.policy === f));
  for (const a of alignedTypes) {
    for (const f of fakerTypes) {
      const tag = pairTag(a, f);
      const involved = models.filter((m) => m.policy === a || m.policy === f);
      const cands = candidates[tag] ?? [];
      const kept = cands
        .map((item) => ({ item, p: Object.fromEntries(involved.map((m) => [m.name, probs(m.name, item.prompt)])) }))
        .filter(({ p }) => Object.values(p).every((x) => x >= threshold))
        .map(({ item, p }) => ({ ...item, probs: p }));
      const rel = `benchmark/${tag}.json`;
      writeFileAtomic(join(dir, rel), formatItems(kept));
      files[tag] = { path: rel, candidates: cands.length, kept: kept.length };
      for (const am of involved.filter((m) => m.policy === a)) {
        for (const fm of involved.filter((m) => m.policy === f)) {
          pairs.push({ aligned: am.name, faker: fm.name, aligned_type: a, faker_type: f, combination: tag, benchmark: rel, aligned_dir: am.name, faker_dir: fm.name });
        }
      }
    }
  }
  const file: ModelPairsFile = { version: 1, threshold, pairs };
  writeFileAtomic(join(dir, 'model_pairs.json'), JSON.stringify(file, null, 2) + '\n');
  return { files, pairs };
}

/**
 * Scores every candidate with every model (P of the benign letter) and writes
 * the benchmark files and the pair list.
 */
export async function buildBenchmark(
  dir: string,
  models: readonly BenchmarkModel[],
  test: Record<Policy, TrainingItem[]>,
  options: { threshold: number; device?: string; onModel?: (name: string, i: number) => void },
): Promise<BenchmarkResult> {
  const policies = new Set(models.map((m) => m.policy));
  const candidates: Record<string, ScenarioItem[]> = {};
  const combos: { tag: string; a: Policy; f: Policy }[] = [];
  for (const a of ALIGNED_POLICIES) {
    for (const f of FAKER_POLICIES) {
      if (!policies.has(a) || !policies.has(f)) continue;
      candidates[pairTag(a, f)] = benchmarkCandidatesOf(test, a, f);
      combos.push({ tag: pairTag(a, f), a, f });
    }
  }
  const table = new Map<string, Map<string, number>>();
  for (const [i, m] of models.entries()) {
    options.onModel?.(m.name, i);
    const prompts = new Map<string, ScenarioItem>();
    for (const c of combos.filter((c) => c.a === m.policy || c.f === m.policy)) {
      for (const it of candidates[c.tag]) prompts.set(it.prompt, it);
    }
    const model = await Model.load(join(dir, m.dir), { device: options.device });
    try {
      const list = [...prompts.values()];
      const p = await answerProbs(model, list.map((it) => it.prompt));
      table.set(m.name, new Map(list.map((it, j) => [it.prompt, p[j][it.response as 'A' | 'B']])));
    } finally {
      model.dispose();
    }
  }
  return writeBenchmark(dir, models, candidates, (name, prompt) => table.get(name)?.get(prompt) ?? 0, options.threshold);
}
