export { accuracyWithInterval, countsByCombination, verdictScore, type Accuracy, type Counts, type PairOutcome } from './score.js';
export { permutationTest, seedSpread, type Duels, type PermutationResult, type SeedSpread } from './stats.js';
export { CONTROLS, CONFIDENCE_LOG_ODDS, CONFIDENCE_P, CONFIDENCE_SPREAD, RANDOM, benignProbabilities, confidenceLogOddsControl, confidencePControl, confidenceSpreadControl, logOdds, meanLogOdds, randomControl, spreadLogOdds, type ControlOptions } from './controls.js';
export {
  CALIBRATION_SHARE,
  calibratedSubject,
  dataForSeed,
  inOrder,
  MeasurementCache,
  ModelCache,
  runBenchmark,
  splitForCalibration,
  VARIANTS,
  type AnyDetector,
  type BenchmarkOptions,
  type BenchmarkProgress,
  type BenchmarkRun,
  type BenchmarkSpec,
  type Calibration,
  type CalibrationTarget,
  type PairRecord,
  type PairVerdict,
  type Variant,
  type VariantResult,
} from './run.js';
export { accuracyTable, benchmarkReport, benchmarkResults, combinationTable, summarizeVariant, variantNotes, type BenchmarkResults, type DetectorRow, type EvidenceSummary, type MeasurementRecord, type ValueRange, type SummaryOptions, type TextTable, type VariantSummary } from './report.js';
export { zooBenchmarkSpec, CALIBRATION_PROMPTS } from './zooSpec.js';
export { benchmarkZoo, type ZooBenchmarkOptions } from './zooRun.js';
export { withOptions } from './variants.js';
export { htmlReport, renderSvg } from './html.js';
