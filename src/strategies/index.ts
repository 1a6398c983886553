/**
 * Detection strategies of the Poser paper (POSER-SPEC §5). Each measures one
 * blind {@link Subject} at a time (`measure`), compares two measurements
 * (`compare`) and runs both (`run`); all are built from the primitives
 * exported here.
 */
import { attentiveness } from './attentiveness.js';
import { beliefSteering } from './beliefSteering.js';
import { decisionSpeed } from './decisionSpeed.js';
import { learningSpeed } from './learningSpeed.js';
import { noiseInjection } from './noiseInjection.js';
import { suspiciousConcepts } from './suspiciousConcepts.js';
import type { DetectionStrategy } from './types.js';

export * from './types.js';
export * from './primitives/index.js';
export * from './pairData.js';
export * from './subject.js';
export * from './verdict.js';
export { pushGrid, pushMultipliers, type Normalization, type PushOptions } from './push.js';
export { beliefSteering, BELIEF_STEERING, type BeliefSteeringOptions, type SteeringCurve } from './beliefSteering.js';
export { noiseInjection, noiseSeedsFor, NOISE_INJECTION, type NoiseInjectionOptions, type NoiseCurve } from './noiseInjection.js';
export {
  learningSpeed,
  chooseLearningRate,
  LEARNING_RATE_GRID,
  LEARNING_SPEED,
  type LearningSpeedOptions,
  type LearningRecord,
  type LearningRateChoice,
} from './learningSpeed.js';
export { suspiciousConcepts, SUSPICIOUS_CONCEPTS, type SuspiciousConceptsOptions, type ConceptRecord, type ConceptMeasurement } from './suspiciousConcepts.js';
export { decisionSpeed, crossingDepth, DECISION_SPEED, type DecisionSpeedOptions, type DecisionRecord } from './decisionSpeed.js';
export { attentiveness, contrastSimilarity, ATTENTIVENESS, type AttentivenessOptions, type AttentivenessRecord } from './attentiveness.js';

/** The name of one of the six detection strategies. */
export type StrategyName = 'beliefSteering' | 'noiseInjection' | 'learningSpeed' | 'suspiciousConcepts' | 'decisionSpeed' | 'attentiveness';

/** A strategy with its number in the paper and the paper's published result. */
export interface StrategyInfo extends DetectionStrategy<any, any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Number in the paper (1-6). */
  id: number;
  name: StrategyName;
  /** The paper's accuracy over pairs, as a fraction (strategy 1 was reported as failing: chance). */
  paperAccuracy: number;
  paperResult: string;
}

const info = (id: number, s: DetectionStrategy<any, any>, paperAccuracy: number, paperResult: string): StrategyInfo => // eslint-disable-line @typescript-eslint/no-explicit-any
  ({ ...s, id, name: s.name as StrategyName, paperAccuracy, paperResult });

/** Every strategy by name, in the paper's order. */
export const STRATEGIES: Readonly<Record<StrategyName, StrategyInfo>> = {
  beliefSteering: info(1, beliefSteering, 0.5, 'failed (no better than chance)'),
  noiseInjection: info(2, noiseInjection, 0.98, '98%'),
  learningSpeed: info(3, learningSpeed, 0.9, '90%'),
  suspiciousConcepts: info(4, suspiciousConcepts, 0.71, '71%'),
  decisionSpeed: info(5, decisionSpeed, 0.47, '47%'),
  attentiveness: info(6, attentiveness, 0.46, '46%'),
};
