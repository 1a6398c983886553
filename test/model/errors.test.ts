// Bad input gives a clear PoserError and never crashes the process.
import { readFileSync, truncateSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model, PoserError } from '../../src/index.js';
import { FIXTURE_DIR } from '../helpers/fixture.js';
import { SMALL, tempDir, writeRandomModel } from '../helpers/random-model.js';

async function loadError(dir: string): Promise<PoserError> {
  try {
    const m = await Model.load(dir);
    m.dispose();
  } catch (error) {
    expect(error).toBeInstanceOf(PoserError);
    return error as PoserError;
  }
  throw new Error(`loading ${dir} unexpectedly succeeded`);
}

describe('broken model files', () => {
  it('a truncated safetensors file', async () => {
    const dir = writeRandomModel(tempDir());
    const path = join(dir, 'model.safetensors');
    truncateSync(path, Math.floor(readFileSync(path).length / 2));
    const e = await loadError(dir);
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toMatch(/model\.safetensors/);
    expect(e.message).toMatch(/out of range/);
  });

  it('a file shorter than its 8-byte header length', async () => {
    const dir = writeRandomModel(tempDir());
    writeFileSync(join(dir, 'model.safetensors'), Buffer.from([1, 2, 3]));
    expect((await loadError(dir)).message).toMatch(/truncated/);
  });

  it('a header length larger than the file', async () => {
    const dir = writeRandomModel(tempDir());
    const path = join(dir, 'model.safetensors');
    const buf = readFileSync(path);
    buf.writeBigUInt64LE(BigInt(buf.length * 10), 0);
    writeFileSync(path, buf);
    const e = await loadError(dir);
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toMatch(/header length \d+ larger than the file/);
  });

  it('a tensor offset out of range', async () => {
    const dir = writeRandomModel(tempDir(), SMALL, {
      edit: (h) => {
        (h['model.norm.weight'] as { data_offsets: number[] }).data_offsets = [10_000_000, 10_000_128];
      },
    });
    const e = await loadError(dir);
    expect(e.code).toBe('E_FORMAT');
    expect(e.message).toMatch(/model\.norm\.weight/);
  });

  it('an unknown dtype', async () => {
    const dir = writeRandomModel(tempDir(), SMALL, {
      edit: (h) => {
        (h['lm_head.weight'] as { dtype: string }).dtype = 'Q4';
      },
    });
    const e = await loadError(dir);
    expect(e.code).toBe('E_DTYPE');
    expect(e.message).toMatch(/lm_head\.weight/);
    expect(e.message).toMatch(/Q4/);
  });

  it('a config whose shapes disagree with the weights', async () => {
    const dir = writeRandomModel(tempDir(), SMALL, { configOverride: { intermediate_size: 40 } });
    const e = await loadError(dir);
    expect(e.code).toBe('E_SHAPE');
    expect(e.message).toMatch(/gate_proj\.weight' has shape \[48, 32\] but the config implies \[40, 32\]/);
  });

  it('a missing tensor, a missing directory and an invalid config', async () => {
    // Its bytes stay in the file, unclaimed: the format refuses that before the
    // model can miss the tensor (a file without the bytes: malformed.test.ts).
    const dir = writeRandomModel(tempDir(), SMALL, { edit: (h) => delete h['model.norm.weight'] });
    expect((await loadError(dir)).message).toMatch(/belong to no tensor|left over after the last tensor/);
    expect((await loadError('/nonexistent/model')).code).toBe('E_IO');
    const bad = writeRandomModel(tempDir(), SMALL, { configOverride: { num_attention_heads: 5 } });
    expect((await loadError(bad)).message).toMatch(/hidden_size 32 is not divisible by num_attention_heads 5/);
  });

  it('an unavailable device or unknown dtype', async () => {
    await expect(Model.load(FIXTURE_DIR, { device: 'cuda:7' })).rejects.toMatchObject({ code: 'E_DEVICE' });
    await expect(Model.load(FIXTURE_DIR, { device: 'tpu' })).rejects.toMatchObject({ code: 'E_ARG' });
    await expect(Model.load(FIXTURE_DIR, { dtype: 'int8' as never })).rejects.toMatchObject({ code: 'E_ARG' });
  });
});

describe('bad arguments', () => {
  let model: Model;
  beforeAll(async () => {
    model = await Model.load(FIXTURE_DIR);
  });
  afterAll(() => model.dispose());
  const ids = [[1, 2, 3, 4]];

  it('unknown hook and layer out of range', async () => {
    await expect(model.forward(ids, { interventions: [{ hook: 'blocks.0.hook_nothing', op: 'capture' }] })).rejects.toThrow(/unknown hook 'blocks\.0\.hook_nothing'/);
    await expect(model.forward(ids, { interventions: [{ hook: 'blocks.3.hook_resid_post', op: 'capture' }] })).rejects.toThrow(/layer 3 out of range \(the model has 3 layers/);
  });

  it('NaN scale, wrong vector width, positions out of range', async () => {
    await expect(model.forward(ids, { interventions: [{ hook: 'hook_embed', op: 'scale', scale: NaN }] })).rejects.toThrow(/scale must be a finite number/);
    await expect(model.forward(ids, { interventions: [{ hook: 'hook_embed', op: 'add', value: new Float32Array(63) }] })).rejects.toThrow(/width 63, but the model's hidden size is 64/);
    await expect(model.forward(ids, { interventions: [{ hook: 'hook_embed', op: 'capture', positions: [4] }] })).rejects.toThrow(/position 4 out of range for row 0 \(it has 4 tokens\)/);
    await expect(model.forward(ids, { interventions: [{ hook: 'hook_embed', op: 'explode' } as never] })).rejects.toThrow(/unknown op 'explode'/);
  });

  it('empty batch, empty prompt, token out of range', async () => {
    await expect(model.forward([])).rejects.toThrow(/empty batch/);
    await expect(model.forward([[1], []])).rejects.toThrow(/empty prompt at row 1/);
    await expect(model.forward([[1, 999]])).rejects.toThrow(/token id 999 .* out of range \(vocab size 256\)/);
  });

  it('learning rate <= 0, training without trainable parameters, unknown parameter', async () => {
    await expect(model.configureOptimizer({ lr: 0 })).rejects.toThrow(/learning rate must be a finite number > 0/);
    await expect(model.configureOptimizer({ lr: -1 })).rejects.toMatchObject({ code: 'E_ARG' });
    await expect(model.trainStep(ids, { kind: 'answer', targets: [1] })).rejects.toMatchObject({ code: 'E_STATE' });
    await expect(model.parameter('model.nothing.weight')).rejects.toThrow(/unknown parameter 'model\.nothing\.weight'/);
    await expect(model.setTrainable({ patterns: ['('] })).rejects.toThrow(/invalid parameter pattern/);
    await expect(model.trainStep(ids, { kind: 'answer', targets: [1, 2] })).rejects.toThrow(/2 targets for 1 rows/);
    // the model still works after all of these
    expect((await model.forward(ids)).logits!.shape).toEqual([1, 256]);
  });

  it('a disposed model rejects calls', async () => {
    const m = await Model.load(FIXTURE_DIR);
    m.dispose();
    await expect(m.forward(ids)).rejects.toMatchObject({ code: 'E_DISPOSED' });
  });

  it('calls on one model run in call order', async () => {
    const order: number[] = [];
    await Promise.all([0, 1, 2, 3, 4].map((i) => model.forward(ids).then(() => order.push(i))));
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('saving', () => {
  it('a saved model reloads with identical outputs, and no temporary file is left', async () => {
    const m = await Model.load(FIXTURE_DIR);
    await m.setTrainable({ patterns: ['mlp'] });
    await m.configureOptimizer({ lr: 1e-2 });
    await m.trainStep([[5, 6, 7, 8]], { kind: 'answer', targets: [9] });
    const dir = tempDir();
    await m.save(dir);
    const reloaded = await Model.load(dir);
    const a = await m.forward([[1, 2, 3, 4, 5]], { logits: 'all' });
    const b = await reloaded.forward([[1, 2, 3, 4, 5]], { logits: 'all' });
    expect(Array.from(b.logits!.data)).toEqual(Array.from(a.logits!.data));
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    await m.addMlpAdapter({ layer: 0 });
    await m.saveAdapters(join(dir, 'adapter.safetensors'));
    expect(readdirSync(dir)).toContain('adapter.safetensors');
    m.dispose();
    reloaded.dispose();
  });

  it('saving to an impossible path is a clear error', async () => {
    const m = await Model.load(FIXTURE_DIR);
    await expect(m.saveAdapters('/nonexistent/dir/a.safetensors')).rejects.toMatchObject({ code: 'E_STATE' });
    await m.addMlpAdapter({ layer: 0 });
    await expect(m.saveAdapters('/nonexistent/dir/a.safetensors')).rejects.toMatchObject({ code: 'E_IO' });
    m.dispose();
  });
});
