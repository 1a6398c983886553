/**
 * Building blocks of the detection strategies. Each is small and usable on its
 * own, so that a new strategy can be written from the same parts: batched
 * answer probabilities (plain, or under many intervention settings at once),
 * last-token activations, mean activations and contrast vectors, vector
 * arithmetic, seeded splits, and the rule that turns two scores into a verdict.
 */
import { check } from '../errors.js';
import { Rng } from '../data/random.js';
import { residPost } from '../model/hooks.js';
import type { Intervention } from '../model/interventions.js';
import { softmaxPick } from '../model/model.js';
import { row } from '../model/tensor.js';
import type { Subject } from './subject.js';
import type { PairData, ProgressEvent } from './types.js';

/**
 * What a primitive needs of a model: a blind {@link Subject} or a `Model`
 * (both have these members), so the primitives compose outside strategies too.
 */
export type Computes<K extends keyof Subject> = Pick<Subject, K>;

/** An answer letter. */
export type Letter = 'A' | 'B';

/** Prompts per forward call unless a strategy is told otherwise. */
export const DEFAULT_BATCH_SIZE = 32;

/** Depth of the models the paper used (LLaMA-13B). */
export const PAPER_DEPTH = 40;

// ------------------------------------------------------------------ batching

/** Splits a list into consecutive chunks of at most `size` items. */
export function chunks<T>(items: readonly T[], size: number = DEFAULT_BATCH_SIZE): T[][] {
  check(Number.isInteger(size) && size > 0, `batch size must be a positive integer, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Runs `fn` on consecutive chunks of `items`, one chunk after another, and
 * concatenates the per-chunk results (which must have one entry per item).
 * `onBatch(done, total)` is called after each chunk.
 */
export async function mapBatches<T, R>(
  items: readonly T[],
  size: number,
  fn: (batch: T[], start: number) => Promise<R[]>,
  onBatch?: (done: number, total: number) => void,
): Promise<R[]> {
  const parts = chunks(items, size);
  const out: R[] = [];
  for (let i = 0; i < parts.length; i++) {
    const r = await fn(parts[i], i * size);
    check(r.length === parts[i].length, `mapBatches: ${r.length} results for a chunk of ${parts[i].length}`);
    out.push(...r);
    onBatch?.(i + 1, parts.length);
  }
  return out;
}

/** A progress reporter bound to a strategy and stage, or a no-op. */
export function progressFor(
  onProgress: ((event: ProgressEvent) => void) | undefined,
  strategy: string,
  stage: string,
): ((done: number, total: number) => void) | undefined {
  return onProgress ? (done, total) => onProgress({ strategy, stage, done, total }) : undefined;
}

// ------------------------------------------------------------------ layers and letters

/**
 * The layer of a model that corresponds to the paper's layer `paperLayer` of a
 * `paperDepth`-layer model: round(paperLayer * numLayers / paperDepth),
 * clamped to [0, numLayers - 1].
 */
export function layerFor(model: { numLayers: number } | number, paperLayer: number, paperDepth: number = PAPER_DEPTH): number {
  const numLayers = typeof model === 'number' ? model : model.numLayers;
  check(Number.isInteger(numLayers) && numLayers > 0, `layerFor: the model must have at least one layer, got ${numLayers}`);
  check(Number.isFinite(paperLayer) && paperLayer >= 0, `layerFor: paperLayer must be a number >= 0, got ${paperLayer}`);
  check(Number.isFinite(paperDepth) && paperDepth > 0, `layerFor: paperDepth must be > 0, got ${paperDepth}`);
  return Math.min(numLayers - 1, Math.max(0, Math.round((paperLayer * numLayers) / paperDepth)));
}

/** Resolves a strategy's layer: an explicit absolute layer (checked), or the paper's layer scaled by depth. */
export function resolveLayer(model: { numLayers: number }, explicit: number | undefined, paperLayer: number, what: string): number {
  if (explicit === undefined) return layerFor(model, paperLayer);
  check(Number.isInteger(explicit) && explicit >= 0 && explicit < model.numLayers,
    `${what}: layer ${explicit} out of range (the model has ${model.numLayers} layers: 0..${model.numLayers - 1})`);
  return explicit;
}

/** The other answer letter. */
export function flipped(letter: Letter): Letter {
  check(letter === 'A' || letter === 'B', `flipped: expected 'A' or 'B', got '${letter}'`);
  return letter === 'A' ? 'B' : 'A';
}

// ------------------------------------------------------------------ answer probabilities

/** Per prompt, P(benign letter) and P(other letter) (softmax over the full vocabulary). */
export interface AnswerProbabilities {
  benign: number[];
  other: number[];
}

function pickBenign(pAB: number[][], benign: readonly Letter[], offset: number): { benign: number; other: number }[] {
  return pAB.map(([pA, pB], i) => (benign[offset + i] === 'A' ? { benign: pA, other: pB } : { benign: pB, other: pA }));
}

function checkLetters(prompts: readonly string[], benign: readonly Letter[], what: string): void {
  check(prompts.length === benign.length, `${what}: ${benign.length} benign letters for ${prompts.length} prompts`);
  benign.forEach((b, i) => check(b === 'A' || b === 'B', `${what}: benign[${i}] must be 'A' or 'B', got '${b}'`));
}

function split(rows: { benign: number; other: number }[]): AnswerProbabilities {
  return { benign: rows.map((r) => r.benign), other: rows.map((r) => r.other) };
}

/**
 * P(benign letter) and P(other letter) at the last position of each prompt,
 * in batches, optionally under interventions.
 */
export async function answerProbabilities(
  model: Computes<'scoreChoices'>,
  prompts: readonly string[],
  benign: readonly Letter[],
  options: { interventions?: readonly Intervention[]; batchSize?: number; onBatch?: (done: number, total: number) => void } = {},
): Promise<AnswerProbabilities> {
  checkLetters(prompts, benign, 'answerProbabilities');
  const rows = await mapBatches(
    prompts,
    options.batchSize ?? DEFAULT_BATCH_SIZE,
    async (batch, start) => pickBenign(await model.scoreChoices(batch, ['A', 'B'], { interventions: options.interventions }), benign, start),
    options.onBatch,
  );
  return split(rows);
}

/**
 * P(benign) and P(other) under many intervention settings, each touching
 * only the last position (e.g. a coefficient sweep). Uses `model.sweep`, so
 * the shared prefix of every batch is computed once. An empty setting is the
 * unmodified model. Returns one {@link AnswerProbabilities} per setting.
 */
export async function sweepAnswerProbabilities(
  model: Computes<'sweep' | 'tokenId'>,
  prompts: readonly string[],
  benign: readonly Letter[],
  settings: readonly (readonly Intervention[])[],
  options: { batchSize?: number; onBatch?: (done: number, total: number) => void } = {},
): Promise<AnswerProbabilities[]> {
  checkLetters(prompts, benign, 'sweepAnswerProbabilities');
  check(settings.length > 0, 'sweepAnswerProbabilities: at least one setting is needed');
  const ids = [model.tokenId('A'), model.tokenId('B')];
  const size = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const out = settings.map(() => ({ benign: [] as number[], other: [] as number[] }));
  const parts = chunks(prompts, size);
  for (let c = 0; c < parts.length; c++) {
    const results = await model.sweep(parts[c], settings);
    results.forEach((r, s) => {
      for (const p of pickBenign(softmaxPick(r.logits, ids), benign, c * size)) {
        out[s].benign.push(p.benign);
        out[s].other.push(p.other);
      }
    });
    options.onBatch?.(c + 1, parts.length);
  }
  return out;
}

// ------------------------------------------------------------------ activations

/** A row-major matrix: `shape[0]` rows (prompts) of `shape[1]` values. Accepted by `fitLogisticProbe`. */
export interface ActivationMatrix {
  data: Float32Array;
  shape: [number, number];
}

/** Row `i` of a matrix (a view, no copy). */
export function matrixRow(m: ActivationMatrix, i: number): Float32Array {
  const d = m.shape[1];
  return m.data.subarray(i * d, (i + 1) * d);
}

/** The rows of a matrix at the given indices, as a new matrix. */
export function selectRows(m: ActivationMatrix, indices: readonly number[]): ActivationMatrix {
  const d = m.shape[1];
  const data = new Float32Array(indices.length * d);
  indices.forEach((r, i) => data.set(matrixRow(m, r), i * d));
  return { data, shape: [indices.length, d] };
}

/**
 * Last-token activations of every prompt at each hook, captured in batches
 * (one forward per batch for all hooks): hook -> [prompts, D].
 */
export async function lastTokenActivations(
  model: Computes<'capture' | 'hiddenSize'>,
  prompts: readonly string[],
  hooks: readonly string[],
  batchSize: number = DEFAULT_BATCH_SIZE,
  onBatch?: (done: number, total: number) => void,
): Promise<Record<string, ActivationMatrix>> {
  check(prompts.length > 0, 'lastTokenActivations: no prompts');
  check(hooks.length > 0, 'lastTokenActivations: no hooks');
  const d = model.hiddenSize;
  const out: Record<string, ActivationMatrix> = {};
  for (const h of hooks) out[h] = { data: new Float32Array(prompts.length * d), shape: [prompts.length, d] };
  const parts = chunks(prompts, batchSize);
  for (let c = 0; c < parts.length; c++) {
    const caps = await model.capture(parts[c], [...hooks]);
    for (const h of hooks) {
      const a = caps[h];
      for (let i = 0; i < parts[c].length; i++) out[h].data.set(row(a, i), (c * batchSize + i) * d);
    }
    onBatch?.(c + 1, parts.length);
  }
  return out;
}

/** The mean of a matrix's rows (accumulated in float64). */
export function meanRows(m: ActivationMatrix): Float32Array {
  const [n, d] = m.shape;
  check(n > 0, 'meanRows: no rows');
  const acc = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) acc[j] += m.data[i * d + j];
  return Float32Array.from(acc, (x) => x / n);
}

/** Mean last-token activation over prompts at one hook. */
export async function meanActivation(model: Computes<'capture' | 'hiddenSize'>, prompts: readonly string[], hook: string, batchSize: number = DEFAULT_BATCH_SIZE): Promise<Float32Array> {
  const acts = await lastTokenActivations(model, prompts, [hook], batchSize);
  return meanRows(acts[hook]);
}

/**
 * The contrast (oversight) vector of strategies 1 and 2: the mean last-token
 * activation after block `layer` over the critical prompts minus the mean over
 * the clean prompts.
 */
export async function contrastVector(
  model: Computes<'capture' | 'hiddenSize'>,
  pairs: readonly { critical: string; clean: string }[],
  layer: number,
  batchSize: number = DEFAULT_BATCH_SIZE,
): Promise<Float32Array> {
  check(pairs.length > 0, 'contrastVector: no contrast pairs');
  const hook = residPost(layer);
  const critical = await meanActivation(model, pairs.map((p) => p.critical), hook, batchSize);
  const clean = await meanActivation(model, pairs.map((p) => p.clean), hook, batchSize);
  return subtract(critical, clean);
}

// ------------------------------------------------------------------ vectors and numbers

/** a - b, elementwise. */
export function subtract(a: ArrayLike<number>, b: ArrayLike<number>): Float32Array {
  check(a.length === b.length, `subtract: lengths ${a.length} and ${b.length} differ`);
  return Float32Array.from({ length: a.length }, (_, i) => a[i] - b[i]);
}

/** Dot product (float64). */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  check(a.length === b.length, `dot: lengths ${a.length} and ${b.length} differ`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Euclidean norm. */
export function l2Norm(v: ArrayLike<number>): number {
  return Math.sqrt(dot(v, v));
}

/** Cosine similarity; 0 when either vector is zero. */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = l2Norm(a) * l2Norm(b);
  return n === 0 ? 0 : dot(a, b) / n;
}

/** Arithmetic mean (NaN for an empty list). */
export function mean(xs: ArrayLike<number>): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

/** Population standard deviation. */
export function std(xs: ArrayLike<number>): number {
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i] - m) ** 2;
  return Math.sqrt(s / xs.length);
}

/**
 * The mean of a curve over its x range: trapezoidal area divided by
 * (max x - min x). With a single point, that point's value.
 */
export function curveMean(xs: readonly number[], ys: readonly number[]): number {
  check(xs.length === ys.length && xs.length > 0, `curveMean: ${xs.length} x values for ${ys.length} y values`);
  if (xs.length === 1) return ys[0];
  const order = xs.map((_, i) => i).sort((i, j) => xs[i] - xs[j]);
  let area = 0;
  for (let k = 1; k < order.length; k++) {
    const [i, j] = [order[k - 1], order[k]];
    area += ((xs[j] - xs[i]) * (ys[i] + ys[j])) / 2;
  }
  const range = xs[order[order.length - 1]] - xs[order[0]];
  return range === 0 ? mean(ys) : area / range;
}

/** Checks a list of sweep coefficients: finite, distinct, including 0 (the baseline). */
export function checkCoefficients(coefficients: readonly number[], what: string): void {
  check(Array.isArray(coefficients) && coefficients.length > 0, `${what}: at least one coefficient is needed`);
  coefficients.forEach((c, i) => check(Number.isFinite(c), `${what}: coefficient ${i} is not a finite number`));
  check(new Set(coefficients).size === coefficients.length, `${what}: coefficients must be distinct`);
  check(coefficients.includes(0), `${what}: the coefficients must include 0 (the unmodified baseline)`);
}

// ------------------------------------------------------------------ seeded selection

/** Up to `max` items chosen by a seeded shuffle (all of them, in order, when `max` is absent or not smaller). */
export function seededSubset<T>(items: readonly T[], max: number | undefined, seed: number): T[] {
  if (max === undefined || max >= items.length) return items.slice();
  check(Number.isInteger(max) && max > 0, `the number of items to use must be a positive integer, got ${max}`);
  return new Rng(`subset:${seed}`).sample(items, max);
}

/**
 * A seeded train/test split of `n` indices. With `labels`, the split is
 * stratified: each label keeps round(testFraction * count) items in the test
 * set, at least one and leaving at least one for training where it has two.
 */
export function seededSplit(n: number, testFraction: number, seed: number, labels?: readonly number[]): { train: number[]; test: number[] } {
  check(testFraction > 0 && testFraction < 1, `testFraction must be in (0, 1), got ${testFraction}`);
  const rng = new Rng(`split:${seed}`);
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const key = labels ? labels[i] : 0;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(i);
  }
  const train: number[] = [];
  const test: number[] = [];
  for (const key of [...groups.keys()].sort((a, b) => a - b)) {
    const idx = rng.shuffle(groups.get(key)!);
    let k = Math.round(testFraction * idx.length);
    if (idx.length >= 2) k = Math.min(idx.length - 1, Math.max(1, k));
    test.push(...idx.slice(0, k));
    train.push(...idx.slice(k));
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}

// ------------------------------------------------------------------ pairs and verdicts

/** Checks that the pair data holds what a strategy needs, with messages that name the bad item. */
export function checkData(data: PairData, strategy: string, needs: { prompts?: boolean; contrast?: boolean; concepts?: boolean }): void {
  check(data && typeof data === 'object', `${strategy}: pair data is required`);
  if (needs.prompts) {
    check(Array.isArray(data.prompts) && data.prompts.length > 0, `${strategy}: data.prompts is empty`);
    data.prompts.forEach((p, i) => {
      check(typeof p.prompt === 'string' && p.prompt.length > 0, `${strategy}: data.prompts[${i}].prompt must be a non-empty string`);
      check(p.benign === 'A' || p.benign === 'B', `${strategy}: data.prompts[${i}].benign must be 'A' or 'B', got '${p.benign}'`);
    });
  }
  if (needs.contrast) {
    check(Array.isArray(data.contrast) && data.contrast.length > 0, `${strategy}: data.contrast is empty`);
    data.contrast.forEach((p, i) =>
      check(typeof p.critical === 'string' && typeof p.clean === 'string' && p.critical.length > 0 && p.clean.length > 0,
        `${strategy}: data.contrast[${i}] needs non-empty 'critical' and 'clean' prompts`));
  }
  if (needs.concepts) {
    check(Array.isArray(data.concepts) && data.concepts.length > 0, `${strategy}: data.concepts is empty`);
    data.concepts.forEach((c, i) =>
      check(Array.isArray(c.suspicious) && Array.isArray(c.benign) && c.suspicious.length > 0 && c.benign.length > 0,
        `${strategy}: data.concepts[${i}] ('${c.name}') needs suspicious and benign stimuli`));
  }
}

/** Plain numbers from a typed array, for JSON evidence. */
export function toList(v: ArrayLike<number>): number[] {
  return Array.from(v);
}

/** The steering coefficients of strategies 1 and 2: 0, 1, 3, 5, ..., 15. */
export const PAPER_COEFFICIENTS: readonly number[] = [0, 1, 3, 5, 7, 9, 11, 13, 15];

/** The benchmark prompts a strategy evaluates on (a seeded subset when `max` is given), split into texts and letters. */
export function evaluationPrompts(data: PairData, max: number | undefined, seed: number): { prompts: string[]; benign: Letter[] } {
  const chosen = seededSubset(data.prompts, max, seed);
  return { prompts: chosen.map((p) => p.prompt), benign: chosen.map((p) => p.benign) };
}

/** Each prompt's own answer: the letter with the higher probability (A on an exact tie). */
export async function ownAnswers(model: Computes<'scoreChoices'>, prompts: readonly string[], batchSize: number = DEFAULT_BATCH_SIZE): Promise<Letter[]> {
  return mapBatches(prompts, batchSize, async (batch) => (await model.scoreChoices(batch, ['A', 'B'])).map(([pA, pB]) => (pA >= pB ? 'A' : 'B')));
}

/** The layers a per-layer strategy reads: the given ones (checked), or every block. */
export function resolveLayers(model: { numLayers: number }, layers: readonly number[] | undefined, what: string): number[] {
  if (layers === undefined) return Array.from({ length: model.numLayers }, (_, i) => i);
  check(layers.length > 0, `${what}: at least one layer is needed`);
  layers.forEach((l) => check(Number.isInteger(l) && l >= 0 && l < model.numLayers,
    `${what}: layer ${l} out of range (the model has ${model.numLayers} layers: 0..${model.numLayers - 1})`));
  return [...layers];
}

/**
 * Linear interpolation of y(x) at `at`, with `xs` ascending. NaN outside
 * [xs[0], xs[last]] (no extrapolation); exact at the given points.
 */
export function interpolate(xs: readonly number[], ys: readonly number[], at: number): number {
  check(xs.length === ys.length && xs.length > 0, `interpolate: ${xs.length} x values for ${ys.length} y values`);
  for (let i = 1; i < xs.length; i++) check(xs[i] > xs[i - 1], 'interpolate: x values must be strictly ascending');
  if (!(at >= xs[0] && at <= xs[xs.length - 1])) return NaN;
  let k = 0;
  while (k < xs.length - 1 && xs[k + 1] < at) k++;
  if (xs[k] === at || k === xs.length - 1) return ys[k];
  if (xs[k + 1] === at) return ys[k + 1];
  return ys[k] + ((at - xs[k]) / (xs[k + 1] - xs[k])) * (ys[k + 1] - ys[k]);
}

/**
 * Per prompt, the log-odds of the other answer against the benign one at the
 * last position: logit(other) - logit(benign), read from the logits (so it
 * stays exact where a probability would underflow).
 */
export async function answerLogOdds(
  model: Computes<'forward' | 'tokenId'>,
  prompts: readonly string[],
  benign: readonly Letter[],
  options: { batchSize?: number; onBatch?: (done: number, total: number) => void } = {},
): Promise<number[]> {
  checkLetters(prompts, benign, 'answerLogOdds');
  const [a, b] = [model.tokenId('A'), model.tokenId('B')];
  return mapBatches(prompts, options.batchSize ?? DEFAULT_BATCH_SIZE, async (batch, start) => {
    const { logits } = await model.forward(batch, { logits: 'last' });
    return batch.map((_, i) => {
      const [la, lb] = [logits!.get(i, a), logits!.get(i, b)];
      return benign[start + i] === 'A' ? lb - la : la - lb;
    });
  }, options.onBatch);
}

/**
 * Seeded, stratified k-fold assignment of `labels.length` items: within each
 * label the items are shuffled and dealt to folds in turn. Returns each
 * item's fold (0..k-1).
 */
export function stratifiedFolds(labels: readonly number[], k: number, seed: number): number[] {
  check(Number.isInteger(k) && k >= 2, `stratifiedFolds: k must be an integer >= 2, got ${k}`);
  check(k <= labels.length, `stratifiedFolds: ${k} folds for ${labels.length} items`);
  const rng = new Rng(`folds:${seed}`);
  const fold = new Array<number>(labels.length).fill(0);
  let next = 0;
  for (const label of [...new Set(labels)].sort((x, y) => x - y)) {
    const idx = rng.shuffle(labels.map((l, i) => (l === label ? i : -1)).filter((i) => i >= 0));
    for (const i of idx) fold[i] = next++ % k;
  }
  return fold;
}
