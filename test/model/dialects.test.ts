// Parity with transformers for every rope type (default, linear, dynamic,
// llama3) and an explicit head_dim, each with a config.json written by
// transformers 4.x and by 5.x (fixtures from tools/make_fixtures.py --group
// dialects; versions in each meta.json). Tolerance: max|ours - HF| / max|HF|
// <= 1e-4 in float32 at real (unpadded) positions. Also the position limit.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Model, PoserError, type Intervention } from '../../src/index.js';
import { encodedBatch, realPositions } from '../helpers/fixture.js';
import { tempDir } from '../helpers/random-model.js';
import { f32, readSafetensors, relError } from '../helpers/safetensors.js';

const FP32_TOL = 1e-4;
const DIALECTS = fileURLToPath(new URL('../fixtures/dialects', import.meta.url));
const VARIANTS = ['default', 'linear', 'dynamic', 'llama3', 'head-dim'];
const LAYOUTS = ['tf4', 'tf5'];

const measured: Record<string, number> = {};
afterAll(() => {
  // The figures behind the tolerance, for the record.
  console.info(Object.entries(measured).map(([k, v]) => `${k}: ${v.toExponential(2)}`).join('\n'));
});

for (const variant of VARIANTS)
  for (const layout of LAYOUTS) {
    const name = `${variant}-${layout}`;
    const dir = join(DIALECTS, name);
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as { cases: Record<string, unknown> };
    describe(`parity: ${name}`, () => {
      const expected = readSafetensors(join(dir, 'expected.safetensors'));
      for (const kase of Object.keys(meta.cases))
        it(`${kase}: logits and every hidden state within ${FP32_TOL}`, async () => {
          const model = await Model.load(dir);
          try {
            const batch = encodedBatch(expected.get(`${kase}.input_ids`)!, expected.get(`${kase}.attention_mask`)!);
            const L = model.numLayers;
            const D = model.hiddenSize;
            const pairs: [string, string][] = [['hook_embed', 'hidden.0']];
            for (let k = 0; k < L - 1; k++) pairs.push([`blocks.${k}.hook_resid_post`, `hidden.${k + 1}`]);
            pairs.push([`blocks.${L - 1}.hook_resid_post`, `resid_post.${L - 1}`], ['ln_final.hook_normalized', `hidden.${L}`]);
            const interventions: Intervention[] = pairs.map(([hook], i) => ({ hook, op: 'capture', positions: 'all', name: `c${i}` }));
            const out = await model.forward(batch, { logits: 'all', interventions });
            const V = model.vocabSize;
            const logitsErr = relError(realPositions(out.logits!.data, batch, V), realPositions(f32(expected.get(`${kase}.logits`)), batch, V));
            measured[`${name}/${kase} logits`] = logitsErr;
            expect(logitsErr).toBeLessThan(FP32_TOL);
            let hiddenErr = 0;
            pairs.forEach(([hook, ref], i) => {
              const err = relError(realPositions(out.captures[`c${i}`].data, batch, D), realPositions(f32(expected.get(`${kase}.${ref}`)), batch, D));
              expect(err, `${hook} vs ${ref}`).toBeLessThan(FP32_TOL);
              hiddenErr = Math.max(hiddenErr, err);
            });
            measured[`${name}/${kase} hidden (max over states)`] = hiddenErr;
          } finally {
            model.dispose();
          }
        });
    });
  }

async function rejection(promise: Promise<unknown>): Promise<PoserError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(PoserError);
    return error as PoserError;
  }
  throw new Error('the call unexpectedly succeeded');
}

const tokens = (n: number): number[] => Array.from({ length: n }, (_, i) => 1 + (i % 60));

describe('positions beyond max_position_embeddings', () => {
  it('default rope: 32 positions run, 33 are refused naming the limit, on every entry point', async () => {
    const model = await Model.load(join(DIALECTS, 'default-tf5'));
    try {
      expect(model.config.max_position_embeddings).toBe(32);
      await model.forward([tokens(32)]);
      const e = await rejection(model.forward([tokens(5), tokens(33)]));
      expect(e.code).toBe('E_ARG');
      expect(e.message).toMatch(/33 positions exceeds this model's limit of 32 \(max_position_embeddings; rope type 'default'/);
      await expect(model.capture([tokens(40)], ['hook_embed'])).rejects.toMatchObject({ code: 'E_ARG' });
      await expect(model.sweep([tokens(40)], [[]])).rejects.toMatchObject({ code: 'E_ARG' });
      await expect(model.evaluateLoss([tokens(40)], { kind: 'answer', targets: [1] })).rejects.toMatchObject({ code: 'E_ARG' });
      expect((await model.forward([tokens(3)])).logits!.shape).toEqual([1, 64]);
    } finally {
      model.dispose();
    }
  });

  it('linear and llama3 rope keep the limit; dynamic rope extends past it', async () => {
    for (const [name, limit] of [['linear-tf4', 64], ['llama3-tf5', 256]] as const) {
      const model = await Model.load(join(DIALECTS, name));
      try {
        await model.forward([tokens(limit)]);
        const e = await rejection(model.forward([tokens(limit + 1)]));
        expect(e.code).toBe('E_ARG');
        expect(e.message).toMatch(new RegExp(`limit of ${limit} \\(max_position_embeddings`));
      } finally {
        model.dispose();
      }
    }
    const dynamic = await Model.load(join(DIALECTS, 'dynamic-tf5'));
    try {
      expect(dynamic.config.max_position_embeddings).toBe(16);
      const out = await dynamic.forward([tokens(40)]);
      expect(out.logits!.data.every(Number.isFinite)).toBe(true);
    } finally {
      dynamic.dispose();
    }
  });
});

describe('dynamic rope past the limit', () => {
  it('a sweep (cached prefix, last token rerun) equals a full forward per setting', async () => {
    const model = await Model.load(join(DIALECTS, 'dynamic-tf4'));
    try {
      const prompts = [tokens(28), tokens(21)];
      const value = Float32Array.from({ length: model.hiddenSize }, (_, i) => Math.sin(i));
      const settings: Intervention[][] = [[], [{ hook: 'blocks.1.hook_resid_pre', op: 'add', value, scale: 2 }]];
      const swept = await model.sweep(prompts, settings);
      for (let s = 0; s < settings.length; s++) {
        const full = await model.forward(prompts, { interventions: settings[s] });
        expect(relError(swept[s].logits.data, full.logits!.data), `setting ${s}`).toBeLessThan(1e-5);
      }
    } finally {
      model.dispose();
    }
  });
});

describe('explicit head_dim', () => {
  it('a head_dim that disagrees with the weights is a shape error naming head_dim', async () => {
    const dir = tempDir();
    for (const f of ['model.safetensors']) copyFileSync(join(DIALECTS, 'head-dim-tf5', f), join(dir, f));
    const config = JSON.parse(readFileSync(join(DIALECTS, 'head-dim-tf5', 'config.json'), 'utf8'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, head_dim: 16 }));
    const e = await rejection(Model.load(dir));
    expect(e.code).toBe('E_SHAPE');
    expect(e.message).toMatch(/q_proj\.weight' has shape \[48, 32\] but the config implies \[64, 32\]/);
    expect(e.message).toMatch(/head_dim 16/);
  });
});
