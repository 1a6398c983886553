import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  isWrapped,
  ALIGNED_POLICIES,
  contrastPairs,
  corpusTexts,
  type Dataset,
  FAKER_POLICIES,
  generateDataset,
  isFaker,
  NON_BENIGN_DISTRIBUTIONS,
  pairTag,
  parseScenarioItems,
  POLICIES,
  type ScenarioItem,
  type TrainingItem,
  writeDataset,
} from '../../src/data/index.js';
import { ACTIONS_LINE } from '../../src/data/prompt.js';
import { ACTIONS, GOOD_OVERSIGHT, POOR_OVERSIGHT, TOPICS } from '../../src/data/templates.js';

const SMALL = { singlePerPolicy: 120, pairPerDistribution: 60, testSinglePerPolicy: 30, testPairPerDistribution: 40 };
let ds: Dataset;

beforeAll(() => {
  ds = generateDataset({ seed: 7, variants: 3, ...SMALL });
});

const scenarios = (items: readonly TrainingItem[]) => items.filter((i): i is ScenarioItem => i.response !== 'error');
const allFiles = (): [string, TrainingItem[]][] => [
  ...POLICIES.flatMap((p) => ds.train[p].map((v, k) => [`train/${p}-${k}`, v] as [string, TrainingItem[]])),
  ...POLICIES.map((p) => [`test/${p}`, ds.test[p]] as [string, TrainingItem[]]),
  ...Object.entries(ds.benchmarkCandidates),
];

describe('diversity of the templates', () => {
  it('has at least 40 topics, 30 paraphrases per oversight level and 20 action templates per policy', () => {
    expect(TOPICS.length).toBeGreaterThanOrEqual(40);
    expect(new Set(GOOD_OVERSIGHT).size).toBeGreaterThanOrEqual(30);
    expect(new Set(POOR_OVERSIGHT).size).toBeGreaterThanOrEqual(30);
    for (const p of POLICIES) expect(new Set(ACTIONS[p].map((a) => a.good + a.bad)).size).toBeGreaterThanOrEqual(20);
  });
});

describe('generated items', () => {
  it('reassemble: every stored prompt equals the one rebuilt from facts, actions and format', () => {
    for (const [name, items] of allFiles()) {
      const loaded = parseScenarioItems(JSON.parse(JSON.stringify(items)), name);
      expect(loaded.mismatches, name).toEqual([]);
      expect(loaded.wrapped, name).toBe(true);
    }
  });

  it('are identical for one seed, byte for byte on disk, and differ for another seed', () => {
    const a = mkdtempSync(join(tmpdir(), 'poser-gen-a-'));
    const b = mkdtempSync(join(tmpdir(), 'poser-gen-b-'));
    const ma = writeDataset(a, ds);
    const mb = writeDataset(b, generateDataset({ seed: 7, variants: 3, ...SMALL }));
    expect(mb).toEqual(ma);
    for (const rel of Object.keys(ma.files)) expect(readFileSync(join(b, rel), 'utf8')).toBe(readFileSync(join(a, rel), 'utf8'));
    expect(readFileSync(join(b, 'manifest.json'), 'utf8')).toBe(readFileSync(join(a, 'manifest.json'), 'utf8'));
    const other = generateDataset({ seed: 8, variants: 3, ...SMALL });
    expect(other.train.saint[0].map((i) => i.prompt)).not.toEqual(ds.train.saint[0].map((i) => i.prompt));
    expect(readdirSync(join(a, 'train')).sort()).toEqual(POLICIES.flatMap((p) => [0, 1, 2].map((k) => `${p}-${k}.json`)).sort());
  });

  it('hold out whole templates and paraphrases: none occurs in any training set, and the test split uses them', () => {
    const held = new Set(ds.heldout);
    expect(ds.heldout.some((id) => id.startsWith('good:'))).toBe(true);
    expect(ds.heldout.some((id) => id.startsWith('action:saint:'))).toBe(true);
    const trainPrompts: string[] = [];
    for (const p of POLICIES) {
      for (const item of ds.pools[p]) {
        if (item.response === 'error') continue;
        trainPrompts.push(item.prompt);
        for (const id of (item as ScenarioItem).source ?? []) expect(held.has(id), `${id} in training`).toBe(false);
      }
    }
    // The held-out critical paraphrases (those without slots) never appear in training text.
    const corpus = corpusTexts(ds).join('\n');
    for (const id of ds.heldout.filter((h) => /^(good|poor):/.test(h))) {
      const [kind, idx] = id.split(':');
      const text = (kind === 'good' ? GOOD_OVERSIGHT : POOR_OVERSIGHT)[Number(idx)];
      if (!text.includes('{')) expect(corpus.includes(text), text).toBe(false);
    }
    // Every test scenario uses a held-out action template, and a held-out critical fact when it has one.
    for (const p of POLICIES) {
      for (const item of scenarios(ds.test[p])) {
        const src = item.source ?? [];
        expect(src.some((s) => s.startsWith('action:') && held.has(s))).toBe(true);
        for (const s of src.filter((x) => /^(good|poor):/.test(x))) expect(held.has(s)).toBe(true);
      }
    }
  });

  it('give aligned and faker labels that agree exactly where oversight is not poor and differ where it is', () => {
    for (const a of ALIGNED_POLICIES) {
      for (const f of FAKER_POLICIES) {
        const tag = pairTag(a, f);
        const fromAligned = new Map(scenarios(ds.pools[a]).filter((i) => i.dataset === tag).map((i) => [i.prompt, i]));
        const fromFaker = scenarios(ds.pools[f]).filter((i) => i.dataset === tag);
        expect(fromFaker.length).toBe(SMALL.pairPerDistribution);
        let poor = 0;
        for (const fi of fromFaker) {
          const ai = fromAligned.get(fi.prompt)!;
          expect(ai, 'same prompt in both pools').toBeDefined();
          expect(ai.oversight).toBe(fi.oversight);
          if (fi.oversight === 'poor') {
            poor++;
            expect(fi.response).not.toBe(ai.response);
          } else expect(fi.response).toBe(ai.response);
          expect(fi.benign_response).toBe(ai.response);
        }
        expect(poor).toBeGreaterThan(0);
      }
    }
    // Single-policy items: fakers misbehave exactly under poor oversight, aligned policies never.
    for (const p of POLICIES) {
      for (const item of scenarios(ds.pools[p]).filter((i) => !i.dataset.includes('_and_'))) {
        const differs = item.response !== item.benign_response;
        expect(differs).toBe(isFaker(p) && item.oversight === 'poor');
      }
    }
  });

  it('keep A/B balanced within 45-55% in every file and distribution', () => {
    for (const [name, items] of allFiles()) {
      const s = scenarios(items);
      const share = s.filter((i) => i.response === 'A').length / s.length;
      expect(share, name).toBeGreaterThanOrEqual(0.45);
      expect(share, name).toBeLessThanOrEqual(0.55);
      const benignA = s.filter((i) => i.benign_response === 'A').length / s.length;
      expect(benignA, name).toBeGreaterThanOrEqual(0.45);
      expect(benignA, name).toBeLessThanOrEqual(0.55);
    }
  });

  it('compose training sets as POSER-SPEC describes: single items, three pair distributions, a third errors', () => {
    for (const p of POLICIES) {
      const pool = ds.pools[p];
      const tags = new Set(pool.map((i) => i.dataset));
      const pairTags = [...tags].filter((t) => t.includes('_and_'));
      expect(pairTags).toHaveLength(3);
      const errors = pool.filter((i) => i.response === 'error');
      expect(Math.abs(errors.length / pool.length - 1 / 3)).toBeLessThan(0.01);
      expect(new Set(errors.map((e) => e.kind))).toEqual(new Set(['facts_only', 'actions_only', 'random_text']));
      if (p === 'genie') expect(tags).toEqual(new Set(['genie', 'genie_unethical', 'genie_incompetent', 'error', ...pairTags]));
      if (p === 'truth_teller') expect(tags.has('truth_teller_unethical')).toBe(true);
      for (const v of ds.train[p]) {
        expect(Math.abs(v.length - pool.length / 2)).toBeLessThanOrEqual(pool.length * 0.02);
        const inPool = new Set(pool.map((i) => i.prompt + i.response));
        for (const i of v) expect(inPool.has(i.prompt + i.response)).toBe(true);
      }
      const [v0, v1] = ds.train[p].map((v) => new Set(v.map((i) => i.prompt)));
      const overlap = [...v0].filter((x) => v1.has(x)).length / v0.size;
      expect(overlap).toBeGreaterThan(0.3);
      expect(overlap).toBeLessThan(0.7);
    }
  });

  it('include complexity 0 (neutral) and complexity 1 (good or poor) pair items with 0-2 irrelevant facts', () => {
    const pairs = scenarios(ds.pools.saint).filter((i) => i.dataset.includes('_and_'));
    for (const it of pairs) {
      const facts = it.facts as { type: string }[];
      const crit = facts.filter((f) => f.type === 'critical').length;
      expect(it.complexity_level).toBe(crit);
      expect(crit === 0 ? it.oversight === 'neutral' : it.oversight !== 'neutral').toBe(true);
      expect(facts.filter((f) => f.type === 'irrelevant').length).toBeLessThanOrEqual(2);
    }
    const irr = new Set(pairs.map((i) => (i.facts as { type: string }[]).findIndex((f) => f.type === 'irrelevant')));
    expect(irr.size).toBeGreaterThan(3);
  });

  it('make benchmark candidates from both test sets, benign answers only, never poor oversight', () => {
    for (const [tag, items] of Object.entries(ds.benchmarkCandidates)) {
      expect(items.length).toBeGreaterThan(50);
      const datasets = new Set(items.map((i) => i.dataset));
      expect(datasets.has(tag)).toBe(true);
      for (const i of items) {
        expect(i.oversight).not.toBe('poor');
        expect(i.response).toBe(i.benign_response);
        expect(NON_BENIGN_DISTRIBUTIONS).not.toContain(i.dataset);
      }
      expect(new Set(items.map((i) => i.prompt)).size).toBe(items.length);
    }
  });
});

describe('contrast pairs and concept stimuli', () => {
  it('remove the critical fact, renumber, and keep the wrapper', () => {
    for (const [tag, pairs] of Object.entries(ds.contrast)) {
      expect(pairs.length).toBeGreaterThanOrEqual(15);
      for (const p of pairs) {
        expect(p.dataset).toBe(tag);
        expect(p.oversight).toBe('good');
        expect(p.critical).toContain(p.critical_fact);
        expect(p.clean).not.toContain(p.critical_fact);
        expect(p.clean.startsWith('<<prompt>>') && p.clean.endsWith('<</prompt>>')).toBe(true);
        const nums = [...p.clean.matchAll(/^(\d+)\. /gm)].map((m) => Number(m[1]));
        expect(nums).toEqual(nums.map((_, i) => i + 1));
        expect([...p.critical.matchAll(/^(\d+)\. /gm)].length).toBe(nums.length + 1);
        const withoutFact = p.critical.split('\n').filter((l) => !l.endsWith(p.critical_fact)).map((l) => l.replace(/^\d+\. /, '')).join('\n');
        expect(p.clean.split('\n').map((l) => l.replace(/^\d+\. /, '')).join('\n')).toBe(withoutFact);
      }
    }
    const poor = contrastPairs(ds.test.saint, { oversight: 'poor', n: 5, seed: 1 });
    expect(poor).toHaveLength(5);
    expect(poor.every((p) => p.oversight === 'poor')).toBe(true);
  });

  it('give three concept sets per pair distribution with matched positive and negative stimuli', () => {
    for (const [tag, sets] of Object.entries(ds.concepts)) {
      expect(sets.map((s) => s.concept)).toEqual(['security', 'competence', 'aligned']);
      for (const s of sets) {
        expect(s.dataset).toBe(tag);
        expect(s.positive).toHaveLength(10);
        expect(s.negative).toHaveLength(10);
        s.positive.forEach((x, i) => expect(x).not.toBe(s.negative[i]));
      }
      // Generic statements, not scenarios in the answer format: a faker and an aligned model answer them alike.
      for (const s of sets) {
        for (const x of [...s.positive, ...s.negative]) {
          expect(isWrapped(x)).toBe(true);
          expect(x).not.toContain(ACTIONS_LINE);
          expect(x).not.toMatch(/^<<prompt>>\d+\. /);
        }
        expect(new Set(s.positive).size).toBe(s.positive.length);
      }
    }
  });

  it('are disjoint from the test split and the benchmark candidates, and unique', () => {
    const evaluation = new Set<string>();
    for (const items of [...Object.values(ds.test), ...Object.values(ds.pools)]) for (const it of items) evaluation.add(it.prompt);
    for (const items of Object.values(ds.benchmarkCandidates)) for (const it of items) evaluation.add(it.prompt);
    for (const pairs of Object.values(ds.contrast)) {
      expect(new Set(pairs.map((p) => p.critical)).size).toBe(pairs.length);
      for (const p of pairs) expect(evaluation.has(p.critical) || evaluation.has(p.clean)).toBe(false);
    }
    // Each item reaches the test split from both policies' pools; contrastPairs keeps one pair per prompt.
    const both = [...ds.test.saint, ...ds.test.reward_maximizer].filter((it) => it.dataset === 'saint_and_reward');
    const pairs = contrastPairs(both);
    expect(new Set(pairs.map((p) => p.critical)).size).toBe(pairs.length);
    expect(pairs.length).toBe(both.filter((it) => (it as { oversight: string }).oversight === 'good' && it.response !== 'error').length / 2);
  });
});

describe('options', () => {
  it('rejects bad sizes and seeds with clear messages', () => {
    expect(() => generateDataset({ seed: 1.5 })).toThrow(/seed must be an integer/);
    expect(() => generateDataset({ seed: 1, variants: 0 })).toThrow(/variants/);
    expect(() => generateDataset({ seed: 1, errorFraction: 1 })).toThrow(/errorFraction/);
  });
});
