// The inner hook points (TransformerLens names and semantics) against
// transformers: attentions from output_attentions (eager), o_proj and
// down_proj inputs and the RMSNorm outputs from module hooks, written by
// tools/make_hook_fixtures.py into test/fixtures/tiny-llama/hooks.safetensors.
// Tolerance: max|ours - HF| / max|HF| <= 1e-4 in float32, at real positions.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLOCK_HOOKS, ERROR_CODES, Model, hookNames, parseHook, type Intervention } from '../../src/index.js';
import { FIXTURE_DIR, fixtureBatch, realPositions, tensor } from '../helpers/fixture.js';
import { f32, readSafetensors } from '../helpers/safetensors.js';
import { maxAbsDiff, relError } from '../helpers/safetensors.js';

const TOL = 1e-4;
const B = 3, T = 12, D = 64, H = 4, HD = 16, I = 160;
const hooksRef = readSafetensors(`${FIXTURE_DIR}/hooks.safetensors`);
const ref = (name: string) => f32(hooksRef.get(name)!);

let model: Model;
beforeAll(async () => {
  model = await Model.load(FIXTURE_DIR);
});
afterAll(() => model.dispose());

/** Pattern values [B, H, T, T] at real query positions (every key). */
function realQueries(data: ArrayLike<number>, batch: ReturnType<typeof fixtureBatch>): number[] {
  const out: number[] = [];
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let q = T - batch.lengths[b]; q < T; q++) for (let k = 0; k < T; k++) out.push(data[((b * H + h) * T + q) * T + k]);
  return out;
}

describe('inner hooks match transformers', () => {
  it('ln1/ln2.hook_normalized, hook_mlp_in, attn.hook_z, mlp.hook_post and attn.hook_pattern in every layer', async () => {
    const batch = fixtureBatch();
    const { cache } = await model.runWithCache(batch, { logits: 'none' });
    for (let i = 0; i < 3; i++) {
      const pairs: [string, string, number, number[]][] = [
        [`blocks.${i}.ln1.hook_normalized`, `ln1.${i}`, D, [B, T, D]],
        [`blocks.${i}.ln2.hook_normalized`, `ln2.${i}`, D, [B, T, D]],
        [`blocks.${i}.hook_mlp_in`, `mlp_in.${i}`, D, [B, T, D]],
        [`blocks.${i}.attn.hook_z`, `z.${i}`, H * HD, [B, T, H, HD]],
        [`blocks.${i}.mlp.hook_post`, `mlp_post.${i}`, I, [B, T, I]],
      ];
      for (const [hook, name, width, shape] of pairs) {
        expect(cache[hook].shape, hook).toEqual(shape);
        const err = relError(realPositions(cache[hook].data, batch, width), realPositions(ref(name), batch, width));
        expect(err, `${hook} vs ${name}`).toBeLessThan(TOL);
      }
      const pattern = cache[`blocks.${i}.attn.hook_pattern`];
      expect(pattern.shape).toEqual([B, H, T, T]);
      expect(relError(realQueries(pattern.data, batch), realQueries(ref(`pattern.${i}`), batch))).toBeLessThan(TOL);
    }
  });

  it('hook_mlp_in is the residual before ln2 (= hook_resid_mid), not the normalized tensor', async () => {
    const { cache } = await model.runWithCache(fixtureBatch(), { hooks: ['blocks.1.hook_mlp_in', 'blocks.1.hook_resid_mid', 'blocks.1.ln2.hook_normalized'] });
    expect(maxAbsDiff(cache['blocks.1.hook_mlp_in'].data, cache['blocks.1.hook_resid_mid'].data)).toBe(0);
    expect(maxAbsDiff(cache['blocks.1.hook_mlp_in'].data, cache['blocks.1.ln2.hook_normalized'].data)).toBeGreaterThan(0.1);
  });

  it('hook_resid_post of the last block is not HF hidden_states[-1] (which has the final norm)', async () => {
    const { cache } = await model.runWithCache(fixtureBatch(), { hooks: ['blocks.2.hook_resid_post', 'ln_final.hook_normalized'] });
    const batch = fixtureBatch();
    expect(relError(realPositions(cache['blocks.2.hook_resid_post'].data, batch, D), realPositions(tensor('resid_post.2'), batch, D))).toBeLessThan(TOL);
    expect(relError(realPositions(cache['ln_final.hook_normalized'].data, batch, D), realPositions(tensor('final_norm'), batch, D))).toBeLessThan(TOL);
    expect(maxAbsDiff(cache['blocks.2.hook_resid_post'].data, cache['ln_final.hook_normalized'].data)).toBeGreaterThan(0.1);
  });
});

describe('ops at the new hooks', () => {
  const capture = (hook: string, positions: Intervention['positions'] = 'all'): Intervention => ({ hook, op: 'capture', positions });

  it('a zeroed pattern, z or mlp.hook_post zeroes the block output it feeds', async () => {
    const out = await model.forward(fixtureBatch(), {
      logits: 'none',
      interventions: [
        { hook: 'blocks.0.attn.hook_pattern', op: 'scale', scale: 0, positions: 'all' },
        { hook: 'blocks.1.attn.hook_z', op: 'set', value: new Float32Array(H * HD), positions: 'all' },
        { hook: 'blocks.2.mlp.hook_post', op: 'scale', scale: 0, positions: 'all' },
        capture('blocks.0.hook_attn_out'),
        capture('blocks.1.hook_attn_out'),
        capture('blocks.2.hook_mlp_out'),
      ],
    });
    for (const hook of ['blocks.0.hook_attn_out', 'blocks.1.hook_attn_out', 'blocks.2.hook_mlp_out'])
      expect(Math.max(...out.captures[hook].data.map(Math.abs)), hook).toBe(0);
  });

  it('an op on hook_mlp_in changes what the MLP reads, not the residual stream', async () => {
    const hooks = ['blocks.1.hook_resid_mid', 'blocks.1.hook_mlp_out', 'blocks.1.hook_resid_post'];
    const plain = await model.runWithCache(fixtureBatch(), { hooks, positions: 'last' });
    const out = await model.runWithCache(fixtureBatch(), {
      hooks,
      positions: 'last',
      // (not a scale: RMSNorm would undo it)
      interventions: [{ hook: 'blocks.1.hook_mlp_in', op: 'add', value: Float32Array.from({ length: D }, (_, i) => Math.sin(i)) }],
    });
    const c = out.cache, p = plain.cache;
    expect(maxAbsDiff(c['blocks.1.hook_resid_mid'].data, p['blocks.1.hook_resid_mid'].data)).toBe(0);
    expect(maxAbsDiff(c['blocks.1.hook_mlp_out'].data, p['blocks.1.hook_mlp_out'].data)).toBeGreaterThan(1e-3);
    const sum = c['blocks.1.hook_resid_mid'].data.map((x, j) => x + c['blocks.1.hook_mlp_out'].data[j]);
    expect(maxAbsDiff(sum, c['blocks.1.hook_resid_post'].data)).toBeLessThan(1e-5);
  });

  it('adding at attn.hook_z moves attn_out by o_proj of the vector', async () => {
    const v = Float32Array.from({ length: H * HD }, (_, i) => Math.cos(i));
    const base = await model.capture(fixtureBatch(), ['blocks.1.hook_attn_out']);
    const moved = await model.forward(fixtureBatch(), {
      logits: 'none',
      interventions: [{ hook: 'blocks.1.attn.hook_z', op: 'add', value: v }, capture('blocks.1.hook_attn_out', 'last')],
    });
    const w = await model.parameter('model.layers.1.self_attn.o_proj.weight'); // [D, H * HD]
    for (let b = 0; b < B; b++)
      for (let j = 0; j < D; j++) {
        let wv = 0;
        for (let k = 0; k < H * HD; k++) wv += w.get(j, k) * v[k];
        expect(moved.captures['blocks.1.hook_attn_out'].get(b, j)).toBeCloseTo(base['blocks.1.hook_attn_out'].get(b, j) + wv, 4);
      }
  });

  it('last-position captures drop the position axis; pattern rows sum to 1', async () => {
    const out = await model.capture(fixtureBatch(), ['blocks.1.attn.hook_pattern', 'blocks.1.attn.hook_z', 'blocks.1.mlp.hook_post']);
    expect(out['blocks.1.attn.hook_pattern'].shape).toEqual([B, H, T]);
    expect(out['blocks.1.attn.hook_z'].shape).toEqual([B, H, HD]);
    expect(out['blocks.1.mlp.hook_post'].shape).toEqual([B, I]);
    const p = out['blocks.1.attn.hook_pattern'];
    for (let b = 0; b < B; b++)
      for (let h = 0; h < H; h++) {
        let s = 0;
        for (let k = 0; k < T; k++) s += p.get(b, h, k);
        expect(s).toBeCloseTo(1, 5);
      }
  });

  it('a value of the wrong width names the hook and its width', async () => {
    await expect(
      model.forward(fixtureBatch(), { interventions: [{ hook: 'blocks.0.mlp.hook_post', op: 'add', value: new Float32Array(D) }] }),
    ).rejects.toThrow(/mlp\.hook_post.*width 64.*160 values per position/);
  });
});

describe('runWithCache', () => {
  it('records every hook by default, and the same values and logits as forward', async () => {
    const batch = fixtureBatch();
    const { cache, logits } = await model.runWithCache(batch);
    expect(Object.keys(cache)).toEqual(hookNames(3));
    const direct = await model.forward(batch, { logits: 'all', interventions: [{ hook: 'blocks.2.hook_resid_post', op: 'capture', positions: 'all' }] });
    expect(maxAbsDiff(logits!.data, direct.logits!.data)).toBe(0);
    expect(maxAbsDiff(cache['blocks.2.hook_resid_post'].data, direct.captures['blocks.2.hook_resid_post'].data)).toBe(0);
  });

  it('selects hooks by wildcard, RegExp and predicate; a pattern that selects nothing is an error', async () => {
    const a = await model.runWithCache(fixtureBatch(), { hooks: 'blocks.1.*', logits: 'none' });
    expect(Object.keys(a.cache)).toEqual(BLOCK_HOOKS.map((k) => `blocks.1.${k}`));
    expect(a.logits).toBeUndefined();
    const b = await model.runWithCache(fixtureBatch(), { hooks: /hook_resid_post$/, positions: 'last' });
    expect(Object.keys(b.cache)).toEqual(['blocks.0.hook_resid_post', 'blocks.1.hook_resid_post', 'blocks.2.hook_resid_post']);
    expect(b.cache['blocks.0.hook_resid_post'].shape).toEqual([B, D]);
    const c = await model.runWithCache(fixtureBatch(), { hooks: (n) => n.endsWith('hook_pattern') });
    expect(Object.keys(c.cache)).toHaveLength(3);
    await expect(model.runWithCache(fixtureBatch(), { hooks: 'blocks.9.*' })).rejects.toThrow(/matches no hook/);
  });
});

describe('one contract at the native boundary', () => {
  it('hook ordinals follow the order of BlockHook in native/core/hooks.h', () => {
    const header = readFileSync(fileURLToPath(new URL('../../native/core/hooks.h', import.meta.url)), 'utf8');
    const body = /enum class BlockHook : int \{([^}]*)\}/.exec(header)![1];
    const native = body.split(',').map((s) => s.replace(/=.*$/, '').trim()).filter((s) => s && s !== 'Count');
    // ResidPre <-> hook_resid_pre, Ln1Normalized <-> ln1.hook_normalized, AttnPattern <-> attn.hook_pattern ...
    const camel = (kind: string) => kind.replace(/hook_/, '').split(/[._]/).map((w) => w[0].toUpperCase() + w.slice(1)).join('');
    expect(native).toEqual(BLOCK_HOOKS.map(camel));
    expect(hookNames(3).map((n) => parseHook(n, 3).ordinal)).toEqual(hookNames(3).map((_, i) => i));
  });

  it('the error codes of src/errors.ts and native/core/errors.h are one list', () => {
    const header = readFileSync(fileURLToPath(new URL('../../native/core/errors.h', import.meta.url)), 'utf8');
    const list = /kErrorCodes\[\] = \{([^}]*)\}/.exec(header)![1];
    expect(list.match(/"E_[A-Z]+"/g)!.map((s) => s.slice(1, -1))).toEqual([...ERROR_CODES]);
  });

  it('no regex and no hook-name grammar in native code', () => {
    const root = fileURLToPath(new URL('../../native', import.meta.url));
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(cpp|h)$/.test(f));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const text = readFileSync(join(root, f), 'utf8');
      expect(text, f).not.toMatch(/std::regex/);
      expect(text, f).not.toMatch(/"hook_|[^_]hook_ordinal\(/);
    }
  });
});
