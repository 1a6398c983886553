// Writes a LLaMA checkpoint with seeded random weights (the zoo's initial
// weights), for tests that need a model of a given size and files to break on
// purpose.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultRope, type LlamaConfig, type LlamaSizes } from '../../src/model/config.js';
import { initialWeights, llamaConfigJson } from '../../src/zoo/init.js';
import { writeSafetensors } from './safetensors.js';

/** The size fields of a LLaMA config, as the model reads them. */
export type TinyConfig = LlamaSizes;

export const SMALL: TinyConfig = { vocab_size: 64, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 };

/** The full config of a test model: the sizes, untied embeddings, the zoo's other settings. */
function fullConfig(c: TinyConfig): LlamaConfig {
  return { ...c, head_dim: c.hidden_size / c.num_attention_heads, rms_norm_eps: 1e-5, max_position_embeddings: 512, tie_word_embeddings: false, rope: defaultRope() };
}

/** Writes config.json and model.safetensors; `edit` may break the header. */
export function writeRandomModel(
  dir: string,
  config: TinyConfig = SMALL,
  options: { seed?: number; edit?: (h: Record<string, unknown>) => void; configOverride?: Record<string, unknown> } = {},
): string {
  mkdirSync(dir, { recursive: true });
  const full = fullConfig(config);
  // A larger spread than the zoo's 0.02, so outputs are far from uniform.
  writeSafetensors(join(dir, 'model.safetensors'), initialWeights(full, options.seed ?? 1, 0.2), options.edit);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...llamaConfigJson(full), ...options.configOverride }));
  return dir;
}

export function tempDir(prefix = 'poser-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
