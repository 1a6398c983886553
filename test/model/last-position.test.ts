// Last-position logits and the answer loss read only the last position, so
// the last block computes that position alone (against the keys and values
// of the others) where nothing hooks it. Its logits must be those of the full
// computation, with padding, per-row interventions in earlier blocks, on one
// thread and split across two; an op in the last block takes the full path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model, getNumThreads, setNumThreads, type Intervention } from '../../src/index.js';
import { FIXTURE_DIR, fixtureBatch } from '../helpers/fixture.js';
import { relError } from '../helpers/safetensors.js';

let model: Model;
let threads: number;
beforeAll(async () => {
  threads = getNumThreads();
  model = await Model.load(FIXTURE_DIR);
});
afterAll(() => {
  model.dispose();
  setNumThreads(threads);
});

// The last position's row of each batch row from 'all' logits [B, T, V].
function lastOfAll(all: Float32Array, batch: number, length: number, vocab: number): Float32Array {
  const out = new Float32Array(batch * vocab);
  for (let b = 0; b < batch; b++) out.set(all.subarray(((b + 1) * length - 1) * vocab, (b + 1) * length * vocab), b * vocab);
  return out;
}

describe('last-position logits', () => {
  const batch = fixtureBatch();
  const last = () => `blocks.${model.numLayers - 1}`;
  const perRow = (k: number) => Array.from({ length: batch.batch }, (_, r) =>
    Float32Array.from({ length: model.hiddenSize }, (_, i) => Math.cos(i * (r + 2) + k)));

  for (const n of [1, 2]) {
    it(`equal the full computation's last position, with padding and earlier interventions (${n} thread${n > 1 ? 's' : ''})`, async () => {
      setNumThreads(n);
      expect(Math.min(...batch.lengths)).toBeLessThan(batch.length); // some row is padded
      const ivs: Intervention[] = [
        { hook: 'blocks.0.hook_resid_post', op: 'add', value: perRow(1), scale: 0.5, positions: 'all' },
        { hook: `blocks.${model.numLayers - 2}.hook_mlp_out`, op: 'noise', noise: { seed: 3, norm: 1 }, positions: [-1] },
      ];
      for (const interventions of [[], ivs]) {
        const full = await model.forward(batch, { logits: 'all', interventions });
        const tail = await model.forward(batch, { logits: 'last', interventions });
        const want = lastOfAll(full.logits!.data as Float32Array, batch.batch, batch.length, model.vocabSize);
        // Float32 with matrix products of other shapes: rounding only.
        expect(relError(tail.logits!.data, want)).toBeLessThan(1e-5);
      }
    });
  }

  it('take the full path when an op hooks the last block, which then sees every position', async () => {
    setNumThreads(1);
    const capture: Intervention = { hook: `${last()}.hook_resid_post`, op: 'capture', positions: 'all' };
    const tail = await model.forward(batch, { logits: 'last', interventions: [capture] });
    const full = await model.forward(batch, { logits: 'all', interventions: [capture] });
    expect(tail.captures[capture.hook].shape).toEqual([batch.batch, batch.length, model.hiddenSize]);
    expect(relError(tail.captures[capture.hook].data, full.captures[capture.hook].data)).toBeLessThan(1e-6);
    const want = lastOfAll(full.logits!.data as Float32Array, batch.batch, batch.length, model.vocabSize);
    expect(relError(tail.logits!.data, want)).toBeLessThan(1e-5);
  });
});
