// Semantics of the intervention ops, sweeps and early stopping, on the fixture model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model, type Intervention } from '../../src/index.js';
import { FIXTURE_DIR, fixtureBatch } from '../helpers/fixture.js';
import { maxAbsDiff, relError } from '../helpers/safetensors.js';

const D = 64;
let model: Model;
beforeAll(async () => {
  model = await Model.load(FIXTURE_DIR);
});
afterAll(() => model.dispose());

function rowOf(a: { data: Float32Array }, b: number): Float32Array {
  return a.data.slice(b * D, (b + 1) * D);
}
const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
const HOOK = 'blocks.1.hook_resid_post';

async function lastAt(hook: string, interventions: Intervention[]) {
  const out = await model.forward(fixtureBatch(), { logits: 'none', interventions: [...interventions, { hook, op: 'capture' }] });
  return out.captures[hook];
}

describe('ops', () => {
  it('capture at explicit positions returns [B, K, D] matching the all-position capture', async () => {
    const batch = fixtureBatch();
    const out = await model.forward(batch, {
      logits: 'none',
      interventions: [
        { hook: HOOK, op: 'capture', positions: [0, -1], name: 'some' },
        { hook: HOOK, op: 'capture', positions: 'all', name: 'all' },
      ],
    });
    expect(out.captures.some.shape).toEqual([3, 2, D]);
    for (let b = 0; b < 3; b++) {
      const first = batch.length - batch.lengths[b];
      for (let j = 0; j < D; j++) {
        expect(out.captures.some.get(b, 0, j)).toBe(out.captures.all.get(b, first, j));
        expect(out.captures.some.get(b, 1, j)).toBe(out.captures.all.get(b, batch.length - 1, j));
      }
    }
  });

  it('add, scale and set change the captured stream as defined', async () => {
    const base = await lastAt(HOOK, []);
    const v = Float32Array.from({ length: D }, (_, i) => (i % 7) - 3);
    const added = await lastAt(HOOK, [{ hook: HOOK, op: 'add', value: v, scale: 0.5 }]);
    const scaled = await lastAt(HOOK, [{ hook: HOOK, op: 'scale', scale: 3 }]);
    const set = await lastAt(HOOK, [{ hook: HOOK, op: 'set', value: v }]);
    for (let b = 0; b < 3; b++)
      for (let j = 0; j < D; j++) {
        expect(added.get(b, j)).toBeCloseTo(base.get(b, j) + 0.5 * v[j], 5);
        expect(scaled.get(b, j)).toBeCloseTo(3 * base.get(b, j), 5);
        expect(set.get(b, j)).toBe(v[j]);
      }
  });

  it('project_out removes the direction', async () => {
    const dir = Float32Array.from({ length: D }, (_, i) => Math.sin(i));
    const out = await lastAt(HOOK, [{ hook: HOOK, op: 'project_out', value: dir }]);
    const n = norm(dir);
    for (let b = 0; b < 3; b++) {
      const r = rowOf(out, b);
      const dot = r.reduce((s, x, i) => s + x * dir[i], 0) / n;
      expect(Math.abs(dot)).toBeLessThan(1e-4 * norm(r));
    }
  });

  it('noise is seeded, batch-independent and norm-matched', async () => {
    const base = await lastAt(HOOK, []);
    const noise = (seed: number, extra: Partial<Intervention> = {}) =>
      lastAt(HOOK, [{ hook: HOOK, op: 'noise', noise: { seed, norm: 2.5 }, ...extra } as Intervention]);
    const a = await noise(7);
    const again = await noise(7);
    const other = await noise(8);
    expect(maxAbsDiff(a.data, again.data)).toBe(0);
    expect(maxAbsDiff(a.data, other.data)).toBeGreaterThan(0.1);
    for (let b = 0; b < 3; b++) {
      const delta = rowOf(a, b).map((x, i) => x - base.data[b * D + i]);
      expect(norm(delta)).toBeCloseTo(2.5, 4);
      if (b > 0) expect(maxAbsDiff(delta, rowOf(a, 0).map((x, i) => x - base.data[i]))).toBeLessThan(1e-5); // same draw per row
    }
    const doubled = await noise(7, { scale: 2 });
    const d0 = rowOf(doubled, 0).map((x, i) => x - base.data[i]);
    expect(norm(d0)).toBeCloseTo(5, 4);
    const uniform = await lastAt(HOOK, [{ hook: HOOK, op: 'noise', noise: { seed: 7, distribution: 'uniform', zeroMean: false } }]);
    const du = rowOf(uniform, 0).map((x, i) => x - base.data[i]);
    expect(Math.min(...du)).toBeGreaterThanOrEqual(-1e-5);
    expect(Math.max(...du)).toBeLessThan(1 + 1e-5);
  });

  it('ops apply in order at one hook', async () => {
    const v = new Float32Array(D).fill(1);
    const out = await lastAt(HOOK, [
      { hook: HOOK, op: 'set', value: v },
      { hook: HOOK, op: 'scale', scale: 2 },
    ]);
    expect(Array.from(rowOf(out, 1))).toEqual(Array(D).fill(2));
  });

  it('a capture-only forward stops early and agrees with the full forward', async () => {
    const early = await model.forward(fixtureBatch(), { logits: 'none', interventions: [{ hook: 'blocks.0.hook_mlp_out', op: 'capture' }] });
    const full = await model.forward(fixtureBatch(), { logits: 'all', interventions: [{ hook: 'blocks.0.hook_mlp_out', op: 'capture' }] });
    expect(early.logits).toBeUndefined();
    expect(maxAbsDiff(early.captures['blocks.0.hook_mlp_out'].data, full.captures['blocks.0.hook_mlp_out'].data)).toBe(0);
  });
});

describe('sweep', () => {
  it('equals one forward per setting within 4e-6 (relative)', async () => {
    const coefficients = [0, 1, 3, 5, 7, 9, 11, 13, 15];
    const settings: Intervention[][] = coefficients.map((c) => [
      { hook: 'blocks.1.hook_resid_post', op: 'noise', noise: { seed: 11, norm: 1 }, scale: c },
      { hook: 'blocks.2.hook_resid_post', op: 'capture' },
    ]);
    settings.push([{ hook: 'blocks.0.hook_attn_out', op: 'add', value: new Float32Array(D).fill(0.3) }]);
    settings.push([{ hook: 'hook_embed', op: 'scale', scale: 1.5 }]);
    settings.push([]);
    const swept = await model.sweep(fixtureBatch(), settings);
    // max |sweep - forward| / max |forward|. The rerun's matrix products have
    // other shapes; OpenBLAS kernels that block by shape (Haswell, Zen) then
    // round differently: up to 1.1e-6 measured, about 14 ulp of the largest
    // value. Others (SkylakeX, Cooperlake, Sandybridge) give equal captures.
    for (let s = 0; s < settings.length; s++) {
      const naive = await model.forward(fixtureBatch(), { interventions: settings[s] });
      expect(relError(swept[s].logits.data, naive.logits!.data), `setting ${s}`).toBeLessThan(4e-6);
      for (const key of Object.keys(naive.captures))
        expect(relError(swept[s].captures[key].data, naive.captures[key].data), `${key} ${s}`).toBeLessThan(4e-6);
    }
  });

  it('stacks settings of every op kind, per-row values included, within 1e-5 (relative) of one forward each', async () => {
    const v = Float32Array.from({ length: D }, (_, i) => Math.cos(i));
    const rows = [0, 1, 2].map((r) => Float32Array.from({ length: D }, (_, i) => Math.sin(i + r)));
    const kinds = (c: number): Intervention[] => [
      { hook: 'blocks.0.hook_resid_post', op: 'add', value: rows, scale: c },
      { hook: 'blocks.1.ln1.hook_normalized', op: 'scale', scale: 1 + c },
      { hook: 'blocks.1.attn.hook_pattern', op: 'noise', noise: { seed: c, norm: 0.1 } },
      { hook: 'blocks.1.mlp.hook_post', op: 'capture' },
      { hook: 'blocks.1.hook_resid_post', op: 'project_out', value: c % 2 ? v : rows },
      { hook: 'blocks.2.hook_mlp_in', op: 'set', value: c > 1 ? rows : v },
      { hook: 'blocks.2.hook_resid_post', op: 'capture' },
    ];
    const settings = [0, 1, 2, 3].map(kinds);
    const swept = await model.sweep(fixtureBatch(), settings);
    for (let s = 0; s < settings.length; s++) {
      const naive = await model.forward(fixtureBatch(), { interventions: settings[s] });
      // max |sweep - forward| / max |forward|: the rerun's products have other shapes, so rounding differs
      expect(relError(swept[s].logits.data, naive.logits!.data), `setting ${s}`).toBeLessThan(1e-5);
      expect(Object.keys(swept[s].captures)).toEqual(['blocks.1.mlp.hook_post', 'blocks.2.hook_resid_post']);
      for (const key of Object.keys(naive.captures))
        expect(relError(swept[s].captures[key].data, naive.captures[key].data), `${key} ${s}`).toBeLessThan(1e-5);
    }
    expect(maxAbsDiff(swept[0].logits.data, swept[3].logits.data)).toBeGreaterThan(1e-3);
  });

  it('rejects settings that touch other positions', async () => {
    await expect(model.sweep(fixtureBatch(), [[{ hook: HOOK, op: 'scale', scale: 2, positions: 'all' }]])).rejects.toThrow(/positions 'last'/);
  });
});
