// A small model's CPU forward splits its batch across the threads, each part a
// whole forward on one thread. Every row must come out as it does alone:
// per-row values, per-row positions (padding moves them) and captures follow
// their rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model, getNumThreads, setNumThreads, type EncodedBatch, type Intervention } from '../../src/index.js';
import { FIXTURE_DIR, fixtureBatch } from '../helpers/fixture.js';
import { relError } from '../helpers/safetensors.js';

const D = 64;
let model: Model;
let threads: number;
beforeAll(async () => {
  threads = getNumThreads();
  setNumThreads(2); // two parts for the fixture's three rows, on any machine
  model = await Model.load(FIXTURE_DIR);
});
afterAll(() => {
  model.dispose();
  setNumThreads(threads);
});

function row(batch: EncodedBatch, r: number): EncodedBatch {
  const t = batch.length;
  return {
    ids: batch.ids.slice(r * t, (r + 1) * t),
    mask: batch.mask.slice(r * t, (r + 1) * t),
    batch: 1,
    length: t,
    lengths: [batch.lengths[r]],
  };
}

// Row r's part of a per-row intervention list (values given per row are narrowed to r's).
function forRow(ivs: Intervention[], r: number): Intervention[] {
  return ivs.map((iv) => ('value' in iv && Array.isArray(iv.value) && typeof iv.value[0] !== 'number'
    ? { ...iv, value: [(iv.value as ArrayLike<number>[])[r]] }
    : iv) as Intervention);
}

describe('rows split across threads', () => {
  it('give every row what it gets alone, interventions and captures included', async () => {
    const batch = fixtureBatch();
    expect(batch.batch).toBeGreaterThanOrEqual(3);
    const perRow = (k: number) => Array.from({ length: batch.batch }, (_, r) =>
      Float32Array.from({ length: D }, (_, i) => Math.sin(i * (r + 1) + k)));
    const ivs: Intervention[] = [
      { hook: 'blocks.0.hook_resid_post', op: 'add', value: perRow(1), scale: 0.5, positions: [0, -1] },
      { hook: 'blocks.1.ln1.hook_normalized', op: 'set', value: perRow(2), positions: [1] },
      { hook: 'blocks.1.hook_resid_pre', op: 'capture' },
      { hook: 'blocks.1.attn.hook_pattern', op: 'capture', positions: 'all' },
      { hook: 'blocks.1.hook_resid_post', op: 'project_out', value: perRow(3), positions: 'all' },
      { hook: 'blocks.2.hook_mlp_out', op: 'noise', noise: { seed: 5, norm: 2 }, positions: [-2, -1] },
      { hook: 'blocks.2.hook_resid_post', op: 'capture', positions: [-1, 0] },
    ];
    const whole = await model.forward(batch, { logits: 'all', interventions: ivs });
    const keys = Object.keys(whole.captures);
    expect(keys.length).toBe(3);
    for (let r = 0; r < batch.batch; r++) {
      const alone = await model.forward(row(batch, r), { logits: 'all', interventions: forRow(ivs, r) });
      const logitsPerRow = alone.logits!.data.length;
      // Float32 with matrix products of other shapes: rounding only.
      expect(relError(whole.logits!.data.slice(r * logitsPerRow, (r + 1) * logitsPerRow), alone.logits!.data), `row ${r}`).toBeLessThan(1e-5);
      for (const key of keys) {
        const n = alone.captures[key].data.length;
        expect(whole.captures[key].shape.slice(1)).toEqual(alone.captures[key].shape.slice(1));
        expect(relError(whole.captures[key].data.slice(r * n, (r + 1) * n), alone.captures[key].data), `${key} row ${r}`).toBeLessThan(1e-5);
      }
    }
  });

  it('still names a per-row value with the wrong number of rows', async () => {
    const batch = fixtureBatch();
    const value = [new Float32Array(D), new Float32Array(D)]; // two rows for a batch of three
    await expect(model.forward(batch, { interventions: [{ hook: 'blocks.0.hook_resid_post', op: 'add', value }] }))
      .rejects.toThrow(/row|shape|\[2/);
  });
});
