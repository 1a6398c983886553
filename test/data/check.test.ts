// `poser data check` on every kind of file the project writes (scenarios,
// benchmark, contrast pairs, concept sets), one pretty-printed object, and
// what it refuses: a missing file, a JSON object that is not an item, and
// invalid items, each as its own PoserError (one `poser:` line).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { errorLine, runCheck } from '../../src/cli/data.js';
import { tempDir } from '../helpers/random-model.js';

const DATA = fileURLToPath(new URL('../../data', import.meta.url));
const PAPER_BENCHMARK = fileURLToPath(new URL('./fixtures/paper-layout/benchmark/genie_and_reward_maximizer.json', import.meta.url));

describe('poser data check', () => {
  it('recognises scenario, benchmark, contrast and concept files without errors', () => {
    const files = [join(DATA, 'test', 'saint.json'), PAPER_BENCHMARK, join(DATA, 'contrast', 'genie_and_reward.json'), join(DATA, 'concepts', 'genie_and_reward.json')];
    const r = runCheck(files);
    expect(r.errors.map(errorLine)).toEqual([]);
    expect(r.ok).toBe(true);
    const count = (f: string) => (JSON.parse(readFileSync(f, 'utf8')) as unknown[]).length;
    expect(r.report).toContain(`${files[0]}: ${count(files[0])} items (scenarios)`);
    expect(r.report).toContain(`${files[1]}: 5 items (benchmark)`);
    expect(r.report).toContain(`${files[2]}: ${count(files[2])} contrast pairs (contrast); by dataset: genie_and_reward ${count(files[2])}`);
    expect(r.report).toMatch(new RegExp(`${files[3]}: 3 concept sets \\(concepts\\): security/vulnerability \\d+ suspicious / \\d+ benign`));
  });

  it('reads one pretty-printed item as one item, and refuses a JSON object that is not an item', () => {
    const dir = tempDir('poser-check-');
    const item = (JSON.parse(readFileSync(join(DATA, 'test', 'saint.json'), 'utf8')) as unknown[])[0];
    const one = join(dir, 'one.json');
    writeFileSync(one, JSON.stringify(item, null, 2));
    const r = runCheck([one]);
    expect(r.errors).toEqual([]);
    expect(r.report).toContain(`${one}: 1 items (scenarios)`);
    const manifest = join(dir, 'manifest.json');
    writeFileSync(manifest, JSON.stringify({ version: 1, seed: 3, files: {} }, null, 2));
    const m = runCheck([manifest]);
    expect(m.errors.map(errorLine)).toEqual([`poser: ${manifest}: a JSON object with keys version, seed, files, not an item; expected a JSON array (or JSON Lines) of scenarios, contrast pairs or concept sets [E_FORMAT]`]);
  });

  it('gives one error per problem, with its code, and carries on with the next file', () => {
    const dir = tempDir('poser-check-');
    const contrast = join(dir, 'contrast.json');
    writeFileSync(contrast, JSON.stringify([{ critical: 'a', clean: 'b' }, { critical: 'x' }, { critical: 'same', clean: 'same' }]));
    const broken = join(dir, 'broken.json');
    writeFileSync(broken, '[{"prompt": 1');
    const r = runCheck([join(dir, 'missing.json'), contrast, broken, join(DATA, 'contrast', 'saint_and_money.json')]);
    expect(r.ok).toBe(false);
    const lines = r.errors.map(errorLine);
    expect(lines[0]).toBe(`poser: ${join(dir, 'missing.json')}: no such file [E_IO]`);
    expect(lines[1]).toMatch(new RegExp(`^poser: ${contrast}: contrast pair 1: field clean: .+ \\[E_FORMAT\\]$`));
    expect(lines[2]).toMatch(/^poser: .*broken\.json: not valid JSON: .+ \[E_FORMAT\]$/);
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l).not.toContain('\n');
    expect(r.report).toContain('saint_and_money.json');
    // Same prompts in a contrast pair: a second error in a file that passes the schema.
    writeFileSync(contrast, JSON.stringify([{ critical: 'same', clean: 'same' }]));
    expect(runCheck([contrast]).errors.map(errorLine)).toEqual([`poser: ${contrast}: contrast pair 0: the critical and the clean prompt are the same [E_FORMAT]`]);
  });

  it('lists each invalid field of a scenario file as its own error', () => {
    const dir = tempDir('poser-check-');
    const items = (JSON.parse(readFileSync(join(DATA, 'test', 'saint.json'), 'utf8')) as Record<string, unknown>[]).slice(0, 3);
    delete items[0].prompt;
    items[2].prompt = 5;
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(items));
    const lines = runCheck([file]).errors.map(errorLine);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/item 0.*prompt.*\[E_FORMAT\]$/);
    expect(lines[1]).toMatch(/item 2.*prompt.*\[E_FORMAT\]$/);
  });
});
