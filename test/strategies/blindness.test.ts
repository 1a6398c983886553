// Blindness: a verdict does not change when the two models' directories are
// copied elsewhere under other names (and loaded from there), for every
// strategy, including the one that reloads a model from its files.
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model, STRATEGIES, subject, type StrategyName, type Subject } from '../../src/index.js';
import { FIXTURE_DIR } from '../helpers/fixture.js';
import { tempDir } from '../helpers/random-model.js';
import { fixtureVariant, perturb, syntheticData } from './helpers.js';

const data = syntheticData(16, 4);
const options: Record<StrategyName | 'learningSpeed (full)', [StrategyName, object]> = {
  beliefSteering: ['beliefSteering', { coefficients: [0, 3, 9] }],
  noiseInjection: ['noiseInjection', { coefficients: [0, 5], draws: 2 }],
  learningSpeed: ['learningSpeed', { lr: 1e-2, steps: 2 }],
  'learningSpeed (full)': ['learningSpeed', { fullFineTune: true, lr: 1e-3, steps: 2 }],
  suspiciousConcepts: ['suspiciousConcepts', {}],
  decisionSpeed: ['decisionSpeed', { threshold: 0.6 }],
  attentiveness: ['attentiveness', {}],
};

let variant: Awaited<ReturnType<typeof fixtureVariant>>;
let elsewhere: string;
const loaded: Model[] = [];
let original: [Subject, Subject];
let renamed: [Subject, Subject];

beforeAll(async () => {
  variant = await fixtureVariant((_, d) => perturb(d, 0.1, 7));
  elsewhere = tempDir('poser-blind-');
  // Swapped names: the aligned-looking name now holds the other model.
  cpSync(FIXTURE_DIR, join(elsewhere, 'zz-model'), { recursive: true });
  cpSync(variant.model.dir, join(elsewhere, 'aa-model'), { recursive: true });
  for (const dir of [FIXTURE_DIR, join(elsewhere, 'zz-model'), join(elsewhere, 'aa-model')]) loaded.push(await Model.load(dir));
  original = [subject(loaded[0]), subject(variant.model)];
  renamed = [subject(loaded[1]), subject(loaded[2])];
});

afterAll(() => {
  loaded.forEach((m) => m.dispose());
  variant.cleanup();
  rmSync(elsewhere, { recursive: true, force: true });
});

describe.each(Object.entries(options))('%s', (_, [name, o]) => {
  it('gives the same verdict on the models copied elsewhere under other names', async () => {
    const v = await STRATEGIES[name].run(original, data, { ...o, seed: 2 });
    const w = await STRATEGIES[name].run(renamed, data, { ...o, seed: 2 });
    expect(w).toEqual(v);
  });
});
