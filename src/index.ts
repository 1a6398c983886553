/**
 * poser-torch: detect alignment-faking language models by reading and
 * manipulating their internals.
 */
export { PoserError, type PoserErrorCode } from './errors.js';
export { buildInfo, getNumThreads, setNumThreads } from './native/binding.js';
export { Model, softmaxPick, type Dtype, type ForwardOptions, type ForwardOutput, type Input, type LoadOptions, type LogitsRequest, type Loss, type OptimizerOptions, type TrainOptions } from './model/model.js';
export { llamaConfigToJson, parseLlamaConfig, readLlamaConfig, type LlamaConfig, type RopeSpec, type RopeType } from './model/config.js';
export { findGgufFile, GGUF_TOKENIZER_ARRAYS, ggufLlamaConfig, ggufTokenizer, ggufTokenizerJson, ggufToHfConfig, readGguf, type GgufArraySummary, type GgufInfo, type GgufTensorInfo, type GgufValue, type ReadGgufOptions } from './model/gguf.js';
export { BLOCK_HOOKS, blockHook, hookNames, parseHook, residPost, type BlockHookKind } from './model/hooks.js';
export { absolutePositions, padLeft, type EncodedBatch } from './model/batch.js';
export { captureKey, type Intervention, type NoiseOptions, type Positions, type Vector } from './model/interventions.js';
export { row, view, type Float32NdArray } from './model/tensor.js';
export { fitLogisticProbe, type FeatureMatrix, type LogisticOptions, type LogisticProbe } from './probe.js';
export * from './tokenizer/index.js';
export * from './data/index.js';
export * from './strategies/index.js';
export * from './benchmark/index.js';
export * from './zoo/index.js';
