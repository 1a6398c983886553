import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { corpusTexts, generateDataset, type ScenarioItem } from '../../src/data/index.js';
import { loadTokenizer, type PoserTokenizer, saveTokenizerJson, trainTokenizer } from '../../src/tokenizer/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'poser-tok-'));
const ds = generateDataset({ seed: 3, singlePerPolicy: 60, pairPerDistribution: 30, testSinglePerPolicy: 12, testPairPerDistribution: 10 });
const texts = corpusTexts(ds);
let tok: PoserTokenizer;

beforeAll(() => {
  saveTokenizerJson(join(dir, 'tokenizer.json'), trainTokenizer(texts, { vocabSize: 1200 }));
  tok = loadTokenizer(join(dir, 'tokenizer.json'));
});

describe('byte-level BPE tokenizer', () => {
  it('trains deterministically to the requested size and loads with @huggingface/tokenizers', () => {
    const again = trainTokenizer(texts, { vocabSize: 1200 });
    expect(JSON.stringify(again)).toBe(JSON.stringify(JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'))));
    expect(tok.vocabSize).toBe(1200);
    expect(Object.keys(again.model.vocab)).toHaveLength(1200);
    expect(() => trainTokenizer(texts, { vocabSize: 100 })).toThrow(/vocabSize must be at least/);
  });

  it('round-trips any text, including text it never saw', () => {
    for (const t of [...texts.slice(0, 50), 'Zebra quokka 12345 ünïcödé 🙂\t\n  x', "it's   odd\n\n"]) {
      expect(tok.decode(tok.encode(t))).toBe(t);
    }
  });

  it('makes "A", "B" and "error" single tokens right after <</prompt>>, and the wrappers single tokens', () => {
    const close = tok.tokenId('<</prompt>>');
    for (const answer of ['A', 'B', 'error']) {
      const ids = tok.encode(`<<prompt>>anything\n<</prompt>>${answer}`);
      expect(ids.slice(-2)).toEqual([close, tok.tokenId(answer)]);
    }
    const item = ds.train.saint[0].find((i) => i.response !== 'error') as ScenarioItem;
    const ids = tok.encode(item.prompt + item.response);
    expect(ids[0]).toBe(tok.tokenId('<<prompt>>'));
    expect(ids.at(-2)).toBe(close);
    expect(ids.at(-1)).toBe(tok.tokenId(item.response));
    expect(() => tok.tokenId('not-a-token-at-all')).toThrow(/not a single token/);
    expect(tok.bosId).toBeDefined();
  });

  it('keeps scenario prompts compact', () => {
    const lens = texts.map((t) => tok.encode(t).length).sort((a, b) => a - b);
    expect(lens[Math.floor(lens.length / 2)]).toBeLessThan(100);
  });
});

describe('the committed tokenizer (data/tokenizer.json)', () => {
  const path = join(root, 'data', 'tokenizer.json');
  it.skipIf(!existsSync(path))('loads, has a few thousand tokens and short prompts', () => {
    const t = loadTokenizer(path);
    expect(t.vocabSize).toBeGreaterThanOrEqual(2000);
    expect(t.vocabSize).toBeLessThanOrEqual(4000);
    const items = JSON.parse(readFileSync(join(root, 'data', 'test', 'genie.json'), 'utf8')) as ScenarioItem[];
    const lens = items.filter((i) => i.response !== ('error' as string)).map((i) => t.encode(i.prompt + i.response).length);
    const mean = lens.reduce((a, b) => a + b, 0) / lens.length;
    expect(mean).toBeGreaterThan(40);
    expect(mean).toBeLessThan(110);
  });
});

const python = process.env.POSER_PYTHON ?? '/opt/poser-py/bin/python';
function hasPythonTokenizers(): boolean {
  if (!existsSync(python)) return false;
  try {
    execFileSync(python, ['-c', 'import tokenizers'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('Python tokenizers cross-check', () => {
  it.skipIf(!hasPythonTokenizers())('gives identical ids and decodes identically', () => {
    const samples = [...texts.filter((_, i) => i % 25 === 0), 'Hello   world!\n\ncafé 日本 🙂', '<<prompt>>x<</prompt>>error', '<bos>y<eos>'];
    const file = join(dir, 'samples.json');
    writeFileSync(file, JSON.stringify(samples.map((text) => ({ text, ids: tok.encode(text) }))));
    const out = execFileSync(python, [join(root, 'tools', 'check_tokenizer.py'), join(dir, 'tokenizer.json'), file], { encoding: 'utf8' });
    expect(out).toContain(`${samples.length}/${samples.length} samples identical`);
  });
});
