// Gradients, optimizer steps, interventions and adapters against the
// transformers/PyTorch fixtures. Tolerance: max|ours - ref| / max|ref| <= 1e-4 (fp32),
// except the AdamW parameters, whose bounds are derived per element (test/helpers/adamw.ts).
import { describe, expect, it } from 'vitest';
import { Model } from '../../src/index.js';
import { FIXTURE_DIR, expected, fixtureBatch, realPositions, tensor } from '../helpers/fixture.js';
import { relError } from '../helpers/safetensors.js';
import { adamw64, worstRatio } from '../helpers/adamw.js';

const TOL = 1e-4;
const PARAMS = [
  'model.embed_tokens.weight',
  'model.layers.0.self_attn.q_proj.weight',
  'model.layers.1.mlp.down_proj.weight',
  'model.layers.2.input_layernorm.weight',
  'model.norm.weight',
  'lm_head.weight',
];
const TARGETS = [65, 66, 10];

/** The fixture's loss mask as per-row arrays over each row's real tokens. */
function lmMaskRows(): number[][] {
  const batch = fixtureBatch();
  const mask = expected().get('lm_loss_mask')!.data as BigInt64Array;
  return batch.lengths.map((len, b) => {
    const row: number[] = [];
    for (let t = batch.length - len; t < batch.length; t++) row.push(Number(mask[b * batch.length + t]));
    return row;
  });
}

async function withModel<T>(fn: (m: Model) => Promise<T>): Promise<T> {
  const model = await Model.load(FIXTURE_DIR);
  try {
    return await fn(model);
  } finally {
    model.dispose();
  }
}

describe('training parity with PyTorch', () => {
  it('answer-token loss and its gradients', () =>
    withModel(async (m) => {
      await m.setTrainable({ patterns: 'all' });
      const loss = await m.backward(fixtureBatch(), { kind: 'answer', targets: TARGETS });
      expect(Math.abs(loss - tensor('answer_loss')[0]) / tensor('answer_loss')[0]).toBeLessThan(TOL);
      for (const name of PARAMS) expect(relError((await m.gradient(name)).data, tensor(`grad_answer.${name}`)), name).toBeLessThan(TOL);
    }));

  it('causal-LM loss with a loss mask and its gradients', () =>
    withModel(async (m) => {
      await m.setTrainable({ patterns: 'all' });
      const loss = await m.backward(fixtureBatch(), { kind: 'lm', lossMask: lmMaskRows() });
      expect(Math.abs(loss - tensor('lm_loss')[0]) / tensor('lm_loss')[0]).toBeLessThan(TOL);
      for (const name of PARAMS) expect(relError((await m.gradient(name)).data, tensor(`grad_lm.${name}`)), name).toBeLessThan(TOL);
    }));

  it('parameters after three AdamW steps', () =>
    withModel(async (m) => {
      // See test/helpers/adamw.ts for why the bounds are per element and derived.
      const opt = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
      await m.setTrainable({ patterns: 'all' });
      await m.configureOptimizer({ kind: 'adamw', lr: opt.lr, betas: [opt.beta1, opt.beta2], eps: opt.eps, weightDecay: opt.weightDecay });
      const p0 = new Map<string, Float32Array>();
      const grads = new Map<string, Float32Array[]>(PARAMS.map((n) => [n, []]));
      for (const name of PARAMS) p0.set(name, Float32Array.from((await m.parameter(name)).data));
      const losses: number[] = [];
      for (let i = 0; i < 3; i++) {
        // The gradient this step will use (backward is deterministic on the CPU;
        // zeroGrad first: the previous step left its gradients in place).
        await m.zeroGrad();
        await m.backward(fixtureBatch(), { kind: 'answer', targets: TARGETS });
        for (const name of PARAMS) grads.get(name)!.push(Float32Array.from((await m.gradient(name)).data));
        losses.push((await m.trainStep(fixtureBatch(), { kind: 'answer', targets: TARGETS })).loss);
      }
      expect(relError(losses, tensor('adamw_losses'))).toBeLessThan(TOL);
      for (const name of PARAMS) {
        const ours = (await m.parameter(name)).data;
        const g = grads.get(name)!;
        // Gradients agree with PyTorch's to TOL of their largest element (asserted above).
        const delta = g.map((gt) => TOL * gt.reduce((a, x) => Math.max(a, Math.abs(x)), 0));
        const ref = adamw64(opt, p0.get(name)!, g, delta);
        // 1. the update rule itself: float64 AdamW on the same gradients, rounding only
        const rule = worstRatio(ours, ref.params, (i) => ref.roundingBound[i] + 1e-30);
        expect(rule.ratio, `${name}: element ${rule.index} vs float64 AdamW`).toBeLessThanOrEqual(1);
        // 2. PyTorch's parameters, within what gradient differences of size delta allow
        const torch = tensor(`adamw3.${name}`);
        const parity = worstRatio(ours, torch, (i) => ref.gradientBound[i] + 2 * ref.roundingBound[i] + 1e-30);
        expect(parity.ratio, `${name}: element ${parity.index} vs PyTorch`).toBeLessThanOrEqual(1);
      }
    }));
});

describe('interventions parity', () => {
  it('a steering vector added at the last position of layer 1', () =>
    withModel(async (m) => {
      const batch = fixtureBatch();
      const out = await m.forward(batch, {
        interventions: [
          { hook: 'blocks.1.hook_resid_post', op: 'add', value: tensor('steer_vector') },
          { hook: 'blocks.2.hook_resid_post', op: 'capture', positions: 'all' },
        ],
      });
      expect(relError(out.logits!.data, tensor('steer_logits_last'))).toBeLessThan(TOL);
      const got = realPositions(out.captures['blocks.2.hook_resid_post'].data, batch, 64);
      expect(relError(got, realPositions(tensor('steer_resid_post.2'), batch, 64))).toBeLessThan(TOL);
    }));

  it('a given per-row noise tensor added at every position of layer 0', () =>
    withModel(async (m) => {
      const batch = fixtureBatch();
      const noise = tensor('noise_rows');
      const rows = [0, 1, 2].map((b) => noise.subarray(b * 64, (b + 1) * 64));
      const out = await m.forward(batch, {
        interventions: [
          { hook: 'blocks.0.hook_resid_post', op: 'add', value: rows, positions: 'all' },
          { hook: 'blocks.2.hook_resid_post', op: 'capture', positions: 'all' },
        ],
      });
      expect(relError(out.logits!.data, tensor('noise_logits_last'))).toBeLessThan(TOL);
      const got = realPositions(out.captures['blocks.2.hook_resid_post'].data, batch, 64);
      expect(relError(got, realPositions(tensor('noise_resid_post.2'), batch, 64))).toBeLessThan(TOL);
    }));
});

describe('adapters parity', () => {
  it('LoRA on q_proj (layer 0) and v_proj (layer 1)', () =>
    withModel(async (m) => {
      const modules = ['model.layers.0.self_attn.q_proj', 'model.layers.1.self_attn.v_proj'];
      await m.addLora({ modules, rank: 4, alpha: 8, seed: 1 });
      for (const mod of modules) {
        const a = expected().get(`lora.${mod}.A`)!;
        const b = expected().get(`lora.${mod}.B`)!;
        await m.setParameter(`${mod}.lora_A.weight`, { data: a.data as Float32Array, shape: a.shape });
        await m.setParameter(`${mod}.lora_B.weight`, { data: b.data as Float32Array, shape: b.shape });
      }
      const batch = fixtureBatch();
      const out = await m.forward(batch, { logits: 'all' });
      expect(relError(realPositions(out.logits!.data, batch, 256), realPositions(tensor('lora_logits'), batch, 256))).toBeLessThan(TOL);
    }));

  it('parallel MLP adapter: output and gradients of A and B', () =>
    withModel(async (m) => {
      await m.addMlpAdapter({ layer: 1, rank: 8, alpha: 2, seed: 3 });
      const a = expected().get('mlp_adapter.A')!;
      const b = expected().get('mlp_adapter.B')!;
      await m.setParameter('model.layers.1.mlp.adapter_A', { data: a.data as Float32Array, shape: a.shape });
      await m.setParameter('model.layers.1.mlp.adapter_B', { data: b.data as Float32Array, shape: b.shape });
      const batch = fixtureBatch();
      const out = await m.forward(batch, { logits: 'all' });
      expect(relError(realPositions(out.logits!.data, batch, 256), realPositions(tensor('mlp_adapter_logits'), batch, 256))).toBeLessThan(TOL);
      const trainable = await m.setTrainable({ adapters: true });
      expect(trainable.sort()).toEqual(['model.layers.1.mlp.adapter_A', 'model.layers.1.mlp.adapter_B']);
      await m.backward(batch, { kind: 'answer', targets: TARGETS });
      expect(relError((await m.gradient('model.layers.1.mlp.adapter_A')).data, tensor('grad_mlp_adapter.A'))).toBeLessThan(TOL);
      expect(relError((await m.gradient('model.layers.1.mlp.adapter_B')).data, tensor('grad_mlp_adapter.B'))).toBeLessThan(TOL);
      // frozen base parameters get no gradient
      const frozen = await m.gradient('model.layers.0.mlp.up_proj.weight');
      expect(frozen.data.every((x) => x === 0)).toBe(true);
    }));
});

describe('learning-rate schedules', () => {
  it('setLearningRate keeps the AdamW moments (equals a run at the new rate only when state carries over)', async () => {
    const run = async (schedule: number[], change: 'keep' | 'set' | 'rebuild') =>
      withModel(async (m) => {
        await m.setTrainable({ patterns: ['mlp'] });
        await m.configureOptimizer({ lr: schedule[0] });
        for (const [i, lr] of schedule.entries()) {
          if (i > 0 && change === 'set') await m.setLearningRate(lr);
          if (i > 0 && change === 'rebuild') await m.configureOptimizer({ lr });
          await m.trainStep(fixtureBatch(), { kind: 'answer', targets: TARGETS });
        }
        return (await m.parameter('model.layers.1.mlp.down_proj.weight')).data;
      });
    const constant = await run([1e-2, 1e-2, 1e-2], 'keep');
    expect(relError(await run([1e-2, 1e-2, 1e-2], 'set'), constant)).toBe(0);
    // rebuilding the optimizer drops the moments and gives another trajectory
    expect(relError(await run([1e-2, 1e-2, 1e-2], 'rebuild'), constant)).toBeGreaterThan(1e-3);
    const decayed = await run([1e-2, 5e-3, 1e-3], 'set');
    expect(relError(decayed, constant)).toBeGreaterThan(1e-4);
    const m = await Model.load(FIXTURE_DIR);
    await expect(m.setLearningRate(1e-3)).rejects.toMatchObject({ code: 'E_STATE' });
    await expect(m.setLearningRate(0)).rejects.toThrow(/learning rate must be/);
    m.dispose();
  });
});

describe('determinism on the CPU', () => {
  it('the same seed gives the same adapter and the same training trajectory', async () => {
    const train = (seed: number) =>
      withModel(async (m) => {
        await m.addMlpAdapter({ layer: 1, rank: 4, seed });
        await m.addLora({ modules: ['model.layers.0.self_attn.v_proj'], rank: 2, seed });
        await m.setTrainable({ adapters: true });
        await m.configureOptimizer({ lr: 1e-2 });
        // B starts at zero; step twice so both factors move
        for (let i = 0; i < 2; i++) await m.trainStep(fixtureBatch(), { kind: 'answer', targets: TARGETS });
        return [...(await m.parameter('model.layers.1.mlp.adapter_A')).data, ...(await m.parameter('model.layers.0.self_attn.v_proj.lora_A.weight')).data, ...(await m.parameter('model.layers.1.mlp.adapter_B')).data];
      });
    const a = await train(5);
    expect(relError(await train(5), a)).toBe(0);
    expect(relError(await train(6), a)).toBeGreaterThan(0.1);
  });
});
