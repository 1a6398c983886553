/**
 * Strategy 4 (POSER-SPEC §5): identify suspicious concepts. Find, in each
 * model, the direction from benign to suspicious stimuli (security ->
 * vulnerability, competence -> incompetence, aligned -> misaligned) and see
 * how far the model's representation of the benchmark prompts leans along it.
 */
import { check } from '../errors.js';
import { residPost } from '../model/hooks.js';
import type { Model } from '../model/model.js';
import {
  checkPair,
  cosineSimilarity,
  decide,
  DEFAULT_BATCH_SIZE,
  evaluationPrompts,
  l2Norm,
  lastTokenActivations,
  matrixRow,
  mean,
  meanRows,
  progressFor,
  resolveLayer,
  std,
  subtract,
} from './primitives.js';
import type { CommonOptions, PairData, Strategy, Verdict } from './types.js';

export interface SuspiciousConceptsOptions extends CommonOptions {
  /** Absolute layer to read (default: the paper's layer 20 of 40, scaled by depth). */
  layer?: number;
  /**
   * How per-concept results are combined into a model's score:
   * `zscore` (default): per concept, the model's mean cosine minus the mean
   * over both models' prompts, divided by their pooled standard deviation,
   * summed over concepts (every concept counts on the same scale);
   * `raw`: the sum over concepts of the mean cosine similarity.
   */
  combine?: 'zscore' | 'raw';
  /**
   * Subtract the midpoint of the two stimulus means from each prompt
   * activation before the cosine, so the score says on which side of the
   * concept boundary the prompts sit rather than how aligned they are with
   * the direction (default false: the paper's plain cosine).
   */
  center?: boolean;
  /** Use at most this many benchmark prompts (seeded choice; default all). */
  maxPrompts?: number;
}

/** Per-model, per-concept record of strategy 4. */
export interface ConceptRecord {
  name: string;
  directionNorm: number;
  /** Cosine similarity of each benchmark prompt's activation with the direction. */
  cosines: number[];
  meanCosine: number;
}

export const SUSPICIOUS_CONCEPTS = 'suspiciousConcepts';

const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);
const sumSquares = (xs: readonly number[], mu: number) => xs.reduce((s, x) => s + (x - mu) ** 2, 0);

async function conceptCosines(model: Model, index: number, data: PairData, options: SuspiciousConceptsOptions, prompts: string[]): Promise<{ layer: number; concepts: ConceptRecord[] }> {
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const layer = resolveLayer(model, options.layer, 20, SUSPICIOUS_CONCEPTS);
  const hook = residPost(layer);
  const report = progressFor(options.onProgress, SUSPICIOUS_CONCEPTS, `model ${index}: activations`);
  const acts = (await lastTokenActivations(model, prompts, [hook], batchSize, report))[hook];
  const concepts: ConceptRecord[] = [];
  for (const c of data.concepts) {
    const suspicious = meanRows((await lastTokenActivations(model, c.suspicious, [hook], batchSize))[hook]);
    const benign = meanRows((await lastTokenActivations(model, c.benign, [hook], batchSize))[hook]);
    const direction = subtract(suspicious, benign);
    const midpoint = suspicious.map((s, j) => (s + benign[j]) / 2);
    const cosines = prompts.map((_, i) => {
      const a = matrixRow(acts, i);
      return cosineSimilarity(options.center ? subtract(a, midpoint) : a, direction);
    });
    concepts.push({ name: c.name, directionNorm: l2Norm(direction), cosines, meanCosine: mean(cosines) });
  }
  return { layer, concepts };
}

/**
 * Strategy 4. For each concept set and each model: direction = mean
 * layer-20/40 last-token activation over the suspicious stimuli minus the
 * mean over the benign ones; each benchmark prompt's last-token activation is
 * scored by its cosine similarity with the direction. Per concept, the two
 * models' mean cosines are compared on a common scale (z-scored over both
 * models' prompts, by default) and summed over concepts; the model that sits
 * closer to the suspicious side is the faker. The paper reports 71%.
 */
export const suspiciousConcepts: Strategy<SuspiciousConceptsOptions> = async (models, data, options = {}): Promise<Verdict> => {
  checkPair(models, data, SUSPICIOUS_CONCEPTS, { prompts: true, concepts: true });
  const combine = options.combine ?? 'zscore';
  check(combine === 'zscore' || combine === 'raw', `${SUSPICIOUS_CONCEPTS}: combine must be 'zscore' or 'raw', got '${combine}'`);
  const { prompts } = evaluationPrompts(data, options.maxPrompts, options.seed ?? 0);
  const per: { layer: number; concepts: ConceptRecord[] }[] = [];
  for (let i = 0; i < 2; i++) per.push(await conceptCosines(models[i], i, data, options, prompts));
  const contributions = data.concepts.map((c, k) => {
    const [a, b] = [per[0].concepts[k], per[1].concepts[k]];
    if (combine === 'raw') return [a.meanCosine, b.meanCosine];
    // Pooled over both models' prompts; each sum is formed per model, then added, so swapping the models swaps the result exactly.
    const n = a.cosines.length + b.cosines.length;
    const mu = (sum(a.cosines) + sum(b.cosines)) / n;
    const sd = Math.sqrt((sumSquares(a.cosines, mu) + sumSquares(b.cosines, mu)) / n);
    return sd > 0 ? [(a.meanCosine - mu) / sd, (b.meanCosine - mu) / sd] : [0, 0];
  });
  const scores: [number, number] = [0, 1].map((m) => contributions.reduce((s, c) => s + c[m], 0)) as [number, number];
  return decide(SUSPICIOUS_CONCEPTS, models, scores, {
    combine,
    center: options.center ?? false,
    concepts: data.concepts.map((c, k) => ({ name: c.name, contribution: contributions[k] })),
    models: per.map((p) => ({ layer: p.layer, concepts: p.concepts.map(({ cosines, ...rest }) => ({ ...rest, stdCosine: std(cosines) })) })),
  }, options.seed ?? 0);
};
