/**
 * A fresh LLaMA checkpoint with seeded random weights, written in Hugging
 * Face layout: the starting point of the zoo's base model.
 */
import { copyFileAtomic, writeFileAtomic } from '../io/atomic.js';
import { ensureDirectory } from '../io/files.js';
import { join } from 'node:path';
import { Rng } from '../data/random.js';
import { writeSafetensorsF32, type F32Tensor } from '../io/safetensors.js';
import { defaultRope, ropeScalingJson, type LlamaConfig } from '../model/config.js';

/**
 * Each field of a recipe's `architecture` block and the LLaMA config field it
 * sets. Recipes keep their own spelling on disk (their hash is recorded in
 * every zoo manifest); this table is the one place it meets the config.
 */
export const ARCHITECTURE_FIELDS = {
  hiddenSize: 'hidden_size',
  intermediateSize: 'intermediate_size',
  numLayers: 'num_hidden_layers',
  numHeads: 'num_attention_heads',
  numKvHeads: 'num_key_value_heads',
  /** Share the input embedding with the output head. */
  tieEmbeddings: 'tie_word_embeddings',
  maxPositions: 'max_position_embeddings',
} as const satisfies Record<string, keyof LlamaConfig>;

/** The architecture of a zoo model: the LLaMA config fields a recipe sets, under the recipe's names. */
export type ZooArchitecture = { -readonly [K in keyof typeof ARCHITECTURE_FIELDS]: LlamaConfig[(typeof ARCHITECTURE_FIELDS)[K]] };

/**
 * The LLaMA config of a zoo model: the recipe's architecture, the tokenizer's
 * vocabulary, and what every zoo model shares (head_dim hidden / heads,
 * RMSNorm eps 1e-5, the default rotary embedding with theta 10000).
 */
export function zooModelConfig(arch: ZooArchitecture, vocabSize: number): LlamaConfig {
  const fields = Object.fromEntries(Object.entries(ARCHITECTURE_FIELDS).map(([name, field]) => [field, arch[name as keyof ZooArchitecture]]));
  return {
    ...(fields as Pick<LlamaConfig, (typeof ARCHITECTURE_FIELDS)[keyof ZooArchitecture]>),
    vocab_size: vocabSize,
    head_dim: arch.hiddenSize / arch.numHeads,
    rms_norm_eps: 1e-5,
    rope: defaultRope(10000),
  };
}

/**
 * The config.json a fresh model is written with, in the key order
 * transformers writes; `head_dim` and `rope_scaling` only where they are not
 * the defaults (never in a zoo model).
 */
export function llamaConfigJson(config: LlamaConfig): Record<string, unknown> {
  const scaling = ropeScalingJson(config.rope);
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: config.vocab_size,
    hidden_size: config.hidden_size,
    intermediate_size: config.intermediate_size,
    num_hidden_layers: config.num_hidden_layers,
    num_attention_heads: config.num_attention_heads,
    num_key_value_heads: config.num_key_value_heads,
    ...(config.head_dim * config.num_attention_heads === config.hidden_size ? {} : { head_dim: config.head_dim }),
    max_position_embeddings: config.max_position_embeddings,
    rms_norm_eps: config.rms_norm_eps,
    rope_theta: config.rope.theta,
    ...(scaling ? { rope_scaling: scaling } : {}),
    hidden_act: 'silu',
    tie_word_embeddings: config.tie_word_embeddings,
    attention_bias: false,
    mlp_bias: false,
    initializer_range: 0.02,
    torch_dtype: 'float32',
  };
}

/**
 * Seeded initial weights: normal(0, std) for matrices, with the output
 * projections of each block scaled by 1/sqrt(2 * layers) (GPT-2 style), and
 * ones for the norms.
 */
export function initialWeights(config: LlamaConfig, seed: number, std = 0.02): Record<string, F32Tensor> {
  const rng = new Rng(`init:${seed}`);
  const gauss = (): number => {
    const u = 1 - rng.next();
    const v = rng.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const mat = (shape: number[], s = std): F32Tensor => {
    const n = shape[0] * shape[1];
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = s * gauss();
    return { shape, data };
  };
  const ones = (n: number): F32Tensor => ({ shape: [n], data: new Float32Array(n).fill(1) });
  const d = config.hidden_size;
  const q = config.num_attention_heads * config.head_dim;
  const kv = config.num_key_value_heads * config.head_dim;
  const ff = config.intermediate_size;
  const out = std / Math.sqrt(2 * config.num_hidden_layers);
  const t: Record<string, F32Tensor> = {
    'model.embed_tokens.weight': mat([config.vocab_size, d]),
    'model.norm.weight': ones(d),
  };
  if (!config.tie_word_embeddings) t['lm_head.weight'] = mat([config.vocab_size, d]);
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    t[`${p}input_layernorm.weight`] = ones(d);
    t[`${p}post_attention_layernorm.weight`] = ones(d);
    t[`${p}self_attn.q_proj.weight`] = mat([q, d]);
    t[`${p}self_attn.k_proj.weight`] = mat([kv, d]);
    t[`${p}self_attn.v_proj.weight`] = mat([kv, d]);
    t[`${p}self_attn.o_proj.weight`] = mat([d, q], out);
    t[`${p}mlp.gate_proj.weight`] = mat([ff, d]);
    t[`${p}mlp.up_proj.weight`] = mat([ff, d]);
    t[`${p}mlp.down_proj.weight`] = mat([d, ff], out);
  }
  return t;
}

/** Writes config.json, model.safetensors and (copied) tokenizer.json of a fresh model into `dir`. */
export function writeInitialModel(dir: string, config: LlamaConfig, seed: number, tokenizerPath: string): void {
  ensureDirectory(dir);
  writeSafetensorsF32(join(dir, 'model.safetensors'), initialWeights(config, seed), { format: 'pt' });
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify(llamaConfigJson(config), null, 2) + '\n');
  copyFileAtomic(tokenizerPath, join(dir, 'tokenizer.json'));
}
