// Writes a LLaMA checkpoint with seeded random weights (the zoo's initial
// weights), for tests that need a model of a given size and files to break on
// purpose.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LlamaConfig } from '../../src/model/config.js';
import { initialWeights, llamaConfigJson, type ZooArchitecture } from '../../src/zoo/init.js';
import { writeSafetensors } from './safetensors.js';

/** The size fields of a LLaMA config, as the model reads them. */
export type TinyConfig = Pick<
  LlamaConfig,
  'vocab_size' | 'hidden_size' | 'intermediate_size' | 'num_hidden_layers' | 'num_attention_heads' | 'num_key_value_heads'
>;

export const SMALL: TinyConfig = { vocab_size: 64, hidden_size: 32, intermediate_size: 48, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2 };

function architecture(c: TinyConfig): ZooArchitecture {
  return {
    hiddenSize: c.hidden_size,
    intermediateSize: c.intermediate_size,
    numLayers: c.num_hidden_layers,
    numHeads: c.num_attention_heads,
    numKvHeads: c.num_key_value_heads,
    tieEmbeddings: false,
    maxPositions: 512,
  };
}

/** Writes config.json and model.safetensors; `edit` may break the header. */
export function writeRandomModel(
  dir: string,
  config: TinyConfig = SMALL,
  options: { seed?: number; edit?: (h: Record<string, unknown>) => void; configOverride?: Record<string, unknown> } = {},
): string {
  mkdirSync(dir, { recursive: true });
  const arch = architecture(config);
  // A larger spread than the zoo's 0.02, so outputs are far from uniform.
  writeSafetensors(join(dir, 'model.safetensors'), initialWeights(arch, config.vocab_size, options.seed ?? 1, 0.2), options.edit);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...llamaConfigJson(arch, config.vocab_size), ...options.configOverride }));
  return dir;
}

export function tempDir(prefix = 'poser-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
