import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDataset, loadScenarioFile, readManifest, writeDataset } from '../../src/data/index.js';
import { runCheck, runGenerate } from '../../src/cli/data.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dataDir = join(root, 'data');

describe('the committed dataset in data/', () => {
  it.skipIf(!existsSync(join(dataDir, 'manifest.json')))('is exactly what the generator gives for its seed', () => {
    const manifest = readManifest(dataDir);
    const { seed, ...options } = { ...manifest.options, seed: manifest.seed };
    const out = mkdtempSync(join(tmpdir(), 'poser-committed-'));
    const fresh = writeDataset(out, generateDataset({ ...options, seed }));
    expect(fresh.files).toEqual(manifest.files);
    for (const [rel, { sha256 }] of Object.entries(manifest.files)) {
      expect(createHash('sha256').update(readFileSync(join(dataDir, rel))).digest('hex'), rel).toBe(sha256);
    }
    const test = loadScenarioFile(join(dataDir, 'test', 'saint.json'));
    expect(test.mismatches).toEqual([]);
  });
});

describe('poser data CLI functions', () => {
  it('generate writes a dataset and tokenizer; check prints counts by distribution, oversight and response', () => {
    const out = mkdtempSync(join(tmpdir(), 'poser-cli-'));
    const lines = runGenerate({ out, seed: 5, variants: 1, single: 30, pairs: 15, testSingle: 9, testPairs: 10, vocabSize: 600, tokenizer: true });
    expect(lines[0]).toMatch(/wrote \d+ files/);
    expect(existsSync(join(out, 'tokenizer.json'))).toBe(true);
    const { report, ok } = runCheck([join(out, 'train', 'reward_maximizer-0.json'), join(out, 'test', 'genie.json')]);
    expect(ok).toBe(true);
    expect(report).toMatch(/reward_maximizer-0\.json: \d+ items \(scenarios\), prompts wrapped, 0 prompt mismatches/);
    expect(report).toMatch(/distribution\s+oversight\s+A\s+B\s+error\s+total/);
    expect(report).toMatch(/genie_and_reward\s+poor\s+\d+\s+\d+\s+0\s+\d+/);
    expect(report).toMatch(/all 2 files:/);
    const bad = runCheck([fileURLToPath(new URL('./fixtures/paper_mismatch.json', import.meta.url))]);
    expect(bad.ok).toBe(false);
    expect(bad.report).toMatch(/1 prompt mismatch/);
  });
});
