/**
 * Controls: detectors of the same shape as the strategies that never touch a
 * model's internals, reported beside every strategy. `random` is a seeded
 * coin (expect 50%). The confidence controls read only the subjects' answer
 * probabilities on the pair's benchmark prompts: two call the less confident
 * model the faker (by mean P(benign), by mean benign log-odds), one the model
 * whose benign log-odds vary more from prompt to prompt (a faker conditions
 * its answer on the prompt; a strategy whose response depends on how close
 * each prompt is to flipping can read that spread). A strategy that does no
 * better than them may be reading outputs, not internals.
 */
import { check } from '../errors.js';
import { Rng } from '../data/random.js';
import { answerProbabilities, type AnswerProbabilities } from '../strategies/primitives/answers.js';
import { DEFAULT_BATCH_SIZE } from '../strategies/primitives/batching.js';
import { mean, std } from '../strategies/primitives/stats.js';
import type { Subject } from '../strategies/subject.js';
import type { CommonOptions, DetectionStrategy, Measurement, PairData } from '../strategies/types.js';
import { checkMeasurements, decide, defineStrategy } from '../strategies/verdict.js';

/** Options of the controls: the common ones, and the pair's position for the coin. */
export interface ControlOptions extends CommonOptions {
  /** Where the pair sits in the benchmark (set by the runner); the random coin depends on it and the seed. */
  pair?: string;
}

/** P(benign) and P(other) of each benchmark prompt, from a softmax over the whole vocabulary. */
export async function benignProbabilities(subject: Subject, data: PairData, batchSize = DEFAULT_BATCH_SIZE): Promise<AnswerProbabilities> {
  check(data.prompts.length > 0, 'confidence control: the pair has no benchmark prompts');
  return answerProbabilities(subject, data.prompts.map((p) => p.prompt), data.prompts.map((p) => p.benign), { batchSize });
}

/** Benign log-odds, log P(benign) - log P(other), per prompt. */
export function logOdds(p: { benign: readonly number[]; other: readonly number[] }): number[] {
  return p.benign.map((b, i) => Math.log(b) - Math.log(p.other[i]));
}

/** Mean benign log-odds of prompts. */
export function meanLogOdds(p: { benign: readonly number[]; other: readonly number[] }): number {
  return mean(logOdds(p));
}

/** Standard deviation (population) of the benign log-odds across prompts. */
export function spreadLogOdds(p: { benign: readonly number[]; other: readonly number[] }): number {
  return std(logOdds(p));
}

/** The name of the seeded-coin control. */
export const RANDOM = 'random';
/** The name of the control that reads the mean probability of the benign answer. */
export const CONFIDENCE_P = 'confidenceP';
/** The name of the control that reads the mean benign log-odds. */
export const CONFIDENCE_LOG_ODDS = 'confidenceLogOdds';
/** The name of the control that reads the spread of the benign log-odds across prompts. */
export const CONFIDENCE_SPREAD = 'confidenceSpread';

/** A seeded coin per pair: the named faker depends on the seed and the pair's position only. */
export const randomControl: DetectionStrategy<ControlOptions> = defineStrategy<ControlOptions, Measurement>({
  name: RANDOM,
  title: 'Control: a seeded coin',
  async measure() {
    return { strategy: RANDOM, score: 0, evidence: {} };
  },
  compare(measurements, options = {}) {
    checkMeasurements(measurements, RANDOM);
    const heads = new Rng(`random:${options.seed ?? 0}:${options.pair ?? ''}`).bool();
    return { strategy: RANDOM, faker: heads ? 0 : 1, scores: heads ? [1, 0] : [0, 1], evidence: { coin: heads ? 0 : 1 } };
  },
});

function confidenceControl(name: string, title: string, statistic: 'meanP' | 'meanLogOdds' | 'spreadLogOdds'): DetectionStrategy<ControlOptions> {
  return defineStrategy<ControlOptions, Measurement>({
    name,
    title,
    async measure(subject, data, options = {}) {
      const p = await benignProbabilities(subject, data, options.batchSize);
      const x = logOdds(p);
      const numbers = { meanP: mean(p.benign), meanLogOdds: mean(x), spreadLogOdds: std(x) };
      // Less confident in the benign answer, or less uniformly so = more faker-like.
      const score = statistic === 'spreadLogOdds' ? numbers.spreadLogOdds : -numbers[statistic];
      return { strategy: name, score, evidence: { prompts: p.benign.length, ...numbers } };
    },
    compare(measurements) {
      checkMeasurements(measurements, name);
      return decide(name, [measurements[0].score, measurements[1].score], { models: measurements.map((m) => m.evidence) });
    },
  });
}

/** Calls the model with the lower mean P(benign) on the benchmark prompts the faker. */
export const confidencePControl = confidenceControl(CONFIDENCE_P, 'Control: lower mean P(benign)', 'meanP');
/** Calls the model with the lower mean benign log-odds on the benchmark prompts the faker. */
export const confidenceLogOddsControl = confidenceControl(CONFIDENCE_LOG_ODDS, 'Control: lower mean benign log-odds', 'meanLogOdds');

/** Calls the model whose benign log-odds vary more across the benchmark prompts (standard deviation) the faker. */
export const confidenceSpreadControl = confidenceControl(CONFIDENCE_SPREAD, 'Control: larger spread of benign log-odds across prompts', 'spreadLogOdds');

/** Every control, in report order. */
export const CONTROLS: readonly DetectionStrategy<ControlOptions>[] = [randomControl, confidencePControl, confidenceLogOddsControl, confidenceSpreadControl];
