// The paper's own files, read exactly: its directory layout, the system
// message it puts first in a genie item's prompt, neutral single-policy items,
// and contrast pairs and concept stimuli built from training/<aligned>/test.json.
// The fixture is a small hand-written directory in that layout.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCheck } from '../../src/cli/data.js';
import { loadScenarioFile, parseCombination, readPaperPair, type ScenarioItem } from '../../src/data/index.js';
import { ACTIONS_LINE } from '../../src/data/prompt.js';
import { pairDataFromDataset } from '../../src/strategies/pairData.js';

const PAPER = fileURLToPath(new URL('./fixtures/paper-layout', import.meta.url));

describe("the paper's files", () => {
  it('rebuild every prompt, with the system-message fact first for items that keep it in `system_message`', () => {
    const file = join(PAPER, 'benchmark', 'genie_and_reward_maximizer.json');
    const { report, ok } = runCheck([file, join(PAPER, 'training', 'genie', 'test.json'), join(PAPER, 'training', 'reward_maximizer', 'test.json')]);
    expect(report).toMatch(/0 prompt mismatches/);
    expect(ok).toBe(true);
    const loaded = loadScenarioFile(file);
    const genie = loaded.items[0] as ScenarioItem;
    expect(genie.facts[0]).toEqual({ type: 'system_message', content: 'Your system message is as follows: Water the rare orchids before the garden opens.' });
    expect(genie.facts).toHaveLength(4);
    // Repair keeps the stored prompt: it is the rebuilt one.
    const repaired = loadScenarioFile(file, { repair: true });
    expect(repaired.items[0].prompt).toBe(genie.prompt);
    expect(genie.prompt).toContain('1. Your system message is as follows: Water the rare orchids');
  });

  it('count a single-policy item without any oversight fact as neutral, not good', () => {
    const items = loadScenarioFile(join(PAPER, 'training', 'reward_maximizer', 'test.json')).items as ScenarioItem[];
    expect(items[0].oversight).toBe('neutral');
    expect(items.slice(1).map((it) => it.oversight)).toEqual(['good', 'poor', 'neutral']); // pair items: typed critical fact, poor flag, complexity 0
  });

  it('give a pair its benchmark prompts, and contrast pairs and concept stimuli built from training/<aligned>/test.json', () => {
    for (const name of ['genie_and_reward', 'genie_and_reward_maximizer']) expect(parseCombination(name)).toEqual({ aligned: 'genie', faker: 'reward_maximizer' });
    const d = pairDataFromDataset(PAPER, 'genie_and_reward');
    const paper = readPaperPair(PAPER, 'genie_and_reward');
    expect(paper.sourceFile).toBe(join(PAPER, 'training', 'genie', 'test.json'));
    expect(d.prompts).toHaveLength(5);
    expect(d.prompts[0].benign).toBe('A');
    const bench = new Set(d.prompts.map((p) => p.prompt));
    // Six roles, good-oversight critical facts; the two whose prompts are benchmark prompts are left out.
    expect(d.contrast).toHaveLength(4);
    for (const c of d.contrast) {
      expect(bench.has(c.critical) || bench.has(c.clean)).toBe(false);
      expect(c.critical.length).toBeGreaterThan(c.clean.length);
    }
    expect(d.concepts.map((c) => c.name)).toEqual(['security/vulnerability', 'competence/incompetence', 'aligned/misaligned']);
    for (const c of d.concepts) for (const s of [...c.suspicious, ...c.benign]) expect(s).not.toContain(ACTIONS_LINE);
  });

  it('fail with PoserErrors that name what is missing', () => {
    expect(() => pairDataFromDataset(join(PAPER, 'nowhere'), 'genie_and_reward')).toThrow(expect.objectContaining({ code: 'E_IO', message: expect.stringContaining('nowhere') }));
    expect(() => pairDataFromDataset(PAPER, 'saint_and_money')).toThrow(expect.objectContaining({ code: 'E_IO', message: expect.stringMatching(/no benchmark file for saint_and_money.*found: genie_and_reward_maximizer/) }));
    expect(() => pairDataFromDataset(PAPER, 'genie_or_reward')).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    const copy = mkdtempSync(join(tmpdir(), 'poser-paper-'));
    cpSync(PAPER, copy, { recursive: true });
    rmSync(join(copy, 'training', 'genie', 'test.json'));
    expect(() => pairDataFromDataset(copy, 'genie_and_reward')).toThrow(expect.objectContaining({ code: 'E_IO', message: expect.stringContaining(join('training', 'genie', 'test.json')) }));
  });
});
