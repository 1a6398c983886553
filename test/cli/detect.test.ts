// `poser detect`: where its data comes from, and the errors a user sees
// before any model is loaded (the end-to-end run is in test/zoo/zoo.test.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { detectData, readStrategyOptions, runDetect } from '../../src/cli/detect.js';
import { tempDir } from '../helpers/random-model.js';

const PAPER = fileURLToPath(new URL('../data/fixtures/paper-layout', import.meta.url));
const DATA = fileURLToPath(new URL('../../data', import.meta.url));
const models = { modelA: 'a', modelB: 'b' };

describe('poser detect data', () => {
  it("reads the paper's layout (the one combination found without --pair), a generated dataset, and a benchmark file", () => {
    const paper = detectData({ ...models, data: [PAPER] });
    expect(paper.source).toContain('genie_and_reward_maximizer');
    expect(paper.data.prompts).toHaveLength(5);
    expect(paper.data.contrast).toHaveLength(4);
    const generated = detectData({ ...models, data: [DATA], pair: 'saint_and_money' });
    expect(generated.data.prompts.length).toBeGreaterThan(100);
    expect(generated.data.concepts).toHaveLength(3);
    const file = detectData({ ...models, data: [join(PAPER, 'benchmark', 'genie_and_reward_maximizer.json')], contrast: join(DATA, 'contrast', 'genie_and_reward.json') });
    expect(file.data.prompts).toHaveLength(5);
    expect(file.data.contrast.length).toBeGreaterThan(0);
    expect(file.data.concepts).toEqual([]);
  });

  it('names what is wrong', async () => {
    expect(() => detectData({ ...models, data: [] })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => detectData({ ...models, data: ['/nowhere/x'] })).toThrow(expect.objectContaining({ code: 'E_IO', message: expect.stringContaining('/nowhere/x') }));
    expect(() => detectData({ ...models, data: [DATA] })).toThrow(expect.objectContaining({ code: 'E_ARG', message: expect.stringContaining('--pair') }));
    expect(() => detectData({ ...models, data: [PAPER], pair: 'truth_and_fitness' })).toThrow(expect.objectContaining({ code: 'E_IO', message: expect.stringContaining('no benchmark file for truth_and_fitness') }));
    const bad = join(tempDir('poser-detect-'), 'bench.json');
    writeFileSync(bad, '[{"prompt": "x"}]');
    expect(() => detectData({ ...models, data: [bad] })).toThrow(expect.objectContaining({ code: 'E_FORMAT', message: expect.stringContaining(bad) }));
    await expect(runDetect({ ...models, modelA: '/nowhere/a', data: [PAPER], strategies: ['attentiveness'] })).rejects.toMatchObject({ code: 'E_IO', message: expect.stringContaining('/nowhere/a') });
    await expect(runDetect({ ...models, data: [PAPER], strategies: [] })).rejects.toMatchObject({ code: 'E_ARG' });
  });
});

describe('poser detect --options', () => {
  it('reads common and per-strategy options, and names a bad file or key', () => {
    const dir = tempDir('poser-detect-opts-');
    const ok = join(dir, 'ok.json');
    writeFileSync(ok, JSON.stringify({ common: { batchSize: 8 }, noiseInjection: { draws: 2 } }));
    expect(readStrategyOptions(ok)).toEqual({ common: { batchSize: 8 }, noiseInjection: { draws: 2 } });
    expect(readStrategyOptions(undefined)).toEqual({});
    const unknown = join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ noise: {} }));
    expect(() => readStrategyOptions(unknown)).toThrow(expect.objectContaining({ code: 'E_FORMAT', message: expect.stringContaining("unknown strategy 'noise'") }));
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '{');
    expect(() => readStrategyOptions(broken)).toThrow(expect.objectContaining({ code: 'E_FORMAT', message: expect.stringContaining(broken) }));
    expect(() => readStrategyOptions(join(dir, 'missing.json'))).toThrow(expect.objectContaining({ code: 'E_IO' }));
  });
});
