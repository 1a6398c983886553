/**
 * Controls: detectors of the same shape as the strategies that never touch a
 * model's internals, reported beside every strategy. `random` is a seeded
 * coin (expect 50%). The confidence controls read only the subjects' answer
 * probabilities on the pair's benchmark prompts and call the less confident
 * model the faker: a strategy that does no better than them may be reading
 * confidence, not internals.
 */
import { check } from '../errors.js';
import { Rng } from '../data/random.js';
import { answerProbabilities, type AnswerProbabilities } from '../strategies/primitives/answers.js';
import { DEFAULT_BATCH_SIZE } from '../strategies/primitives/batching.js';
import { mean } from '../strategies/primitives/stats.js';
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

/** Mean benign log-odds, log P(benign) - log P(other), of prompts. */
export function meanLogOdds(p: { benign: readonly number[]; other: readonly number[] }): number {
  let s = 0;
  for (let i = 0; i < p.benign.length; i++) s += Math.log(p.benign[i]) - Math.log(p.other[i]);
  return s / p.benign.length;
}

/** The name of the seeded-coin control. */
export const RANDOM = 'random';
/** The name of the control that reads the mean probability of the benign answer. */
export const CONFIDENCE_P = 'confidenceP';
/** The name of the control that reads the mean benign log-odds. */
export const CONFIDENCE_LOG_ODDS = 'confidenceLogOdds';

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

function confidenceControl(name: string, title: string, statistic: 'meanP' | 'meanLogOdds'): DetectionStrategy<ControlOptions> {
  return defineStrategy<ControlOptions, Measurement>({
    name,
    title,
    async measure(subject, data, options = {}) {
      const p = await benignProbabilities(subject, data, options.batchSize);
      const meanP = mean(p.benign);
      const logOdds = meanLogOdds(p);
      // Less confident in the benign answer = more faker-like.
      return { strategy: name, score: -(statistic === 'meanP' ? meanP : logOdds), evidence: { prompts: p.benign.length, meanP, meanLogOdds: logOdds } };
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

/** Every control, in report order. */
export const CONTROLS: readonly DetectionStrategy<ControlOptions>[] = [randomControl, confidencePControl, confidenceLogOddsControl];
