/**
 * A model's answer letters and their probabilities at the last position:
 * plain, under interventions, under many settings at once (a sweep), as
 * log-odds, and the letter each prompt is answered with.
 */
import { check } from '../../errors.js';
import type { Intervention } from '../../model/interventions.js';
import { softmaxPick } from '../../model/model.js';
import { DEFAULT_BATCH_SIZE, forEachBatch, mapBatches } from './batching.js';
import type { Computes } from './computes.js';

/** An answer letter. */
export type Letter = 'A' | 'B';

/** The other answer letter. */
export function flipped(letter: Letter): Letter {
  check(letter === 'A' || letter === 'B', `flipped: expected 'A' or 'B', got '${letter}'`);
  return letter === 'A' ? 'B' : 'A';
}

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
  await forEachBatch(prompts, size, async (batch, start) => {
    const results = await model.sweep(batch, settings);
    results.forEach((r, s) => {
      for (const p of pickBenign(softmaxPick(r.logits, ids), benign, start)) {
        out[s].benign.push(p.benign);
        out[s].other.push(p.other);
      }
    });
  }, options.onBatch);
  return out;
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

/** The log-sum-exp of a row's `width` logits (read by `at`) without tokens a and b. */
export function logSumExpExcept(width: number, a: number, b: number, at: (j: number) => number): number {
  let max = -Infinity;
  for (let j = 0; j < width; j++) if (j !== a && j !== b) max = Math.max(max, at(j));
  let sum = 0;
  for (let j = 0; j < width; j++) if (j !== a && j !== b) sum += Math.exp(at(j) - max);
  return max + Math.log(sum);
}

/** Per prompt, the benign and other letters' logits and the log-sum-exp of every other token's logit. */
export interface AnswerLogits {
  benign: number[];
  other: number[];
  /** log sum over the vocabulary without the two letters of exp(logit). */
  rest: number[];
}

/**
 * The answer letters' logits and the log-mass of the rest of the vocabulary
 * at the last position of each prompt: enough to recompute P(benign) under
 * any bias on the letters (see {@link benignProbabilityUnderBias}).
 */
export async function answerLogits(
  model: Computes<'forward' | 'tokenId'>,
  prompts: readonly string[],
  benign: readonly Letter[],
  options: { batchSize?: number } = {},
): Promise<AnswerLogits> {
  checkLetters(prompts, benign, 'answerLogits');
  const [a, b] = [model.tokenId('A'), model.tokenId('B')];
  const rows = await mapBatches(prompts, options.batchSize ?? DEFAULT_BATCH_SIZE, async (batch, start) => {
    const { logits } = await model.forward(batch, { logits: 'last' });
    const width = logits!.shape[1];
    return batch.map((_, i) => {
      const [la, lb] = [logits!.get(i, a), logits!.get(i, b)];
      const [ben, oth] = benign[start + i] === 'A' ? [la, lb] : [lb, la];
      return { benign: ben, other: oth, rest: logSumExpExcept(width, a, b, (j) => logits!.get(i, j)) };
    });
  });
  return { benign: rows.map((r) => r.benign), other: rows.map((r) => r.other), rest: rows.map((r) => r.rest) };
}

/** P(benign) of one prompt when `bias` is added to both letters' logits: e^(b+x) / (e^(b+x) + e^(o+x) + e^rest). */
export function benignProbabilityUnderBias(l: { benign: number; other: number; rest: number }, bias: number): number {
  const [b, o, r] = [l.benign + bias, l.other + bias, l.rest];
  const max = Math.max(b, o, r);
  return Math.exp(b - max) / (Math.exp(b - max) + Math.exp(o - max) + Math.exp(r - max));
}

/** Each prompt's own answer: the letter with the higher probability (A on an exact tie). */
export async function ownAnswers(model: Computes<'scoreChoices'>, prompts: readonly string[], batchSize: number = DEFAULT_BATCH_SIZE): Promise<Letter[]> {
  return mapBatches(prompts, batchSize, async (batch) => (await model.scoreChoices(batch, ['A', 'B'])).map(([pA, pB]) => (pA >= pB ? 'A' : 'B')));
}
