/**
 * poser-torch: detect alignment-faking language models by reading and
 * manipulating their internals.
 *
 * The root entry is the public API, listed here on purpose: the model and its
 * hooks and interventions, the six detection strategies, the benchmark, the
 * scenario data, errors and types. Building blocks live behind subpaths:
 * `poser-torch/primitives` (what the strategies are made of), `poser-torch/zoo`
 * (training the model zoo) and `poser-torch/tokenizer` (training a tokenizer).
 * @packageDocumentation
 */

// Errors and the runtime.
export { ERROR_CODES, PoserError, type PoserErrorCode } from './errors.js';
export { parseDevice, type Device } from './device.js';
export { buildInfo, getNumThreads, setNumThreads } from './native/binding.js';

// The model.
export {
  Model,
  type Dtype,
  type ForwardOptions,
  type ForwardOutput,
  type Input,
  type LoadOptions,
  type LogitsRequest,
  type Loss,
  type OptimizerOptions,
  type TrainOptions,
  type GenerateOptions,
  type GenerateOutput,
  type RunWithCacheOptions,
  type SaveOptions,
} from './model/model.js';
export { readLlamaConfig, parseLlamaConfig, llamaConfigToJson, parameterCount, type LlamaConfig, type LlamaSizes, type RopeSpec, type RopeType } from './model/config.js';
export {
  readGguf,
  findGgufFile,
  ggufLlamaConfig,
  ggufTokenizer,
  ggufTokenizerJson,
  ggufToHfConfig,
  GGUF_TOKENIZER_ARRAYS,
  type GgufArraySummary,
  type GgufInfo,
  type GgufTensorInfo,
  type GgufValue,
  type ReadGgufOptions,
} from './model/gguf.js';
export type { EncodedBatch } from './model/batch.js';
export type { Float32NdArray } from './model/tensor.js';
export { loadTokenizer, type PoserTokenizer } from './tokenizer/index.js';

// Hooks and interventions.
export { BLOCK_HOOKS, blockHook, hookNames, parseHook, residPost, selectHooks, type BlockHookKind, type HookFilter, type HookShape, type ParsedHook } from './model/hooks.js';
export { captureKey, type Intervention, type NoiseOptions, type Positions, type Vector } from './model/interventions.js';

// Detection strategies.
export {
  STRATEGIES,
  type StrategyName,
  type StrategyInfo,
  beliefSteering,
  noiseInjection,
  learningSpeed,
  suspiciousConcepts,
  decisionSpeed,
  attentiveness,
  type BeliefSteeringOptions,
  type SteeringCurve,
  type NoiseInjectionOptions,
  type NoiseCurve,
  type LearningSpeedOptions,
  type LearningRecord,
  type LearningRateChoice,
  type SuspiciousConceptsOptions,
  type ConceptRecord,
  type ConceptMeasurement,
  type DecisionSpeedOptions,
  type DecisionRecord,
  type AttentivenessOptions,
  type AttentivenessRecord,
  type Normalization,
  type PushOptions,
  type PairData,
  type Measurement,
  type Verdict,
  type DetectionStrategy,
  type ProgressEvent,
  type CommonOptions,
  Subject,
  subject,
  type SubjectOptions,
  type LogitBias,
  defineStrategy,
  ensembleVerdict,
  ENSEMBLE,
  type EnsembleOptions,
  pairDataFromItems,
  pairDataFromFiles,
  pairDataFromDataset,
  type PairDataItems,
  type PairDataFiles,
} from './strategies/index.js';

// The pair benchmark.
export * from './benchmark/index.js';

// Scenario data in the Poser schema.
export * from './data/index.js';
