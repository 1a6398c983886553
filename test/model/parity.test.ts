// Numeric parity with Hugging Face transformers (fixtures from
// tools/make_fixtures.py; versions in test/fixtures/tiny-llama/meta.json).
// Tolerance: relative error max|ours - HF| / max|HF| <= 1e-4 in float32, at
// real (unpadded) positions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model, type Intervention } from '../../src/index.js';
import { FIXTURE_DIR, fixtureBatch, realPositions, tensor } from '../helpers/fixture.js';
import { maxAbsDiff, relError } from '../helpers/safetensors.js';

const FP32_TOL = 1e-4;
// HF's own bf16 forward differs from its fp32 logits by 0.128 at most on this
// fixture (meta.json); ours must stay within 0.3 of the fp32 reference.
const BF16_ABS_TOL = 0.3;

describe('forward parity with transformers (fp32)', () => {
  let model: Model;
  const batch = fixtureBatch();
  const D = 64;
  const V = 256;

  beforeAll(async () => {
    model = await Model.load(FIXTURE_DIR);
  });
  afterAll(() => model.dispose());

  it('logits at every real position', async () => {
    const out = await model.forward(batch, { logits: 'all' });
    expect(out.logits!.shape).toEqual([3, 12, V]);
    const err = relError(realPositions(out.logits!.data, batch, V), realPositions(tensor('logits'), batch, V));
    expect(err).toBeLessThan(FP32_TOL);
  });

  it('every hidden state and block internal', async () => {
    const pairs: [string, string][] = [
      ['hook_embed', 'embed'],
      ['blocks.0.hook_resid_post', 'resid_post.0'],
      ['blocks.1.hook_resid_post', 'resid_post.1'],
      ['blocks.2.hook_resid_post', 'resid_post.2'],
      ['blocks.1.hook_resid_pre', 'resid_post.0'],
      ['blocks.1.hook_attn_out', 'attn_out.1'],
      ['blocks.1.hook_resid_mid', 'resid_mid.1'],
      ['blocks.1.hook_mlp_in', 'resid_mid.1'],
      ['blocks.1.ln2.hook_normalized', 'mlp_in.1'],
      ['blocks.1.hook_mlp_out', 'mlp_out.1'],
      ['ln_final.hook_normalized', 'final_norm'],
    ];
    const interventions: Intervention[] = pairs.map(([hook], i) => ({ hook, op: 'capture', positions: 'all', name: `c${i}` }));
    const out = await model.forward(batch, { logits: 'none', interventions });
    pairs.forEach(([hook, ref], i) => {
      const got = out.captures[`c${i}`];
      expect(got.shape, hook).toEqual([3, 12, D]);
      const err = relError(realPositions(got.data, batch, D), realPositions(tensor(ref), batch, D));
      expect(err, `${hook} vs ${ref}`).toBeLessThan(FP32_TOL);
    });
  });

  it('last-position logits and scoreChoices agree with the full logits', async () => {
    const out = await model.forward(batch);
    expect(out.logits!.shape).toEqual([3, V]);
    const ref = tensor('logits');
    const last: number[] = [];
    for (let b = 0; b < 3; b++) for (let v = 0; v < V; v++) last.push(ref[(b * 12 + 11) * V + v]);
    expect(relError(out.logits!.data, last)).toBeLessThan(FP32_TOL);
    const probs = await model.scoreChoices(batch, [65, 66]);
    for (let b = 0; b < 3; b++) {
      const row = last.slice(b * V, (b + 1) * V);
      const max = Math.max(...row);
      const z = row.reduce((s, x) => s + Math.exp(x - max), 0);
      expect(probs[b][0]).toBeCloseTo(Math.exp(row[65] - max) / z, 5);
      expect(probs[b][1]).toBeCloseTo(Math.exp(row[66] - max) / z, 5);
    }
  });

  it('a padded row equals the same row run alone', async () => {
    const alone = { ...fixtureBatch() };
    const b = 2;
    const len = batch.lengths[b];
    const ids = Array.from(batch.ids.slice(b * 12 + 12 - len, b * 12 + 12));
    const single = await model.forward([ids], { logits: 'all' });
    const padded = await model.forward(alone, { logits: 'all' });
    const want = padded.logits!.data.slice((b * 12 + 12 - len) * V, (b * 12 + 12) * V);
    expect(maxAbsDiff(single.logits!.data, want)).toBeLessThan(1e-4);
  });

  it('detects a single perturbed weight (the check can fail)', async () => {
    const perturbed = await Model.load(FIXTURE_DIR);
    const name = 'model.layers.1.mlp.down_proj.weight';
    const w = await perturbed.parameter(name);
    w.data[0] += 0.05;
    await perturbed.setParameter(name, w);
    const out = await perturbed.forward(batch, { logits: 'all' });
    const err = relError(realPositions(out.logits!.data, batch, V), realPositions(tensor('logits'), batch, V));
    perturbed.dispose();
    expect(err).toBeGreaterThan(FP32_TOL);
  });
});

describe('forward parity in bfloat16', () => {
  it(`logits within ${BF16_ABS_TOL} of the fp32 reference`, async () => {
    const model = await Model.load(FIXTURE_DIR, { dtype: 'bfloat16' });
    const batch = fixtureBatch();
    const out = await model.forward(batch, { logits: 'all' });
    model.dispose();
    const diff = maxAbsDiff(realPositions(out.logits!.data, batch, 256), realPositions(tensor('logits'), batch, 256));
    expect(diff).toBeLessThan(BF16_ABS_TOL);
    expect(diff).toBeGreaterThan(0); // really ran in reduced precision
  });
});
