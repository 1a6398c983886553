import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { PoserError } from '../errors.js';

/** The fields of a Hugging Face `LlamaForCausalLM` config.json that the model uses. */
export const LlamaConfigSchema = z
  .object({
    vocab_size: z.number().int().positive(),
    hidden_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive(),
    num_key_value_heads: z.number().int().positive().optional(),
    rms_norm_eps: z.number().positive().default(1e-6),
    rope_theta: z.number().positive().default(10000),
    max_position_embeddings: z.number().int().positive().default(2048),
    tie_word_embeddings: z.boolean().default(false),
    hidden_act: z.string().default('silu'),
    rope_scaling: z.unknown().optional(),
    attention_bias: z.boolean().optional(),
    mlp_bias: z.boolean().optional(),
  })
  .passthrough();

/** A parsed config.json of a LLaMA-architecture model (Hugging Face field names), `num_key_value_heads` filled in. */
export type LlamaConfig = z.infer<typeof LlamaConfigSchema> & { num_key_value_heads: number };

/** Validates a parsed config.json; errors name the file and the field. */
export function parseLlamaConfig(raw: unknown, source = 'config.json'): LlamaConfig {
  const result = LlamaConfigSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new PoserError('E_FORMAT', `${source}: field '${issue.path.join('.')}': ${issue.message}`);
  }
  const c = result.data;
  const kv = c.num_key_value_heads ?? c.num_attention_heads;
  const fail = (message: string): never => {
    throw new PoserError('E_FORMAT', `${source}: ${message}`);
  };
  if (c.hidden_size % c.num_attention_heads !== 0)
    fail(`hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`);
  if (c.num_attention_heads % kv !== 0)
    fail(`num_attention_heads ${c.num_attention_heads} is not divisible by num_key_value_heads ${kv}`);
  if (c.hidden_act !== 'silu') fail(`hidden_act '${c.hidden_act}' is not supported (only silu)`);
  if (c.rope_scaling != null) fail('rope_scaling is not supported');
  if (c.attention_bias || c.mlp_bias) fail('attention_bias / mlp_bias are not supported');
  const arch = (c as { architectures?: unknown }).architectures;
  if (Array.isArray(arch) && arch.length > 0 && !arch.includes('LlamaForCausalLM'))
    fail(`architecture ${JSON.stringify(arch)} is not LlamaForCausalLM`);
  return { ...c, num_key_value_heads: kv };
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
