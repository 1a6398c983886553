// config.json dialects: transformers 4.x and 5.x layouts, hub LLaMA-family
// configs, and refusal (by name) of every field that would change the
// computation in a way this model does not implement.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { llamaConfigToJson, parameterCount, parseLlamaConfig, PoserError, readLlamaConfig, type LlamaConfig } from '../../src/index.js';
import { readSafetensorsHeader } from '../../src/io/index.js';

const DIALECTS = fileURLToPath(new URL('../fixtures/dialects', import.meta.url));
const written = (dir: string): Record<string, unknown> => JSON.parse(readFileSync(`${DIALECTS}/${dir}/config.json`, 'utf8'));

const BASE = {
  vocab_size: 64,
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 128,
};

function refusal(raw: unknown): PoserError {
  try {
    parseLlamaConfig(raw, 'test/config.json');
  } catch (error) {
    expect(error).toBeInstanceOf(PoserError);
    return error as PoserError;
  }
  throw new Error(`config unexpectedly accepted: ${JSON.stringify(raw)}`);
}

describe('config dialects', () => {
  it('the 4.x and 5.x layouts written by transformers read as the same config, per rope type', () => {
    for (const variant of ['default', 'linear', 'dynamic', 'llama3', 'head-dim']) {
      const tf4 = written(`${variant}-tf4`);
      const tf5 = written(`${variant}-tf5`);
      expect(tf4.transformers_version).toMatch(/^4\./);
      expect(tf5.transformers_version).toMatch(/^5\./);
      expect(tf5).toHaveProperty('rope_parameters');
      expect(tf5).not.toHaveProperty('rope_theta');
      expect(parseLlamaConfig(tf4)).toEqual(parseLlamaConfig(tf5));
      expect(parseLlamaConfig(tf5).rope.theta).toBe(5000);
    }
    expect(parseLlamaConfig(written('llama3-tf5')).rope).toEqual({
      type: 'llama3',
      theta: 5000,
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 64,
    });
    expect(parseLlamaConfig(written('head-dim-tf4')).head_dim).toBe(12);
  });

  it('a 5.x rope_parameters block without a top-level rope_theta is not read as theta 10000', () => {
    const c = parseLlamaConfig({ ...BASE, rope_parameters: { rope_type: 'default', rope_theta: 100000 } });
    expect(c.rope.theta).toBe(100000);
    expect(parseLlamaConfig({ ...BASE, rope_theta: 500000 }).rope.theta).toBe(500000);
    expect(parseLlamaConfig(BASE).rope).toMatchObject({ type: 'default', theta: 10000, factor: 1 });
  });

  it('hub LLaMA-family configs: rope_scaling null, legacy "type", Llama 3.1 llama3, SmolLM2 extras', () => {
    expect(parseLlamaConfig({ ...BASE, rope_scaling: null, pretraining_tp: 1, torch_dtype: 'float16', _name_or_path: 'x' }).rope.type).toBe('default');
    expect(parseLlamaConfig({ ...BASE, rope_scaling: { type: 'linear', factor: 2 } }).rope).toMatchObject({ type: 'linear', factor: 2 });
    expect(parseLlamaConfig({ ...BASE, rope_scaling: { type: 'dynamic', rope_type: 'dynamic', factor: 2 } }).rope.type).toBe('dynamic');
    const llama31 = parseLlamaConfig({
      ...BASE,
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      eos_token_id: [128001, 128008, 128009],
      rope_theta: 500000,
      rope_scaling: { factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192, rope_type: 'llama3' },
      attention_bias: false,
      attention_dropout: 0,
      mlp_bias: false,
      head_dim: 8,
    });
    expect(llama31.rope).toMatchObject({ type: 'llama3', theta: 500000, original_max_position_embeddings: 8192 });
    const smol = parseLlamaConfig({
      ...BASE,
      is_llama_config: true,
      rope_interleaved: false,
      'transformers.js_config': { kv_cache_dtype: { q4f16: 'float16' } },
      rope_theta: 100000,
      tie_word_embeddings: true,
    });
    expect(smol.rope.theta).toBe(100000);
    // transformers 5.x fills a missing llama3 original length from max_position_embeddings
    const noOriginal = parseLlamaConfig({ ...BASE, rope_parameters: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4 } });
    expect(noOriginal.rope.original_max_position_embeddings).toBe(128);
  });

  it('configs as hub checkpoints ship them (SmolLM2-135M, Llama 3.2 1B, TinyLlama 1.1B)', () => {
    const smol = parseLlamaConfig({
      _name_or_path: 'HuggingFaceTB/SmolLM2-135M', architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0,
      bos_token_id: 0, eos_token_id: 0, head_dim: 64, hidden_act: 'silu', hidden_size: 576, initializer_range: 0.041666666666666664,
      intermediate_size: 1536, is_llama_config: true, max_position_embeddings: 2048, mlp_bias: false, model_type: 'llama',
      num_attention_heads: 9, num_hidden_layers: 30, num_key_value_heads: 3, pretraining_tp: 1, rms_norm_eps: 1e-5,
      rope_interleaved: false, rope_scaling: null, rope_theta: 100000, tie_word_embeddings: true, torch_dtype: 'bfloat16',
      transformers_version: '4.48.0', use_cache: true, vocab_size: 49152,
    });
    expect(smol).toMatchObject({ head_dim: 64, num_key_value_heads: 3, tie_word_embeddings: true, rope: { type: 'default', theta: 100000 } });
    const llama32 = parseLlamaConfig({
      architectures: ['LlamaForCausalLM'], attention_bias: false, attention_dropout: 0.0, bos_token_id: 128000, eos_token_id: 128001,
      head_dim: 64, hidden_act: 'silu', hidden_size: 2048, initializer_range: 0.02, intermediate_size: 8192, max_position_embeddings: 131072,
      mlp_bias: false, model_type: 'llama', num_attention_heads: 32, num_hidden_layers: 16, num_key_value_heads: 8, pretraining_tp: 1,
      rms_norm_eps: 1e-5, rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
      rope_theta: 500000.0, tie_word_embeddings: true, torch_dtype: 'bfloat16', transformers_version: '4.45.0.dev0', use_cache: true, vocab_size: 128256,
    });
    expect(llama32.rope).toEqual({ type: 'llama3', theta: 500000, factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 });
    const tiny = parseLlamaConfig({
      _name_or_path: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0', architectures: ['LlamaForCausalLM'], bos_token_id: 1, eos_token_id: 2, hidden_act: 'silu',
      hidden_size: 2048, initializer_range: 0.02, intermediate_size: 5632, max_position_embeddings: 2048, model_type: 'llama',
      num_attention_heads: 32, num_hidden_layers: 22, num_key_value_heads: 4, pretraining_tp: 1, rms_norm_eps: 1e-5, rope_scaling: null,
      rope_theta: 10000.0, tie_word_embeddings: false, torch_dtype: 'bfloat16', transformers_version: '4.35.0', use_cache: true, vocab_size: 32000,
    });
    expect(tiny).toMatchObject({ head_dim: 64, max_position_embeddings: 2048, rope: { type: 'default', theta: 10000 } });
  });

  it('explicit head_dim: used as given, hidden_size need not be a multiple of the heads', () => {
    const c = parseLlamaConfig({ ...BASE, hidden_size: 30, head_dim: 12 });
    expect(c.head_dim).toBe(12);
    expect(parseLlamaConfig({ ...BASE, head_dim: null }).head_dim).toBe(8);
    const odd = refusal({ ...BASE, head_dim: 7 });
    expect(odd.code).toBe('E_FORMAT');
    expect(odd.message).toMatch(/head_dim 7 must be even/);
    expect(refusal({ ...BASE, hidden_size: 30 }).message).toMatch(/hidden_size 30 is not divisible by num_attention_heads 4 \(and no head_dim is given\)/);
  });

  it('the saved form reads back to the same config, in both transformers layouts', () => {
    for (const dir of ['default-tf5', 'linear-tf5', 'dynamic-tf4', 'llama3-tf5', 'head-dim-tf5']) {
      const c: LlamaConfig = parseLlamaConfig(written(dir));
      const json = llamaConfigToJson(c);
      expect(json).not.toHaveProperty('rope');
      expect(parseLlamaConfig(JSON.parse(JSON.stringify(json)))).toEqual(c);
    }
  });
});

describe('fields that change the computation are refused by name', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['attention_bias', { attention_bias: true }, /field 'attention_bias': true changes the computation/],
    ['mlp_bias', { mlp_bias: true }, /field 'mlp_bias'/],
    ['hidden_act', { hidden_act: 'gelu' }, /field 'hidden_act': 'gelu' is not supported/],
    ['pretraining_tp', { pretraining_tp: 2 }, /field 'pretraining_tp': 2/],
    ['partial_rotary_factor (top level)', { partial_rotary_factor: 0.5 }, /field 'partial_rotary_factor': 0\.5/],
    ['partial_rotary_factor (rope block)', { rope_parameters: { rope_type: 'default', rope_theta: 1e4, partial_rotary_factor: 0.5 } }, /field 'rope_parameters\.partial_rotary_factor'/],
    ['sliding_window', { sliding_window: 4096 }, /field 'sliding_window': 4096/],
    ['attention_dropout', { attention_dropout: 0.1 }, /field 'attention_dropout'/],
    ['rope_interleaved', { rope_interleaved: true }, /field 'rope_interleaved'/],
    ['rope type yarn', { rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 32 } }, /field 'rope_scaling\.rope_type': 'yarn' is not supported/],
    ['rope type longrope (5.x)', { rope_parameters: { rope_type: 'longrope', rope_theta: 1e4 } }, /field 'rope_parameters\.rope_type': 'longrope'/],
    ['attention_factor', { rope_scaling: { rope_type: 'linear', factor: 2, attention_factor: 0.5 } }, /field 'rope_scaling\.attention_factor'/],
    ['unknown rope key', { rope_parameters: { rope_type: 'default', rope_theta: 1e4, wobble: 1 } }, /field 'rope_parameters\.wobble'/],
    ['rope key of another type', { rope_scaling: { rope_type: 'linear', factor: 2, low_freq_factor: 1 } }, /field 'rope_scaling\.low_freq_factor': not used by rope type 'linear'/],
    ['unknown field', { logits_scaling: 4 }, /field 'logits_scaling': not understood/],
    ['architectures', { architectures: ['MistralForCausalLM'] }, /field 'architectures': \["MistralForCausalLM"\] is not LlamaForCausalLM/],
    ['model_type', { model_type: 'granite' }, /field 'model_type': 'granite'/],
    ['pruned_heads', { pruned_heads: { 0: [1] } }, /field 'pruned_heads'/],
    ['quantization_config', { quantization_config: { quant_method: 'gptq' } }, /field 'quantization_config'/],
  ];
  for (const [what, fields, message] of cases)
    it(what, () => {
      const e = refusal({ ...BASE, ...fields });
      expect(e.code).toBe('E_UNSUPPORTED');
      expect(e.message).toMatch(/^test\/config\.json: /);
      expect(e.message).toMatch(message);
    });

  it('neutral values of those fields, and unknown fields set to null, are accepted', () => {
    const c = parseLlamaConfig({
      ...BASE,
      attention_bias: false,
      mlp_bias: false,
      pretraining_tp: 1,
      partial_rotary_factor: 1,
      sliding_window: null,
      use_sliding_window: false,
      attention_dropout: 0,
      hidden_act: 'silu',
      some_future_switch: null,
      _attn_implementation_autoset: true,
      attn_implementation: 'sdpa',
    });
    expect(c.rope.type).toBe('default');
  });
});

describe('malformed rope settings are format errors naming the field', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['linear without factor', { rope_scaling: { rope_type: 'linear' } }, /rope_scaling\.factor must be a positive number, got undefined/],
    ['llama3 with high <= low', { rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 4, original_max_position_embeddings: 64 } }, /rope_scaling\.high_freq_factor must be greater than low_freq_factor/],
    ['conflicting theta', { rope_theta: 10000, rope_parameters: { rope_type: 'default', rope_theta: 500000 } }, /rope_theta 10000 and rope_parameters\.rope_theta 500000 disagree/],
    ['type and rope_type disagree', { rope_scaling: { type: 'linear', rope_type: 'dynamic', factor: 2 } }, /rope_scaling\.rope_type 'dynamic' and rope_scaling\.type 'linear' disagree/],
    ['both blocks, different', { rope_scaling: { rope_type: 'linear', factor: 2 }, rope_parameters: { rope_type: 'linear', factor: 4 } }, /both 'rope_scaling' and 'rope_parameters'/],
    ['a string theta', { rope_theta: '10000' }, /field 'rope_theta'/],
    ['not an object', { rope_scaling: 'linear' }, /field 'rope_scaling'/],
  ];
  for (const [what, fields, message] of cases)
    it(what, () => {
      const e = refusal({ ...BASE, ...fields });
      expect(e.code).toBe('E_FORMAT');
      expect(e.message).toMatch(message);
    });
});

describe('parameterCount', () => {
  const FIXTURES = fileURLToPath(new URL('../fixtures', import.meta.url));
  const stored = (dir: string) =>
    Object.values(readSafetensorsHeader(`${dir}/model.safetensors`).entries).reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0);

  it('counts the tensors transformers wrote, for every fixture (an explicit head_dim among them)', () => {
    const dirs = [`${FIXTURES}/tiny-llama`, ...readdirSync(DIALECTS).map((d) => `${DIALECTS}/${d}`)];
    for (const dir of dirs) expect(parameterCount(readLlamaConfig(dir)), dir).toBe(stored(dir));
    expect(readLlamaConfig(`${DIALECTS}/head-dim-tf4`).head_dim).not.toBe(32 / 4);
  });

  it("gives SmolLM2-135M's count (tied embeddings, GQA 9/3), as transformers' num_parameters() reports it", () => {
    const smollm2 = { vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, tie_word_embeddings: true };
    expect(parameterCount(smollm2)).toBe(134_515_008);
  });
});
