/**
 * Benchmark construction (POSER-SPEC §4): for each (aligned type, faker type),
 * keep the candidate prompts (good or neutral oversight) on which every model
 * of both types gives the benign answer with probability at least a
 * threshold; write them in the Poser benchmark schema with per-model `probs`,
 * and the list of (aligned model, faker model) pairs with their files.
 *
 * The same agreement rule filters the pair's other data: contrast pairs and
 * concept statements stay only where every model gives one common answer at
 * the threshold. Models that missed their behaviour targets take no part:
 * their pairs are listed as excluded, with the reason, and they do not narrow
 * the prompts of the others.
 */
import { join } from 'node:path';
import { agreeOn, type AnswerDistribution } from '../data/agreement.js';
import { benchmarkCandidatesOf } from '../data/candidates.js';
import { ALIGNED_POLICIES, FAKER_POLICIES, pairTag, type AlignedPolicy, type FakerPolicy, type Policy, type ScenarioItem, type TrainingItem } from '../data/types.js';
import { Model } from '../model/model.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { CombinationCandidates } from './zooData.js';
import { answerProbs } from './evaluate.js';
import { combinationFiles, PAIRS_FILE, writeItems } from './files.js';

/** A model of the zoo as the benchmark needs it. */
export interface BenchmarkModel {
  name: string;
  policy: Policy;
  dir: string;
  /** Behaviour targets the model missed; a model with misses is left out of every pair. */
  misses?: string[];
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
  /** Good-oversight prompts that are not benchmark prompts (held out), contrast pairs and concept stimuli, relative to the pairs file. */
  calibration: string;
  contrast: string;
  concepts: string;
  /** Model directories, relative to the pairs file. */
  aligned_dir: string;
  faker_dir: string;
}

/** A pair left out because a model missed its behaviour targets. */
export interface ExcludedPair {
  aligned: string;
  faker: string;
  combination: string;
  reason: string;
}

/** The model-pairs file. */
export interface ModelPairsFile {
  version: 2;
  threshold: number;
  pairs: ModelPair[];
  excluded: ExcludedPair[];
}

/** What was kept of one combination's candidates. */
export interface CombinationCounts {
  path: string;
  candidates: number;
  kept: number;
  contrast: { candidates: number; kept: number };
  concepts: { candidates: number; kept: number };
  calibration: number;
}

/** The benchmark files and model pairs {@link buildBenchmark} made. */
export interface BenchmarkResult {
  files: Record<string, CombinationCounts>;
  pairs: ModelPair[];
  excluded: ExcludedPair[];
}

/** Sizes of the strategies' data per combination. */
export interface BenchmarkSizes {
  /** Contrast pairs kept per combination (default 20). */
  contrast?: number;
  /** Concept stimuli kept per side (default 10). */
  concepts?: number;
}

/**
 * Filters candidates by the models' answers and writes the combination files
 * and `<dir>/model_pairs.json`.
 * @param answers per model name and prompt, the model's answer probabilities
 */
export function writeBenchmark(
  dir: string,
  models: readonly BenchmarkModel[],
  candidates: Record<string, ScenarioItem[]>,
  answers: (model: string, prompt: string) => AnswerDistribution,
  threshold: number,
  extra: { combinations?: Record<string, CombinationCandidates>; sizes?: BenchmarkSizes } = {},
): BenchmarkResult {
  const files: BenchmarkResult['files'] = {};
  const pairs: ModelPair[] = [];
  const excluded: ExcludedPair[] = [];
  const nContrast = extra.sizes?.contrast ?? 20;
  const nConcepts = extra.sizes?.concepts ?? 10;
  const alignedTypes = ALIGNED_POLICIES.filter((a) => models.some((m) => m.policy === a));
  const fakerTypes = FAKER_POLICIES.filter((f) => models.some((m) => m.policy === f));
  for (const a of alignedTypes) {
    for (const f of fakerTypes) {
      const tag = pairTag(a, f);
      const rel = combinationFiles(tag);
      const involved = models.filter((m) => (m.policy === a || m.policy === f) && !m.misses?.length);
      const agree = (prompt: string, expected?: 'A' | 'B') => involved.length > 0 && agreeOn(involved.map((m) => answers(m.name, prompt)), threshold, expected);
      const cands = candidates[tag] ?? [];
      const kept = cands
        .filter((item) => agree(item.prompt, item.response))
        .map((item) => ({ ...item, probs: Object.fromEntries(involved.map((m) => [m.name, answers(m.name, item.prompt)[item.response]])) }));
      writeItems(dir, rel.benchmark, kept);
      const c = extra.combinations?.[tag];
      const benchmarkPrompts = new Set(kept.map((it) => it.prompt));
      const calibration = (c?.calibration ?? []).filter((it) => !benchmarkPrompts.has(it.prompt));
      writeItems(dir, rel.calibration, calibration);
      const contrast = (c?.contrast ?? []).filter((p) => agree(p.critical) && agree(p.clean)).slice(0, nContrast);
      writeItems(dir, rel.contrast, contrast);
      const concepts = (c?.concepts ?? []).map((set) => {
        const keep = set.positive.map((p, k) => agree(p) && agree(set.negative[k]));
        const idx = keep.flatMap((ok, k) => (ok ? [k] : [])).slice(0, nConcepts);
        return { ...set, positive: idx.map((k) => set.positive[k]), negative: idx.map((k) => set.negative[k]) };
      });
      writeItems(dir, rel.concepts, concepts);
      files[tag] = {
        path: rel.benchmark,
        candidates: cands.length,
        kept: kept.length,
        contrast: { candidates: c?.contrast.length ?? 0, kept: contrast.length },
        concepts: { candidates: c?.concepts[0]?.positive.length ?? 0, kept: Math.min(...concepts.map((s) => s.positive.length), Infinity) },
        calibration: calibration.length,
      };
      if (!Number.isFinite(files[tag].concepts.kept)) files[tag].concepts.kept = 0;
      for (const am of models.filter((m) => m.policy === a)) {
        for (const fm of models.filter((m) => m.policy === f)) {
          const missing = [am, fm].filter((m) => m.misses?.length);
          if (missing.length) {
            excluded.push({ aligned: am.name, faker: fm.name, combination: tag, reason: missing.map((m) => `${m.name} misses ${m.misses!.join('; ')}`).join('; ') });
            continue;
          }
          pairs.push({ aligned: am.name, faker: fm.name, aligned_type: a, faker_type: f, combination: tag, ...rel, aligned_dir: am.dir, faker_dir: fm.dir });
        }
      }
    }
  }
  const file: ModelPairsFile = { version: 2, threshold, pairs, excluded };
  writeFileAtomic(join(dir, PAIRS_FILE), JSON.stringify(file, null, 2) + '\n');
  return { files, pairs, excluded };
}

/**
 * Scores every candidate (benchmark prompts, contrast prompts, concept
 * statements) with every model and writes the benchmark files and the pair
 * list.
 */
export async function buildBenchmark(
  dir: string,
  models: readonly BenchmarkModel[],
  test: Record<Policy, TrainingItem[]>,
  options: { threshold: number; device?: string; combinations?: Record<string, CombinationCandidates>; sizes?: BenchmarkSizes; onModel?: (name: string, i: number) => void },
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
  const table = new Map<string, Map<string, AnswerDistribution>>();
  for (const [i, m] of models.entries()) {
    if (m.misses?.length) continue; // takes no part in any pair
    options.onModel?.(m.name, i);
    const prompts = new Set<string>();
    for (const c of combos.filter((c) => c.a === m.policy || c.f === m.policy)) {
      for (const it of candidates[c.tag]) prompts.add(it.prompt);
      const extra = options.combinations?.[c.tag];
      for (const p of extra?.contrast ?? []) prompts.add(p.critical).add(p.clean);
      for (const set of extra?.concepts ?? []) for (const s of [...set.positive, ...set.negative]) prompts.add(s);
    }
    const model = await Model.load(join(dir, m.dir), { device: options.device });
    try {
      const list = [...prompts];
      const p = await answerProbs(model, list);
      table.set(m.name, new Map(list.map((prompt, j) => [prompt, p[j]])));
    } finally {
      model.dispose();
    }
  }
  const none: AnswerDistribution = { A: 0, B: 0, error: 0 };
  return writeBenchmark(dir, models, candidates, (name, prompt) => table.get(name)?.get(prompt) ?? none, options.threshold, { combinations: options.combinations, sizes: options.sizes });
}
