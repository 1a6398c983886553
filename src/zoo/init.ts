/**
 * A fresh LLaMA checkpoint with seeded random weights, written in Hugging
 * Face layout: the starting point of the zoo's base model.
 */
import { copyFileAtomic, writeFileAtomic } from '../io/atomic.js';
import { ensureDirectory } from '../io/files.js';
import { join } from 'node:path';
import { Rng } from '../data/random.js';
import { writeSafetensorsF32, type F32Tensor } from '../io/safetensors.js';

/** The architecture of a zoo model (the fields of a LLaMA config.json it sets). */
export interface ZooArchitecture {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  /** Share the input embedding with the output head. */
  tieEmbeddings: boolean;
  maxPositions: number;
}

/** The config.json of an architecture. */
export function llamaConfigJson(arch: ZooArchitecture, vocabSize: number): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: vocabSize,
    hidden_size: arch.hiddenSize,
    intermediate_size: arch.intermediateSize,
    num_hidden_layers: arch.numLayers,
    num_attention_heads: arch.numHeads,
    num_key_value_heads: arch.numKvHeads,
    max_position_embeddings: arch.maxPositions,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    hidden_act: 'silu',
    tie_word_embeddings: arch.tieEmbeddings,
    attention_bias: false,
    mlp_bias: false,
    initializer_range: 0.02,
    torch_dtype: 'float32',
  };
}

/** Number of parameters of an architecture (tied embeddings counted once). */
export function parameterCount(arch: ZooArchitecture, vocabSize: number): number {
  const d = arch.hiddenSize;
  const kv = (d / arch.numHeads) * arch.numKvHeads;
  const layer = 2 * d + 2 * d * d + 2 * kv * d + 3 * d * arch.intermediateSize;
  return vocabSize * d * (arch.tieEmbeddings ? 1 : 2) + d + arch.numLayers * layer;
}

/**
 * Seeded initial weights: normal(0, std) for matrices, with the output
 * projections of each block scaled by 1/sqrt(2 * layers) (GPT-2 style), and
 * ones for the norms.
 */
export function initialWeights(arch: ZooArchitecture, vocabSize: number, seed: number, std = 0.02): Record<string, F32Tensor> {
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
  const d = arch.hiddenSize;
  const kv = (d / arch.numHeads) * arch.numKvHeads;
  const ff = arch.intermediateSize;
  const out = std / Math.sqrt(2 * arch.numLayers);
  const t: Record<string, F32Tensor> = {
    'model.embed_tokens.weight': mat([vocabSize, d]),
    'model.norm.weight': ones(d),
  };
  if (!arch.tieEmbeddings) t['lm_head.weight'] = mat([vocabSize, d]);
  for (let i = 0; i < arch.numLayers; i++) {
    const p = `model.layers.${i}.`;
    t[`${p}input_layernorm.weight`] = ones(d);
    t[`${p}post_attention_layernorm.weight`] = ones(d);
    t[`${p}self_attn.q_proj.weight`] = mat([d, d]);
    t[`${p}self_attn.k_proj.weight`] = mat([kv, d]);
    t[`${p}self_attn.v_proj.weight`] = mat([kv, d]);
    t[`${p}self_attn.o_proj.weight`] = mat([d, d], out);
    t[`${p}mlp.gate_proj.weight`] = mat([ff, d]);
    t[`${p}mlp.up_proj.weight`] = mat([ff, d]);
    t[`${p}mlp.down_proj.weight`] = mat([d, ff], out);
  }
  return t;
}

/** Writes config.json, model.safetensors and (copied) tokenizer.json of a fresh model into `dir`. */
export function writeInitialModel(dir: string, arch: ZooArchitecture, vocabSize: number, seed: number, tokenizerPath: string): void {
  ensureDirectory(dir);
  writeSafetensorsF32(join(dir, 'model.safetensors'), initialWeights(arch, vocabSize, seed), { format: 'pt' });
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify(llamaConfigJson(arch, vocabSize), null, 2) + '\n');
  copyFileAtomic(tokenizerPath, join(dir, 'tokenizer.json'));
}
