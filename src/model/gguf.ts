// GGUF (llama.cpp) model files: the metadata read natively, turned into a
// Hugging Face-style LLaMA config and validated like any config.json.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PoserError } from '../errors.js';
import { binding } from '../native/binding.js';
import { tokenizerFromJson, type PoserTokenizer } from '../tokenizer/index.js';
import { parseLlamaConfig, type LlamaConfig } from './config.js';

/** An array too long to return in full (e.g. the token list): its element type and length. */
export interface GgufArraySummary {
  type: 'array';
  elementType: string;
  length: number;
}

/** A metadata value: integers beyond 2^53 arrive as bigint. */
export type GgufValue = number | bigint | boolean | string | GgufValue[] | GgufArraySummary;

export interface GgufTensorInfo {
  name: string;
  /** Row-major (PyTorch) order: GGUF's dimensions reversed. */
  shape: number[];
  /** ggml type name: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K, ... */
  type: string;
  /** Byte offset in the data section. */
  offset: number;
  bytes: number;
}

export interface GgufInfo {
  version: number;
  alignment: number;
  dataOffset: number;
  metadata: Record<string, GgufValue>;
  /** The stored type of every metadata value, e.g. `uint32` or `array<string>`. */
  types: Record<string, string>;
  tensors: GgufTensorInfo[];
}

export interface ReadGgufOptions {
  /** Return arrays longer than 64 elements in full: all (`true`) or those under the listed keys. Default: summarised. */
  arrays?: boolean | string[];
}

/** Reads a GGUF file's header, metadata and tensor infos (no weights). */
export async function readGguf(path: string, options: ReadGgufOptions = {}): Promise<GgufInfo> {
  if (typeof path !== 'string' || path === '') throw new PoserError('E_ARG', 'readGguf: path must be a non-empty string');
  const arrays = options.arrays;
  if (arrays !== undefined && typeof arrays !== 'boolean' && !(Array.isArray(arrays) && arrays.every((k) => typeof k === 'string')))
    throw new PoserError('E_ARG', 'readGguf: arrays must be a boolean or a list of metadata keys');
  try {
    return (await binding().readGguf(path, { arrays })) as GgufInfo;
  } catch (error) {
    throw PoserError.fromNative(error);
  }
}

// Metadata that changes the computation in ways the LLaMA forward here does not
// implement; present -> refused by name.
const REFUSED_KEYS = [
  'expert_count',
  'expert_used_count',
  'attention.layer_norm_epsilon',
  'attention.clamp_kqv',
  'attention.max_alibi_bias',
  'attention.sliding_window',
  'attention.value_length',
  'rope.scaling.attn_factor',
  'logit_scale',
];

/**
 * The Hugging Face-style config.json equivalent of a LLaMA GGUF file's
 * metadata (`llama.*` keys, the vocabulary from token_embd, tied embeddings
 * when there is no output tensor). Not validated: see {@link ggufLlamaConfig}.
 */
export function ggufToHfConfig(info: GgufInfo, source: string): Record<string, unknown> {
  const meta = info.metadata;
  const arch = meta['general.architecture'];
  if (typeof arch !== 'string') throw new PoserError('E_FORMAT', `${source}: metadata general.architecture is missing or not a string`);
  if (arch !== 'llama') throw new PoserError('E_UNSUPPORTED', `${source}: architecture '${arch}' is not supported (only llama)`);
  const key = (k: string) => `${arch}.${k}`;
  const num = (k: string, required: boolean): number | undefined => {
    const v = meta[key(k)];
    if (v === undefined) {
      if (required) throw new PoserError('E_FORMAT', `${source}: metadata ${key(k)} is missing`);
      return undefined;
    }
    if (Array.isArray(v) || (typeof v === 'object' && v !== null))
      throw new PoserError('E_UNSUPPORTED', `${source}: metadata ${key(k)} is an array (per-layer values are not supported)`);
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new PoserError('E_FORMAT', `${source}: metadata ${key(k)} must be a number, got ${info.types[key(k)] ?? typeof v} ${String(v)}`);
    return v;
  };
  for (const k of REFUSED_KEYS)
    if (meta[key(k)] !== undefined && meta[key(k)] !== 0)
      throw new PoserError('E_UNSUPPORTED', `${source}: metadata ${key(k)} is not supported`);

  const hidden = num('embedding_length', true)!;
  const heads = num('attention.head_count', true)!;
  const kvHeads = num('attention.head_count_kv', false) ?? heads;
  const keyLength = num('attention.key_length', false);
  const headDim = keyLength ?? (Number.isInteger(hidden / heads) ? hidden / heads : undefined);
  const ropeDims = num('rope.dimension_count', false);
  if (ropeDims !== undefined && headDim !== undefined && ropeDims !== headDim)
    throw new PoserError('E_UNSUPPORTED', `${source}: metadata ${key('rope.dimension_count')} ${ropeDims} differs from the head dimension ${headDim} (partial rotary embeddings are not supported)`);

  const embed = info.tensors.find((t) => t.name === 'token_embd.weight');
  if (!embed) throw new PoserError('E_FORMAT', `${source}: tensor token_embd.weight is missing`);
  if (embed.shape.length !== 2) throw new PoserError('E_FORMAT', `${source}: tensor token_embd.weight has shape [${embed.shape}], expected 2 dimensions`);
  if (info.tensors.some((t) => t.name === 'rope_freqs.weight'))
    throw new PoserError('E_UNSUPPORTED', `${source}: tensor rope_freqs.weight (per-frequency rope factors, as llama.cpp stores llama3 rope scaling) is not supported`);

  const config: Record<string, unknown> = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_act: 'silu',
    vocab_size: embed.shape[0],
    hidden_size: hidden,
    intermediate_size: num('feed_forward_length', true),
    num_hidden_layers: num('block_count', true),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    rms_norm_eps: num('attention.layer_norm_rms_epsilon', true),
    rope_theta: num('rope.freq_base', false) ?? 10000,
    max_position_embeddings: num('context_length', true),
    tie_word_embeddings: !info.tensors.some((t) => t.name === 'output.weight'),
  };
  if (keyLength !== undefined) config.head_dim = keyLength;

  // Rope scaling: `rope.scaling.type` (with factor and original context), or
  // the older `rope.scale_linear`.
  const scalingType = meta[key('rope.scaling.type')];
  const factor = num('rope.scaling.factor', false) ?? num('rope.scale_linear', false);
  if (scalingType !== undefined && typeof scalingType !== 'string')
    throw new PoserError('E_FORMAT', `${source}: metadata ${key('rope.scaling.type')} must be a string`);
  const type = scalingType ?? (factor !== undefined && factor !== 1 ? 'linear' : 'none');
  if (type !== 'none') {
    if (factor === undefined) throw new PoserError('E_FORMAT', `${source}: rope scaling '${type}' without ${key('rope.scaling.factor')}`);
    const scaling: Record<string, unknown> = { rope_type: type, factor };
    // Linear scaling has no use for the original context; the others do.
    const original = num('rope.scaling.original_context_length', false);
    if (original !== undefined && type !== 'linear') scaling.original_max_position_embeddings = original;
    config.rope_scaling = scaling;
  }
  const bos = meta['tokenizer.ggml.bos_token_id'];
  const eos = meta['tokenizer.ggml.eos_token_id'];
  if (typeof bos === 'number') config.bos_token_id = bos;
  if (typeof eos === 'number') config.eos_token_id = eos;
  return config;
}

/** The validated LLaMA config of a GGUF file (its metadata through {@link parseLlamaConfig}). */
export function ggufLlamaConfig(info: GgufInfo, source: string): LlamaConfig {
  return parseLlamaConfig(ggufToHfConfig(info, source), source);
}

/**
 * The GGUF file a model path names: the path itself when it is a file ending
 * in .gguf, the one .gguf file of a directory that holds no safetensors
 * weights, otherwise undefined (a Hugging Face directory).
 */
export function findGgufFile(path: string): string | undefined {
  let st;
  try {
    st = statSync(path);
  } catch (error) {
    throw new PoserError('E_IO', `cannot read model path ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (st.isFile()) {
    if (path.toLowerCase().endsWith('.gguf')) return path;
    throw new PoserError('E_ARG', `${path} is a file but not a .gguf file (pass a model directory or a .gguf file)`);
  }
  if (!st.isDirectory()) return undefined;
  const names = readdirSync(path);
  if (names.some((n) => n.endsWith('.safetensors')) || existsSync(join(path, 'model.safetensors.index.json'))) return undefined;
  const ggufs = names.filter((n) => n.toLowerCase().endsWith('.gguf'));
  if (ggufs.length > 1)
    throw new PoserError('E_ARG', `${path} holds ${ggufs.length} GGUF files (${ggufs.sort().join(', ')}); pass the path of one`);
  return ggufs.length === 1 ? join(path, ggufs[0]) : undefined;
}

/** Metadata arrays {@link ggufTokenizer} needs in full. */
export const GGUF_TOKENIZER_ARRAYS = ['tokenizer.ggml.tokens', 'tokenizer.ggml.merges', 'tokenizer.ggml.token_type'];

// How llama.cpp's byte-level BPE vocabularies split text before merging: the
// GPT-2 pattern (ByteLevel's own), preceded for the StarCoder family (SmolLM
// included) by splitting every digit apart.
const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
const PRE_TOKENIZERS: Record<string, object> = {
  default: BYTE_LEVEL,
  gpt2: BYTE_LEVEL,
  'gpt-2': BYTE_LEVEL,
  smollm: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, BYTE_LEVEL] },
  starcoder: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, BYTE_LEVEL] },
};

// llama.cpp token types: 3 control (special), 4 user-defined (kept whole, not special).
const CONTROL = 3;
const USER_DEFINED = 4;

/**
 * The tokenizer.json equivalent of a GGUF file's `tokenizer.ggml.*` metadata
 * (read with `arrays: GGUF_TOKENIZER_ARRAYS`): byte-level BPE vocabularies
 * (`tokenizer.ggml.model` gpt2) with a known pre-tokenizer; others are
 * refused with E_UNSUPPORTED.
 */
export function ggufTokenizerJson(info: GgufInfo, source: string): object {
  const meta = info.metadata;
  const model = meta['tokenizer.ggml.model'];
  if (model === undefined) throw new PoserError('E_FORMAT', `${source}: no tokenizer metadata (tokenizer.ggml.model)`);
  if (model !== 'gpt2') throw new PoserError('E_UNSUPPORTED', `${source}: tokenizer model '${String(model)}' is not supported (only byte-level BPE, gpt2)`);
  const pre = meta['tokenizer.ggml.pre'] ?? 'default';
  const preTokenizer = typeof pre === 'string' ? PRE_TOKENIZERS[pre] : undefined;
  if (!preTokenizer) throw new PoserError('E_UNSUPPORTED', `${source}: tokenizer pre-tokenizer '${String(pre)}' is not supported (${Object.keys(PRE_TOKENIZERS).join(', ')})`);
  const list = (key: string, kind: 'string' | 'number', required: boolean): unknown[] => {
    const v = meta[key];
    if (v === undefined && !required) return [];
    if (!Array.isArray(v)) throw new PoserError('E_FORMAT', `${source}: metadata ${key} must be an array read in full, got ${info.types[key] ?? 'nothing'}`);
    if (!v.every((x) => typeof x === kind)) throw new PoserError('E_FORMAT', `${source}: metadata ${key} must hold ${kind}s`);
    return v;
  };
  const tokens = list('tokenizer.ggml.tokens', 'string', true) as string[];
  const merges = list('tokenizer.ggml.merges', 'string', false) as string[];
  const types = list('tokenizer.ggml.token_type', 'number', false) as number[];
  if (types.length && types.length !== tokens.length)
    throw new PoserError('E_FORMAT', `${source}: tokenizer.ggml.token_type has ${types.length} entries for ${tokens.length} tokens`);
  const vocab: Record<string, number> = {};
  tokens.forEach((t, id) => {
    if (!(t in vocab)) vocab[t] = id;
  });
  const added = tokens.flatMap((content, id) =>
    types[id] === CONTROL || types[id] === USER_DEFINED
      ? [{ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: types[id] === CONTROL }]
      : [],
  );
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: preTokenizer,
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

/** A tokenizer built from a GGUF file's metadata (see {@link ggufTokenizerJson}). */
export function ggufTokenizer(info: GgufInfo, source: string): PoserTokenizer {
  const json = ggufTokenizerJson(info, source);
  try {
    return tokenizerFromJson(json);
  } catch (error) {
    throw new PoserError('E_FORMAT', `${source}: cannot build a tokenizer from its metadata: ${(error as Error).message}`, { cause: error });
  }
}
