/**
 * Detection strategies of the Poser paper (POSER-SPEC §5), each a function
 * `(models, data, options) => Promise<Verdict>`, and the primitives they are
 * built from.
 */
import { attentiveness } from './attentiveness.js';
import { beliefSteering } from './beliefSteering.js';
import { decisionSpeed } from './decisionSpeed.js';
import { learningSpeed } from './learningSpeed.js';
import { noiseInjection } from './noiseInjection.js';
import { suspiciousConcepts } from './suspiciousConcepts.js';
import type { Strategy } from './types.js';

export * from './types.js';
export * from './primitives.js';
export * from './data.js';
export { beliefSteering, BELIEF_STEERING, type BeliefSteeringOptions, type SteeringCurve } from './beliefSteering.js';
export { noiseInjection, noiseSeedsFor, NOISE_INJECTION, type NoiseInjectionOptions, type NoiseCurve } from './noiseInjection.js';
export { learningSpeed, LEARNING_SPEED, type LearningSpeedOptions, type LearningRecord } from './learningSpeed.js';
export { suspiciousConcepts, SUSPICIOUS_CONCEPTS, type SuspiciousConceptsOptions, type ConceptRecord } from './suspiciousConcepts.js';
export { decisionSpeed, DECISION_SPEED, type DecisionSpeedOptions, type DecisionRecord } from './decisionSpeed.js';
export { attentiveness, contrastSimilarity, ATTENTIVENESS, type AttentivenessOptions, type AttentivenessRecord } from './attentiveness.js';

/** A strategy with its number in the paper and the paper's published result. */
export interface StrategyInfo {
  /** Number in the paper (1-6). */
  id: number;
  name: StrategyName;
  title: string;
  run: Strategy<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** The paper's accuracy over pairs, as a fraction (strategy 1 was reported as failing: chance). */
  paperAccuracy: number;
  paperResult: string;
}

export type StrategyName = 'beliefSteering' | 'noiseInjection' | 'learningSpeed' | 'suspiciousConcepts' | 'decisionSpeed' | 'attentiveness';

/** Every strategy by name, in the paper's order. */
export const STRATEGIES: Readonly<Record<StrategyName, StrategyInfo>> = {
  beliefSteering: { id: 1, name: 'beliefSteering', title: 'Induce the belief that it is safe to misbehave', run: beliefSteering, paperAccuracy: 0.5, paperResult: 'failed (no better than chance)' },
  noiseInjection: { id: 2, name: 'noiseInjection', title: 'Intoxicate: inject noise into activations', run: noiseInjection, paperAccuracy: 0.98, paperResult: '98%' },
  learningSpeed: { id: 3, name: 'learningSpeed', title: 'Compare how fast models learn to misbehave', run: learningSpeed, paperAccuracy: 0.9, paperResult: '90%' },
  suspiciousConcepts: { id: 4, name: 'suspiciousConcepts', title: 'Identify suspicious concepts', run: suspiciousConcepts, paperAccuracy: 0.71, paperResult: '71%' },
  decisionSpeed: { id: 5, name: 'decisionSpeed', title: 'Compare decision-making speed', run: decisionSpeed, paperAccuracy: 0.47, paperResult: '47%' },
  attentiveness: { id: 6, name: 'attentiveness', title: 'Measure attentiveness to oversight', run: attentiveness, paperAccuracy: 0.46, paperResult: '46%' },
};
