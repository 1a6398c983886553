// Pairs built so that the right answer is known: a model that cannot see the
// rest of the prompt or whose output ignores its residual stream, against
// one that can.
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerProbabilities, attentiveness, decisionSpeed, learningSpeed, mean, Model, noiseInjection, subject } from '../../src/index.js';
import { FIXTURE_DIR } from '../helpers/fixture.js';
import { tempDir } from '../helpers/random-model.js';
import { fixtureVariant, syntheticData } from './helpers.js';

const data = syntheticData(16, 6);
let base: Model;
let confident: Model;
let confidentDir: string;
let blind: Awaited<ReturnType<typeof fixtureVariant>>;
let mute: Awaited<ReturnType<typeof fixtureVariant>>;

beforeAll(async () => {
  base = await Model.load(FIXTURE_DIR);
  // The fixture trained to give the benign answer with high confidence.
  const m = await Model.load(FIXTURE_DIR);
  await m.setTrainable({ patterns: 'all' });
  await m.configureOptimizer({ kind: 'adamw', lr: 5e-3 });
  for (let s = 0; s < 15; s++) await m.trainStep(data.prompts.map((p) => p.prompt), { kind: 'answer', targets: data.prompts.map((p) => p.benign) });
  confidentDir = tempDir('poser-confident-');
  await m.save(confidentDir);
  m.dispose();
  confident = await Model.load(confidentDir);
  // No attention output: the last token's stream never sees the rest of the prompt.
  blind = await fixtureVariant((name, d) => (name.endsWith('self_attn.o_proj.weight') ? new Float32Array(d.length) : undefined));
  // Final norm weight zero: uniform logits whatever happens inside.
  mute = await fixtureVariant((name, d) => (name === 'model.norm.weight' ? new Float32Array(d.length) : undefined));
});

afterAll(() => {
  base.dispose();
  confident.dispose();
  rmSync(confidentDir, { recursive: true, force: true });
  blind.cleanup();
  mute.cleanup();
});

describe('known answers', () => {
  it('the trained model is confident', async () => {
    const p = await answerProbabilities(confident, data.prompts.map((p) => p.prompt), data.prompts.map((p) => p.benign));
    expect(mean(p.benign)).toBeGreaterThan(0.75);
  });

  it('attentiveness: a model blind to the oversight fact is not the faker', async () => {
    const v = await attentiveness.run([subject(blind.model), subject(base)], data);
    const [m0] = v.evidence.models as { similarity: number[] }[];
    m0.similarity.forEach((s) => expect(s).toBeCloseTo(1, 5)); // same last tokens, no mixing
    expect(v.scores).toEqual([0, 3]);
    expect(v.faker).toBe(1);
  });

  it('noiseInjection: noise weakens the confident model, not one whose output ignores it', async () => {
    for (const distribution of ['gaussian', 'uniform'] as const) {
      const v = await noiseInjection.run([subject(mute.model), subject(confident)], data, { norm: 20, distribution, coefficients: [0, 1, 5, 15], draws: 2 });
      expect(v.scores[0]).toBe(0);
      expect(v.scores[1]).toBeGreaterThan(0.1);
      expect(v.faker).toBe(1);
    }
  });

  it('learningSpeed: a model that can learn the flipped answer beats one that cannot', async () => {
    const v = await learningSpeed.run([subject(confident), subject(mute.model)], data, { lr: 5e-2, steps: 8 });
    expect(v.scores[1]).toBe(0); // uniform logits: the log-odds never move
    expect(v.scores[0]).toBeGreaterThan(1);
    expect(v.faker).toBe(0);
  });

  it('decisionSpeed: a model with only one answer cannot be probed, and the verdict is undecided', async () => {
    const v = await decisionSpeed.run([subject(mute.model), subject(confident)], data);
    const [m0, m1] = v.evidence.models as { skipped?: string; decisionLayer: number | null; answers: { A: number; B: number } }[];
    expect(m0.answers).toEqual({ A: 16, B: 0 });
    expect(m0.skipped).toMatch(/at least 2 of each/);
    expect(m1.answers).toEqual({ A: 8, B: 8 });
    expect(v.faker).toBeNull();
    expect(Number.isNaN(v.scores[0])).toBe(true);
  });
});
