// GGUF loading on the tiny-llama fixture written as llama.cpp's converter
// writes it (test/helpers/gguf.ts): same logits as the transformers reference
// (test/fixtures/tiny-llama, tolerance 1e-4 relative in float32), and typed
// errors for files and metadata the loader must refuse.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTokenizer, Model, PoserError, readGguf } from '../../src/index.js';
import { FIXTURE_DIR, fixtureBatch, realPositions, tensor } from '../helpers/fixture.js';
import { writeTinyLlamaGguf, type GgufTensorSpec } from '../helpers/gguf.js';
import { relError } from '../helpers/safetensors.js';

const FP32_TOL = 1e-4;
const V = 256;
const root = mkdtempSync(join(tmpdir(), 'poser-gguf-'));
let n = 0;
const fresh = () => {
  const dir = join(root, String(n++));
  mkdirSync(dir);
  return dir;
};
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function logitsError(model: Model): Promise<number> {
  const batch = fixtureBatch();
  const out = await model.forward(batch, { logits: 'all' });
  return relError(realPositions(out.logits!.data, batch, V), realPositions(tensor('logits'), batch, V));
}

async function loadError(path: string): Promise<PoserError> {
  try {
    (await Model.load(path)).dispose();
  } catch (error) {
    expect(error).toBeInstanceOf(PoserError);
    return error as PoserError;
  }
  throw new Error(`loading ${path} succeeded`);
}

describe('GGUF: the tiny-llama fixture', () => {
  it('loads from the file path and matches transformers', async () => {
    const path = writeTinyLlamaGguf(fresh());
    const model = await Model.load(path);
    expect(model.config).toMatchObject({ hidden_size: 64, num_hidden_layers: 3, num_key_value_heads: 2, head_dim: 16, vocab_size: 256, tie_word_embeddings: false });
    expect(model.config.rope).toMatchObject({ type: 'default', theta: 5000 });
    expect(await logitsError(model)).toBeLessThan(FP32_TOL);
    model.dispose();
  });

  it('loads from a directory holding one .gguf, with tokenizer.json beside it; version 2 reads alike', async () => {
    const dir = fresh();
    writeTinyLlamaGguf(dir, { tokenizer: true, version: 2 });
    const model = await Model.load(dir);
    expect(model.tokenizer).toBeDefined();
    expect(await logitsError(model)).toBeLessThan(FP32_TOL);
    const byText = await model.forward(['hello']);
    const byIds = await model.forward([model.tokenizer!.encode('hello')]);
    expect(Array.from(byText.logits!.data)).toEqual(Array.from(byIds.logits!.data));
    model.dispose();
  });

  it('without tokenizer.json, builds the tokenizer from the metadata; it encodes as tokenizer.json does', async () => {
    const model = await Model.load(writeTinyLlamaGguf(fresh()));
    const reference = loadTokenizer(join(FIXTURE_DIR, 'tokenizer.json'));
    expect(model.tokenizer).toBeDefined();
    for (const text of ['hello world', '<<prompt>>Which action? 42</prompt>', ' héllo\n\tthere'])
      expect(model.tokenizer!.encode(text), text).toEqual(reference.encode(text));
    model.dispose();
    const unsupported = await Model.load(writeTinyLlamaGguf(fresh(), { metadata: { 'tokenizer.ggml.model': { type: 'string', value: 'llama' } } }));
    expect(unsupported.tokenizer).toBeUndefined();
    unsupported.dispose();
  });

  it('ties lm_head to the embeddings when output.weight is absent', async () => {
    const path = writeTinyLlamaGguf(fresh(), { tensors: (ts) => ts.filter((t) => t.name !== 'output.weight') });
    const model = await Model.load(path);
    expect(model.config.tie_word_embeddings).toBe(true);
    const head = await model.parameter('lm_head.weight');
    const embed = await model.parameter('model.embed_tokens.weight');
    expect(Array.from(head.data)).toEqual(Array.from(embed.data));
    model.dispose();
  });

  it('saves as a Hugging Face directory that loads back to the same logits', async () => {
    const model = await Model.load(writeTinyLlamaGguf(fresh(), { tokenizer: true }));
    const out = join(fresh(), 'hf');
    await model.save(out);
    const again = await Model.load(out);
    expect(again.config).toMatchObject({ hidden_size: 64, num_key_value_heads: 2, tie_word_embeddings: false });
    expect(again.config.rope).toMatchObject({ type: 'default', theta: 5000 });
    expect(again.tokenizer).toBeDefined();
    const batch = fixtureBatch();
    const a = await model.forward(batch, { logits: 'all' });
    const b = await again.forward(batch, { logits: 'all' });
    expect(Array.from(b.logits!.data)).toEqual(Array.from(a.logits!.data));
    model.dispose();
    again.dispose();
  });

  it('Q/K rows left in HF order give wrong logits (the permutation is undone, and the check can fail)', async () => {
    const model = await Model.load(writeTinyLlamaGguf(fresh(), { skipPermutation: true }));
    expect(await logitsError(model)).toBeGreaterThan(FP32_TOL);
    model.dispose();
  });

  it('readGguf returns metadata, types and tensor infos; long arrays summarised unless asked for', async () => {
    const path = writeTinyLlamaGguf(fresh());
    const info = await readGguf(path);
    expect(info.version).toBe(3);
    expect(info.alignment).toBe(32);
    expect(info.metadata['llama.block_count']).toBe(3);
    expect(info.types['llama.rope.freq_base']).toBe('float32');
    expect(info.types['tokenizer.ggml.tokens']).toBe('array<string>');
    expect(info.metadata['tokenizer.ggml.tokens']).toEqual({ type: 'array', elementType: 'string', length: 256 });
    expect(info.metadata['tokenizer.ggml.merges']).toEqual([]);
    expect(info.tensors.find((t) => t.name === 'blk.0.ffn_down.weight')).toMatchObject({ shape: [64, 160], type: 'F32', bytes: 64 * 160 * 4 });
    const full = await readGguf(path, { arrays: ['tokenizer.ggml.tokens'] });
    expect((full.metadata['tokenizer.ggml.tokens'] as string[])[104]).toBe('h');
  });
});

describe('GGUF: refused inputs are typed errors naming the problem', () => {
  it('another architecture', async () => {
    const e = await loadError(writeTinyLlamaGguf(fresh(), { metadata: { 'general.architecture': { type: 'string', value: 'qwen2' } } }));
    expect(e.code).toBe('E_UNSUPPORTED');
    expect(e.message).toContain("'qwen2'");
  });

  it('a missing required key', async () => {
    const e = await loadError(writeTinyLlamaGguf(fresh(), { metadata: { 'llama.block_count': undefined } }));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain('llama.block_count');
  });

  it('a key of the wrong type', async () => {
    const e = await loadError(writeTinyLlamaGguf(fresh(), { metadata: { 'llama.embedding_length': { type: 'string', value: '64' } } }));
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain('llama.embedding_length');
  });

  it('partial rotary embeddings', async () => {
    const e = await loadError(writeTinyLlamaGguf(fresh(), { metadata: { 'llama.rope.dimension_count': { type: 'uint32', value: 8 } } }));
    expect(e.code).toBe('E_UNSUPPORTED');
    expect(e.message).toContain('llama.rope.dimension_count');
  });

  it('a mixture of experts', async () => {
    const e = await loadError(writeTinyLlamaGguf(fresh(), { metadata: { 'llama.expert_count': { type: 'uint32', value: 8 } } }));
    expect(e.code).toBe('E_UNSUPPORTED');
    expect(e.message).toContain('llama.expert_count');
  });

  it('linear rope scaling reaches the model as the config validation reads it', async () => {
    const path = writeTinyLlamaGguf(fresh(), {
      metadata: {
        'llama.rope.scaling.type': { type: 'string', value: 'linear' },
        'llama.rope.scaling.factor': { type: 'float32', value: 2 },
        'llama.rope.scaling.original_context_length': { type: 'uint32', value: 64 },
      },
    });
    const model = await Model.load(path);
    expect(model.config.rope).toMatchObject({ type: 'linear', factor: 2, theta: 5000 });
    // Positions are scaled, so the unscaled reference no longer matches.
    expect(await logitsError(model)).toBeGreaterThan(FP32_TOL);
    model.dispose();
  });

  it('rope scaling goes through the config validation', async () => {
    const path = writeTinyLlamaGguf(fresh(), {
      metadata: { 'llama.rope.scaling.type': { type: 'string', value: 'yarn' }, 'llama.rope.scaling.factor': { type: 'float32', value: 4 } },
    });
    const e = await loadError(path);
    expect(['E_FORMAT', 'E_UNSUPPORTED']).toContain(e.code);
    expect(e.message).toContain('rope');
  });

  it('an unsupported tensor type, by name', async () => {
    const q5: (ts: GgufTensorSpec[]) => GgufTensorSpec[] = (ts) =>
      ts.map((t) => (t.name === 'blk.1.ffn_up.weight' ? { ...t, type: 6, bytes: Buffer.alloc((t.shape[0] * t.shape[1] * 22) / 32) } : t));
    const e = await loadError(writeTinyLlamaGguf(fresh(), { tensors: q5 }));
    expect(e.code).toBe('E_UNSUPPORTED');
    expect(e.message).toContain('blk.1.ffn_up.weight');
    expect(e.message).toContain('Q5_0');
  });

  it('a tensor with no place in a LLaMA model', async () => {
    const extra: (ts: GgufTensorSpec[]) => GgufTensorSpec[] = (ts) => [...ts, { name: 'blk.0.attn_q.bias', shape: [64], type: 0, bytes: Buffer.alloc(256) }];
    const e = await loadError(writeTinyLlamaGguf(fresh(), { tensors: extra }));
    expect(e.code).toBe('E_UNSUPPORTED');
    expect(e.message).toContain('blk.0.attn_q.bias');
  });

  it('a tensor whose shape disagrees with the metadata', async () => {
    const e = await loadError(writeTinyLlamaGguf(fresh(), { metadata: { 'llama.feed_forward_length': { type: 'uint32', value: 128 } } }));
    expect(e.code).toBe('E_SHAPE');
    expect(e.message).toContain('intermediate_size 128');
  });

  it('a truncated file', async () => {
    const path = writeTinyLlamaGguf(fresh());
    const bytes = readFileSync(path);
    for (const cut of [10, 200, bytes.length - 100]) {
      writeFileSync(path, bytes.subarray(0, cut));
      const e = await loadError(path);
      expect(e.code, `cut at ${cut}`).toBe('E_FORMAT');
      expect(e.message).toContain(path);
    }
  });

  it('not a GGUF file', async () => {
    const path = join(fresh(), 'model.gguf');
    writeFileSync(path, 'this is not a model');
    const e = await loadError(path);
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toContain('not a GGUF file');
  });

  it('a directory with two .gguf files', async () => {
    const dir = fresh();
    const path = writeTinyLlamaGguf(dir);
    writeFileSync(join(dir, 'other.gguf'), readFileSync(path));
    const e = await loadError(dir);
    expect(e.code).toBe('E_ARG');
    expect(e.message).toContain('2 GGUF files');
  });

  it('readGguf with bad arguments', async () => {
    await expect(readGguf('')).rejects.toMatchObject({ code: 'E_ARG' });
    await expect(readGguf('/nonexistent/x.gguf')).rejects.toMatchObject({ code: 'E_IO' });
    await expect(readGguf(writeTinyLlamaGguf(fresh()), { arrays: 3 as unknown as boolean })).rejects.toMatchObject({ code: 'E_ARG' });
  });
});
