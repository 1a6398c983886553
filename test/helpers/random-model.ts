// Writes a LLaMA checkpoint with seeded random weights, for tests that need a
// model of a given size (and files to break on purpose).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSafetensors } from './safetensors.js';

export interface TinyConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
}

export const SMALL: TinyConfig = { vocab_size: 64, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 };

export function tensorShapes(c: TinyConfig): Record<string, number[]> {
  const d = c.hidden_size;
  const kv = (d / c.num_attention_heads) * c.num_key_value_heads;
  const shapes: Record<string, number[]> = { 'model.embed_tokens.weight': [c.vocab_size, d], 'model.norm.weight': [d], 'lm_head.weight': [c.vocab_size, d] };
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    Object.assign(shapes, {
      [`${p}input_layernorm.weight`]: [d],
      [`${p}post_attention_layernorm.weight`]: [d],
      [`${p}self_attn.q_proj.weight`]: [d, d],
      [`${p}self_attn.k_proj.weight`]: [kv, d],
      [`${p}self_attn.v_proj.weight`]: [kv, d],
      [`${p}self_attn.o_proj.weight`]: [d, d],
      [`${p}mlp.gate_proj.weight`]: [c.intermediate_size, d],
      [`${p}mlp.up_proj.weight`]: [c.intermediate_size, d],
      [`${p}mlp.down_proj.weight`]: [d, c.intermediate_size],
    });
  }
  return shapes;
}

/** Writes config.json and model.safetensors; `edit` may break the header. */
export function writeRandomModel(
  dir: string,
  config: TinyConfig = SMALL,
  options: { seed?: number; edit?: (h: Record<string, unknown>) => void; configOverride?: Record<string, unknown> } = {},
): string {
  mkdirSync(dir, { recursive: true });
  let state = options.seed ?? 1;
  const rand = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, shape] of Object.entries(tensorShapes(config))) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = name.includes('norm') ? 1 + 0.1 * rand() : 0.4 * rand();
    tensors[name] = { shape, data };
  }
  writeSafetensors(join(dir, 'model.safetensors'), tensors, options.edit);
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ architectures: ['LlamaForCausalLM'], ...config, rms_norm_eps: 1e-5, rope_theta: 10000, max_position_embeddings: 512, tie_word_embeddings: false, ...options.configOverride }),
  );
  return dir;
}

export function tempDir(prefix = 'poser-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
