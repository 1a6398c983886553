/**
 * The model zoo: small LLaMA-architecture aligned models and alignment fakers
 * trained by the project on the CPU, their behaviour evaluation, and the pair
 * benchmark built from them (POSER-SPEC §3-4).
 */
export { DEFAULT_RECIPE, MICRO_RECIPE, RECIPES, parseRecipe, recipeHash, recipeTargets, resolveRecipe, zooCombinations, zooPolicies, zooModelNames, zooRecipeSchema, type ZooRecipe } from './recipe.js';
export { buildZoo, effectiveRecipe, upgradeZoo, variantSeed, type BuildOptions, type BuildProgress, type BuildResult } from './build.js';
export { evaluateZoo, formatBehaviourTable, type BehaviourRow } from './behaviour.js';
export { rebuildBenchmark } from './rebuild.js';
export { normalizeDevice } from './device.js';
export { answerProbs, behaviourMetrics, evaluateModel, pickAnswer, targetMisses, wilsonLowerBound, BEHAVIOUR_TARGETS, CHECK_BOUND_Z, type BehaviourTargets, type AnswerProbs, type BehaviourMetrics, type Rate } from './evaluate.js';
export { buildBenchmark, writeBenchmark, type BenchmarkModel, type BenchmarkResult, type BenchmarkSizes, type CombinationCounts, type ExcludedPair, type ModelPair, type ModelPairsFile } from './pairsWriter.js';
export { readExcludedPairs, readZooPairs, readZooPairsFile, type ZooPair, type ZooPairModel } from './pairsReader.js';
export { combinationFiles, readZooDataFiles, requireZooFormat, writeZooDataFiles, PAIRS_FILE, TOKENIZER_FILE, ZOO_FORMAT, type ZooDataFiles } from './files.js';
export { zooData, type CombinationCandidates, type ZooData } from './zooData.js';
export { exclusionReasons, loadZooManifest, MANIFEST_FILE, MODEL_RECORD_FILE, type ZooManifest, type ZooModelRecord } from './manifest.js';
export { defaultConcurrency, runPopulation, threadsPerModel } from './population.js';
export { finetune, pretrain, type LoopOptions, type LoopResult, type PhaseRecipe, type StepCallback } from './trainingLoops.js';
export { BatchStream, lengthBatches, steppedLr, type AnswerExample } from './batching.js';
export { ARCHITECTURE_FIELDS, initialWeights, llamaConfigJson, writeInitialModel, zooModelConfig, type ZooArchitecture } from './init.js';
