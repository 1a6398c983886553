export { accuracyWithInterval, scoreOutcomes, type Accuracy, type PairOutcome } from './score.js';
export { runBenchmark, type BenchmarkOptions, type BenchmarkProgress, type ModelRef, type PairResult, type PairSpec } from './run.js';
export { benchmarkReport, type ReportInput } from './report.js';
export { zooPairSpecs, type ZooPairsOptions } from './zoo.js';
