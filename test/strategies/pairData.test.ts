// PairData from the project's data files and from items in memory.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { pairDataFromDataset, pairDataFromFiles, pairDataFromItems } from '../../src/index.js';
import { tempDir } from '../helpers/random-model.js';

const DATA = fileURLToPath(new URL('../../data', import.meta.url));
const PAIR = 'genie_and_reward';
const read = (kind: string) => JSON.parse(readFileSync(join(DATA, kind, `${PAIR}.json`), 'utf8')) as ({ prompt: string } & Record<string, unknown>)[];

describe('pairDataFromDataset', () => {
  it('reads benchmark candidates, contrast pairs and concept sets of a pair', () => {
    const candidates = read('benchmark_candidates');
    const contrast = read('contrast');
    const concepts = read('concepts');
    const d = pairDataFromDataset(DATA, PAIR);
    expect(d.prompts).toHaveLength(candidates.length);
    d.prompts.forEach((p, i) => {
      expect(p.prompt).toBe(candidates[i].prompt);
      expect(p.prompt.startsWith('<<prompt>>') && p.prompt.endsWith('<</prompt>>')).toBe(true);
      expect(p.benign).toBe(candidates[i].benign_response ?? candidates[i].response);
    });
    expect(new Set(d.prompts.map((p) => p.benign))).toEqual(new Set(['A', 'B']));
    expect(d.contrast).toEqual(contrast.map((c) => ({ critical: c.critical, clean: c.clean })));
    expect(d.concepts.map((c) => c.name)).toEqual(['security/vulnerability', 'competence/incompetence', 'aligned/misaligned']);
    d.concepts.forEach((c, k) => {
      expect(c.suspicious).toEqual(concepts[k].negative);
      expect(c.benign).toEqual(concepts[k].positive);
    });
  });

  it('takes the prompts from a benchmark file with probs when one is given', () => {
    const dir = tempDir('poser-pairdata-');
    const items = read('benchmark_candidates').slice(0, 5).map((it) => ({ ...it, probs: [0.99, 0.995] }));
    const path = join(dir, 'bench.json');
    writeFileSync(path, JSON.stringify(items));
    const d = pairDataFromDataset(DATA, PAIR, { benchmark: path });
    expect(d.prompts.map((p) => p.prompt)).toEqual(items.map((it) => it.prompt));
    expect(d.contrast.length).toBeGreaterThan(0);
    const files = pairDataFromFiles({ benchmark: path });
    expect(files.prompts).toEqual(d.prompts);
    expect(files.contrast).toEqual([]);
  });
});

describe('pairDataFromItems', () => {
  it('accepts both concept forms, skips error items and reports bad input', () => {
    const bench = read('benchmark_candidates').slice(0, 3);
    const d = pairDataFromItems({
      benchmark: [...bench, { prompt: '<<prompt>>A: x<</prompt>>', response: 'error', dataset: 'error' }],
      contrast: [{ critical: 'c', clean: 'k', extra: 1 }],
      concepts: [{ name: 'n', suspicious: ['s'], benign: ['b'] }],
    });
    expect(d.prompts).toHaveLength(3);
    expect(d.contrast).toEqual([{ critical: 'c', clean: 'k' }]);
    expect(d.concepts).toEqual([{ name: 'n', suspicious: ['s'], benign: ['b'] }]);
    expect(() => pairDataFromItems({ benchmark: bench, contrast: [{ critical: 'c' }] })).toThrow(/contrast pairs: item 0.clean/);
    expect(() => pairDataFromItems({ benchmark: bench, concepts: [{ name: 'n', suspicious: [] }] })).toThrow(/concept sets/);
    expect(() => pairDataFromFiles({ benchmark: join(DATA, 'nope.json') })).toThrow();
  });
});
