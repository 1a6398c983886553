/**
 * Scenario data in the Poser schema (POSER-SPEC §2-5): types, validation,
 * loading, prompt assembly, the seeded generator, contrast pairs and concept
 * stimuli. This is the data part of the package's root entry, which
 * re-exports it whole; the building blocks below it (prompt markers, the
 * seeded random source, fact extraction) are in `poser-torch/primitives`.
 */
export * from './types.js';
export {
  buildPrompt,
  factsString,
  fillFormat,
  wrapPrompt,
  unwrapPrompt,
  isWrapped,
  DEFAULT_FORMAT,
  type PromptParts,
} from './prompt.js';
export {
  scenarioSchema,
  pairScenarioSchema,
  errorItemSchema,
  probsSchema,
  validateItem,
  itemKind,
  ScenarioSchemaError,
  type ItemKind,
} from './schema.js';
export {
  loadScenarioFile,
  parseScenarioItems,
  ScenarioFileError,
  type LoadedScenarioFile,
  type LoadOptions as ScenarioLoadOptions,
  type PromptMismatch,
} from './loader.js';
export {
  generateDataset,
  corpusTexts,
  fakerCopy,
  pairTagsOf,
  DEFAULT_GENERATE_OPTIONS,
  type GenerateOptions as DatasetGenerateOptions,
  type Dataset,
} from './generate.js';
export { benchmarkCandidatesOf, NON_BENIGN_DISTRIBUTIONS } from './candidates.js';
export { contrastPairs, contrastPair, type ContrastPair, type ContrastOptions } from './contrast.js';
export {
  conceptStimuli,
  genericConceptStimuli,
  SECURITY_STATEMENTS,
  VULNERABILITY_STATEMENTS,
  ALIGNED_STATEMENTS,
  MISALIGNED_STATEMENTS,
  type ConceptSet,
  type ConceptOptions,
} from './stimuli.js';
export { writeDataset, readManifest, itemStats, formatStats, formatItems, type DatasetManifest, type DistributionStats } from './io.js';
export { agreeOn, checkPairAgreement, topAnswer, withoutSeparating, ANSWERS, type AgreementReport, type AnswerChoice, type AnswerScorer, type AnswerDistribution, type SeparatingPrompt } from './agreement.js';
export { isPaperLayout, loadScenarioFileChecked, paperBenchmarkFile, paperCombinations, parseCombination, readPaperPair, type PaperPairFiles } from './paper.js';
