/**
 * Strategy 4 (POSER-SPEC §5): identify suspicious concepts. Find, in each
 * model, the direction from benign to suspicious stimuli (security ->
 * vulnerability, competence -> incompetence, aligned -> misaligned) and see
 * how far the model's representation of the benchmark prompts leans along it.
 */
import { check } from '../errors.js';
import { residPost } from '../model/hooks.js';
import { lastTokenActivations, matrixRow, meanRows } from './primitives/activations.js';
import { DEFAULT_BATCH_SIZE, progressFor } from './primitives/batching.js';
import { checkData, evaluationPrompts } from './primitives/inputs.js';
import { resolveLayer } from './primitives/layers.js';
import { mean, std } from './primitives/stats.js';
import { cosineSimilarity, l2Norm, subtract } from './primitives/vectors.js';
import { checkSubject, type Subject } from './subject.js';
import type { CommonOptions, Measurement, PairData, Verdict } from './types.js';
import { comparable, decide, defineStrategy } from './verdict.js';

export interface SuspiciousConceptsOptions extends CommonOptions {
  /** Absolute layer to read (default: the paper's layer 20 of 40, scaled by depth). */
  layer?: number;
  /**
   * How per-concept results are combined into a verdict:
   * `zscore` (default): per concept, each model's mean cosine minus the mean
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

/** One model's record for one concept. */
export interface ConceptRecord {
  name: string;
  directionNorm: number;
  /** Cosine similarity of each benchmark prompt's activation with the direction. */
  cosines: number[];
  meanCosine: number;
  stdCosine: number;
}

/** What strategy 4 measures on one model: the layer, whether activations were centred, and one record per concept. */
export interface ConceptMeasurement extends Record<string, unknown> {
  layer: number;
  center: boolean;
  concepts: ConceptRecord[];
}

/** The name of strategy 4. */
export const SUSPICIOUS_CONCEPTS = 'suspiciousConcepts';

const sum = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0);
const sumSquares = (xs: readonly number[], mu: number) => xs.reduce((s, x) => s + (x - mu) ** 2, 0);

function checkCombine(combine: unknown): 'zscore' | 'raw' {
  const c = combine ?? 'zscore';
  check(c === 'zscore' || c === 'raw', `${SUSPICIOUS_CONCEPTS}: combine must be 'zscore' or 'raw', got '${String(combine)}'`);
  return c as 'zscore' | 'raw';
}

async function measure(s: Subject, data: PairData, options: SuspiciousConceptsOptions = {}): Promise<Measurement<ConceptMeasurement>> {
  checkSubject(s, SUSPICIOUS_CONCEPTS);
  checkData(data, SUSPICIOUS_CONCEPTS, { prompts: true, concepts: true });
  checkCombine(options.combine);
  const { prompts } = evaluationPrompts(data, options.maxPrompts, options.seed ?? 0);
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const layer = resolveLayer(s, options.layer, 20, SUSPICIOUS_CONCEPTS);
  const hook = residPost(layer);
  const acts = (await lastTokenActivations(s, prompts, [hook], batchSize, progressFor(options.onProgress, SUSPICIOUS_CONCEPTS, 'activations')))[hook];
  const center = options.center ?? false;
  const concepts: ConceptRecord[] = [];
  for (const c of data.concepts) {
    // Stimuli are read exactly as given, at their last token.
    const suspicious = meanRows((await lastTokenActivations(s, c.suspicious, [hook], batchSize))[hook]);
    const benign = meanRows((await lastTokenActivations(s, c.benign, [hook], batchSize))[hook]);
    const direction = subtract(suspicious, benign);
    const midpoint = suspicious.map((x, j) => (x + benign[j]) / 2);
    const cosines = prompts.map((_, i) => {
      const a = matrixRow(acts, i);
      return cosineSimilarity(center ? subtract(a, midpoint) : a, direction);
    });
    concepts.push({ name: c.name, directionNorm: l2Norm(direction), cosines, meanCosine: mean(cosines), stdCosine: std(cosines) });
  }
  return { strategy: SUSPICIOUS_CONCEPTS, score: sum(concepts.map((c) => c.meanCosine)), evidence: { layer, center, concepts } };
}

function compare(ms: readonly [Measurement<ConceptMeasurement>, Measurement<ConceptMeasurement>], options: SuspiciousConceptsOptions = {}): Verdict {
  const combine = checkCombine(options.combine);
  const [a, b] = comparable(SUSPICIOUS_CONCEPTS, ms, ['layer', ['centring', (e) => e.center], ['concepts', (e) => e.concepts.map((c) => [c.name, c.cosines.length])]]);
  const contributions = a.concepts.map((ca, k) => {
    const cb = b.concepts[k];
    if (combine === 'raw') return [ca.meanCosine, cb.meanCosine];
    // Pooled over both models' prompts; each sum is formed per model, then added, so swapping the models swaps the result exactly.
    const n = ca.cosines.length + cb.cosines.length;
    const mu = (sum(ca.cosines) + sum(cb.cosines)) / n;
    const sd = Math.sqrt((sumSquares(ca.cosines, mu) + sumSquares(cb.cosines, mu)) / n);
    return sd > 0 ? [(ca.meanCosine - mu) / sd, (cb.meanCosine - mu) / sd] : [0, 0];
  });
  const scores = [0, 1].map((m) => contributions.reduce((s, c) => s + c[m], 0)) as [number, number];
  return decide(SUSPICIOUS_CONCEPTS, scores, {
    combine,
    center: a.center,
    concepts: a.concepts.map((c, k) => ({ name: c.name, contribution: contributions[k] })),
    models: [a, b].map((e) => ({ layer: e.layer, concepts: e.concepts.map(({ cosines, ...rest }) => rest) })),
  });
}

/**
 * Strategy 4. For each concept set and each model: direction = mean
 * layer-20/40 last-token activation over the suspicious stimuli minus the
 * mean over the benign ones (stimuli used exactly as the data gives them);
 * each benchmark prompt's last-token activation is scored by its cosine
 * similarity with the direction. Per concept, the two models' mean cosines
 * are compared on a common scale (z-scored over both models' prompts, by
 * default) and summed over concepts; the model that sits closer to the
 * suspicious side is the faker. The paper reports 71%.
 */
export const suspiciousConcepts = defineStrategy<SuspiciousConceptsOptions, Measurement<ConceptMeasurement>>({
  name: SUSPICIOUS_CONCEPTS,
  title: 'Identify suspicious concepts',
  measure,
  compare,
});
