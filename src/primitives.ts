/**
 * `poser-torch/primitives`: the building blocks the detection strategies are
 * made of (batching, activations, contrast vectors, push grids, probes,
 * verdict rules, seeded randomness), for writing a strategy of one's own.
 * They are not part of the root API and may change between minor versions.
 * @packageDocumentation
 */
export * from './strategies/primitives/index.js';
export { pushGrid, pushMultipliers, checkNormalization, responseAt, comparePush, type PushRecord, type PushComparison } from './strategies/push.js';
export { TIE_TOLERANCE, isTie, decide, checkMeasurements, checkSame, comparable, type SharedSetting } from './strategies/verdict.js';
export { FINAL_HOOK, logitTemperature, answerBias, checkSubject } from './strategies/subject.js';
export { applyAnswerMap, checkAnswerMap, fitAnswerMap, letterMass, mapAnswerLogits, mapLogOdds, quantileOfSorted, TAIL_REACH, TAIL_SHARE, type AnswerLogOddsMap } from './strategies/answerMap.js';
export { BELIEF_STEERING } from './strategies/beliefSteering.js';
export { NOISE_INJECTION, noiseSeedsFor } from './strategies/noiseInjection.js';
export { LEARNING_SPEED, LEARNING_RATE_GRID, chooseLearningRate } from './strategies/learningSpeed.js';
export { SUSPICIOUS_CONCEPTS } from './strategies/suspiciousConcepts.js';
export { DECISION_SPEED, crossingDepth } from './strategies/decisionSpeed.js';
export { ATTENTIVENESS, contrastSimilarity } from './strategies/attentiveness.js';
export { softmaxPick } from './model/model.js';
export { absolutePositions, padLeft } from './model/batch.js';
export { row, view } from './model/tensor.js';
export type { RawTensor } from './native/binding.js';
export type { F32Tensor } from './io/safetensors.js';
export { fitLogisticProbe, type FeatureMatrix, type LogisticOptions, type LogisticProbe } from './probe.js';
export { Rng, hashString } from './data/random.js';
export { PROMPT_OPEN, PROMPT_CLOSE, INTRO_LINE, ACTIONS_LINE, QUESTION_LINE } from './data/prompt.js';
export { promptFacts, systemMessageFact } from './data/loader.js';
