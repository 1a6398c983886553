import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { PoserError } from '../errors.js';

/** Rotary position embedding variants the model computes (see docs/checkpoints.md). */
export type RopeType = 'default' | 'linear' | 'dynamic' | 'llama3';

/**
 * Rotary embedding settings, one shape for every config dialect; the native
 * core computes the frequencies from exactly these fields.
 */
export type RopeSpec = {
  type: RopeType;
  theta: number;
  /** linear, dynamic, llama3: the scaling factor; 1 for default. */
  factor: number;
  /** llama3 only (0 otherwise). */
  low_freq_factor: number;
  high_freq_factor: number;
  original_max_position_embeddings: number;
};

/** A validated LLaMA config: what the forward depends on, and nothing else. */
export type LlamaConfig = {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  /** Width of one attention head; explicit in the config or hidden_size / num_attention_heads. */
  head_dim: number;
  rms_norm_eps: number;
  max_position_embeddings: number;
  tie_word_embeddings: boolean;
  rope: RopeSpec;
};

/** The size fields of a LLaMA config: what the shapes of its weights depend on (with `head_dim`). */
export type LlamaSizes = Pick<
  LlamaConfig,
  'vocab_size' | 'hidden_size' | 'intermediate_size' | 'num_hidden_layers' | 'num_attention_heads' | 'num_key_value_heads'
>;

/**
 * Number of parameters of a LLaMA model, tied embeddings counted once.
 * `head_dim` defaults to hidden_size / num_attention_heads, and
 * `tie_word_embeddings` to false.
 */
export function parameterCount(config: LlamaSizes & Partial<Pick<LlamaConfig, 'head_dim' | 'tie_word_embeddings'>>): number {
  const d = config.hidden_size;
  const headDim = config.head_dim ?? d / config.num_attention_heads;
  const q = config.num_attention_heads * headDim;
  const kv = config.num_key_value_heads * headDim;
  // Two norms, q/o and k/v projections, and the three MLP matrices.
  const layer = 2 * d + 2 * q * d + 2 * kv * d + 3 * d * config.intermediate_size;
  return config.vocab_size * d * (config.tie_word_embeddings ? 1 : 2) + d + config.num_hidden_layers * layer;
}

/** The plain rotary embedding (no scaling) with base `theta`. */
export function defaultRope(theta = 10000): RopeSpec {
  return { type: 'default', theta, factor: 1, low_freq_factor: 0, high_freq_factor: 0, original_max_position_embeddings: 0 };
}

const count = z.number().int().positive();
const positive = z.number().positive().finite();

/** Fields with their types; `null` reads as absent, as transformers does. */
const FieldsSchema = z.object({
  vocab_size: count,
  hidden_size: count,
  intermediate_size: count,
  num_hidden_layers: count,
  num_attention_heads: count,
  num_key_value_heads: count.nullish(),
  head_dim: count.nullish(),
  rms_norm_eps: positive.nullish(),
  rope_theta: positive.nullish(),
  rope_scaling: z.record(z.string(), z.unknown()).nullish(),
  rope_parameters: z.record(z.string(), z.unknown()).nullish(),
  max_position_embeddings: count.nullish(),
  tie_word_embeddings: z.boolean().nullish(),
  hidden_act: z.string().nullish(),
  architectures: z.array(z.string()).nullish(),
  model_type: z.string().nullish(),
});

/**
 * Fields that never change what the forward computes: bookkeeping, tokens,
 * generation defaults, initialisation, the attention kernel's name (every
 * kernel computes the same attention). Accepted with any value.
 */
const INERT_FIELDS = new Set([
  'transformers_version', 'attn_implementation', 'use_flash_attention_2', 'model_max_length', 'torch_dtype', 'dtype', 'use_bfloat16', 'use_cache', 'initializer_range',
  'bos_token_id', 'eos_token_id', 'pad_token_id', 'sep_token_id', 'decoder_start_token_id', 'tokenizer_class', 'prefix',
  'id2label', 'label2id', 'num_labels', 'problem_type', 'finetuning_task', 'task_specific_params',
  'return_dict', 'output_hidden_states', 'output_attentions', 'torchscript', 'tf_legacy_loss',
  'chunk_size_feed_forward', 'is_decoder', 'tie_encoder_decoder', 'max_sequence_length', 'is_llama_config',
  'transformers.js_config', 'unsloth_version', 'unsloth_fixed',
  'max_length', 'min_length', 'do_sample', 'early_stopping', 'num_beams', 'num_beam_groups', 'diversity_penalty',
  'temperature', 'top_k', 'top_p', 'typical_p', 'repetition_penalty', 'length_penalty', 'no_repeat_ngram_size',
  'encoder_no_repeat_ngram_size', 'bad_words_ids', 'num_return_sequences', 'output_scores', 'return_dict_in_generate',
  'forced_bos_token_id', 'forced_eos_token_id', 'remove_invalid_values', 'exponential_decay_length_penalty',
  'suppress_tokens', 'begin_suppress_tokens',
]);

/**
 * Fields that would change the computation unless they hold their neutral
 * value; the predicate says whether the value is neutral.
 */
const NEUTRAL_ONLY: Record<string, (v: unknown) => boolean> = {
  attention_bias: (v) => v === false,
  mlp_bias: (v) => v === false,
  pretraining_tp: (v) => v === 1,
  partial_rotary_factor: (v) => v === 1,
  attention_dropout: (v) => v === 0,
  rope_interleaved: (v) => v === false,
  use_sliding_window: (v) => v === false,
  is_encoder_decoder: (v) => v === false,
  add_cross_attention: (v) => v === false,
  sliding_window: () => false,
  pruned_heads: (v) => typeof v === 'object' && v !== null && Object.keys(v).length === 0,
};

/** Keys a rope block (4.x `rope_scaling`, 5.x `rope_parameters`) may hold, per type. */
const ROPE_KEYS: Record<RopeType, string[]> = {
  default: [],
  linear: ['factor'],
  dynamic: ['factor'],
  llama3: ['factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings'],
};
const ROPE_COMMON_KEYS = ['rope_type', 'type', 'rope_theta', 'partial_rotary_factor'];

/**
 * Validates a parsed config.json as transformers 4.x writes it (top-level
 * `rope_theta`, `rope_scaling`) or 5.x (`rope_parameters`). Malformed values
 * are `E_FORMAT`; fields that change the computation in a way this model does
 * not implement are `E_UNSUPPORTED`; both name the field and `source`.
 */
export function parseLlamaConfig(raw: unknown, source = 'config.json'): LlamaConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new PoserError('E_FORMAT', `${source}: expected a JSON object`);
  const result = FieldsSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new PoserError('E_FORMAT', `${source}: field '${issue.path.join('.')}': ${issue.message}`);
  }
  const c = result.data;
  const format = (message: string): never => {
    throw new PoserError('E_FORMAT', `${source}: ${message}`);
  };
  const unsupported = (field: string, message: string): never => {
    throw new PoserError('E_UNSUPPORTED', `${source}: field '${field}': ${message}`);
  };

  for (const [key, value] of Object.entries(raw)) {
    // transformers keeps its bookkeeping (_name_or_path, _attn_implementation, ...) under a leading underscore.
    if (key in FieldsSchema.shape || INERT_FIELDS.has(key) || key.startsWith('_')) continue;
    const neutral = NEUTRAL_ONLY[key];
    if (neutral) {
      if (value !== null && !neutral(value))
        unsupported(key, `${JSON.stringify(value)} changes the computation and is not supported`);
      continue;
    }
    if (value === null) continue;  // an unknown feature switched off
    unsupported(key, 'not understood by this LLaMA implementation, which cannot tell whether it changes the computation');
  }

  if (c.architectures && c.architectures.length > 0 && !c.architectures.includes('LlamaForCausalLM'))
    unsupported('architectures', `${JSON.stringify(c.architectures)} is not LlamaForCausalLM`);
  if (c.model_type != null && c.model_type !== 'llama') unsupported('model_type', `'${c.model_type}' is not 'llama'`);
  const act = c.hidden_act ?? 'silu';
  if (act !== 'silu' && act !== 'swish') unsupported('hidden_act', `'${act}' is not supported (only silu)`);

  let headDim = c.head_dim;
  if (headDim == null) {
    if (c.hidden_size % c.num_attention_heads !== 0)
      format(`hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads} (and no head_dim is given)`);
    headDim = c.hidden_size / c.num_attention_heads;
  }
  const kv = c.num_key_value_heads ?? c.num_attention_heads;
  if (c.num_attention_heads % kv !== 0)
    format(`num_attention_heads ${c.num_attention_heads} is not divisible by num_key_value_heads ${kv}`);
  if (headDim % 2 !== 0) format(`head_dim ${headDim} must be even for rotary embeddings`);

  const maxPositions = c.max_position_embeddings ?? 2048;
  return {
    vocab_size: c.vocab_size,
    hidden_size: c.hidden_size,
    intermediate_size: c.intermediate_size,
    num_hidden_layers: c.num_hidden_layers,
    num_attention_heads: c.num_attention_heads,
    num_key_value_heads: kv,
    head_dim: headDim,
    rms_norm_eps: c.rms_norm_eps ?? 1e-6,
    max_position_embeddings: maxPositions,
    tie_word_embeddings: c.tie_word_embeddings ?? false,
    rope: parseRope(c, maxPositions, format, unsupported),
  };
}

type Fail = (message: string) => never;
type Unsupported = (field: string, message: string) => never;

/** The rope settings from either dialect; where both blocks are present they must agree. */
function parseRope(
  c: z.infer<typeof FieldsSchema>,
  maxPositions: number,
  format: Fail,
  unsupported: Unsupported,
): RopeSpec {
  const scaling = c.rope_scaling ?? undefined;
  const params = c.rope_parameters ?? undefined;
  if (scaling && params && JSON.stringify(scaling) !== JSON.stringify(params))
    format("both 'rope_scaling' and 'rope_parameters' are set, and they differ");
  const block = params ?? scaling ?? {};
  const where = params ? 'rope_parameters' : 'rope_scaling';

  for (const key of Object.keys(block))
    if (!ROPE_COMMON_KEYS.includes(key) && !Object.values(ROPE_KEYS).some((keys) => keys.includes(key)))
      unsupported(`${where}.${key}`, 'not understood (no supported rope type uses it)');

  const typeField = block.rope_type ?? block.type ?? 'default';
  if (block.rope_type != null && block.type != null && block.rope_type !== block.type)
    format(`${where}.rope_type '${String(block.rope_type)}' and ${where}.type '${String(block.type)}' disagree`);
  if (typeof typeField !== 'string') return format(`${where}.rope_type must be a string`);
  if (!(typeField in ROPE_KEYS))
    return unsupported(`${where}.rope_type`, `'${typeField}' is not supported (supported: ${Object.keys(ROPE_KEYS).join(', ')})`);
  const type = typeField as RopeType;

  for (const key of Object.keys(block))
    if (!ROPE_COMMON_KEYS.includes(key) && !ROPE_KEYS[type].includes(key))
      unsupported(`${where}.${key}`, `not used by rope type '${type}'`);
  if (block.partial_rotary_factor != null && block.partial_rotary_factor !== 1)
    unsupported(`${where}.partial_rotary_factor`, `${JSON.stringify(block.partial_rotary_factor)} is not supported (only 1)`);

  const number = (key: string, check: (v: number) => boolean, what: string): number => {
    const v = block[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || !check(v))
      return format(`${where}.${key} must be ${what}, got ${JSON.stringify(v)}`);
    return v;
  };
  const inner = block.rope_theta == null ? undefined : number('rope_theta', (v) => v > 0, 'a positive number');
  if (inner !== undefined && c.rope_theta != null && inner !== c.rope_theta)
    format(`rope_theta ${c.rope_theta} and ${where}.rope_theta ${inner} disagree`);
  const theta = inner ?? c.rope_theta ?? 10000;

  const spec: RopeSpec = { ...defaultRope(theta), type };
  if (type === 'default') return spec;
  spec.factor = number('factor', (v) => v > 0, 'a positive number');
  if (type === 'llama3') {
    spec.low_freq_factor = number('low_freq_factor', (v) => v > 0, 'a positive number');
    spec.high_freq_factor = number('high_freq_factor', (v) => v > spec.low_freq_factor, 'greater than low_freq_factor');
    // transformers 5.x falls back to max_position_embeddings when it is absent.
    spec.original_max_position_embeddings =
      block.original_max_position_embeddings == null
        ? maxPositions
        : number('original_max_position_embeddings', (v) => Number.isInteger(v) && v > 0, 'a positive integer');
  }
  return spec;
}

/**
 * The config.json of a validated config, in the layout transformers 4.x
 * writes (top-level `rope_theta`, `rope_scaling`), which 4.x and 5.x both read.
 */
export function llamaConfigToJson(config: LlamaConfig): Record<string, unknown> {
  const { rope, ...fields } = config;
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    ...fields,
    hidden_act: 'silu',
    rope_theta: rope.theta,
    rope_scaling: ropeScalingJson(rope),
  };
}

/** The `rope_scaling` block of a config.json (transformers 4.x layout); null for the default rotary embedding. */
export function ropeScalingJson(rope: RopeSpec): Record<string, unknown> | null {
  if (rope.type === 'linear' || rope.type === 'dynamic') return { rope_type: rope.type, factor: rope.factor };
  if (rope.type === 'llama3')
    return {
      rope_type: 'llama3',
      factor: rope.factor,
      low_freq_factor: rope.low_freq_factor,
      high_freq_factor: rope.high_freq_factor,
      original_max_position_embeddings: rope.original_max_position_embeddings,
    };
  return null;
}

/** Reads and validates `dir/config.json`. */
export function readLlamaConfig(dir: string): LlamaConfig {
  const path = join(dir, 'config.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new PoserError('E_IO', `cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new PoserError('E_FORMAT', `${path}: invalid JSON: ${(error as Error).message}`, { cause: error });
  }
  return parseLlamaConfig(raw, path);
}
