/**
 * Byte-level BPE training, written for this project, producing a Hugging Face
 * `tokenizer.json` (model BPE, ByteLevel pre-tokenizer and decoder) that both
 * @huggingface/tokenizers and Python `tokenizers` load.
 */
import { ACTIONS_LINE, INTRO_LINE, PROMPT_CLOSE, PROMPT_OPEN, QUESTION_LINE } from '../data/prompt.js';
import { PoserError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';

/** GPT-2's map from bytes to printable characters. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => (out[b] = String.fromCodePoint(cs[i])));
  return out;
}

const BYTE_CHARS = bytesToUnicode();
/** The ByteLevel pre-tokenizer's split pattern (the same as GPT-2's). */
export const BYTE_LEVEL_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const encoder = new TextEncoder();

/** Map a string's UTF-8 bytes to the byte-level alphabet. */
export function toByteLevel(text: string): string {
  let out = '';
  for (const b of encoder.encode(text)) out += BYTE_CHARS[b];
  return out;
}

/** Split text around added tokens (longest match first), as the tokenizer does before pre-tokenizing. */
export function splitOnAdded(text: string, added: readonly string[]): { text: string; added: boolean }[] {
  if (added.length === 0) return [{ text, added: false }];
  const sorted = [...added].sort((a, b) => b.length - a.length);
  const out: { text: string; added: boolean }[] = [];
  let i = 0;
  let start = 0;
  while (i < text.length) {
    const hit = sorted.find((a) => text.startsWith(a, i));
    if (hit) {
      if (i > start) out.push({ text: text.slice(start, i), added: false });
      out.push({ text: hit, added: true });
      i += hit.length;
      start = i;
    } else {
      i++;
    }
  }
  if (start < text.length) out.push({ text: text.slice(start), added: false });
  return out;
}

/** Pre-tokenize like ByteLevel(use_regex, no prefix space): words in the byte-level alphabet. */
export function preTokenize(text: string): string[] {
  return (text.match(BYTE_LEVEL_PATTERN) ?? []).map(toByteLevel);
}

/** Options of {@link trainTokenizer}. */
export interface TrainTokenizerOptions {
  /** Target size of the vocabulary, special and added tokens included (default 3000). */
  vocabSize?: number;
  /** Pairs seen fewer times are not merged (default 2). */
  minFrequency?: number;
  /** Special tokens, placed first (default `<pad>`, `<bos>`, `<eos>`). */
  specialTokens?: string[];
  /**
   * Non-special added tokens matched as whole strings before pre-tokenization
   * (default: the prompt wrappers and the three fixed lines of the Poser format,
   * which keeps prompts short for small models).
   */
  addedTokens?: string[];
  /** Words that must end up as single tokens when they stand alone (default `A`, `B`, `error`). */
  requiredPieces?: string[];
}

/** The JSON of a Hugging Face tokenizer (the parts this project writes). */
export interface TokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: {
    id: number;
    content: string;
    single_word: boolean;
    lstrip: boolean;
    rstrip: boolean;
    normalized: boolean;
    special: boolean;
  }[];
  normalizer: null;
  pre_tokenizer: { type: 'ByteLevel'; add_prefix_space: boolean; trim_offsets: boolean; use_regex: boolean };
  post_processor: null;
  decoder: { type: 'ByteLevel'; add_prefix_space: boolean; trim_offsets: boolean; use_regex: boolean };
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: null;
    end_of_word_suffix: null;
    fuse_unk: boolean;
    byte_fallback: boolean;
    vocab: Record<string, number>;
    merges: string[];
  };
}

/** The default added tokens. */
export const DEFAULT_ADDED_TOKENS: readonly string[] = [PROMPT_OPEN, PROMPT_CLOSE, INTRO_LINE, ACTIONS_LINE, QUESTION_LINE];
/** The default special tokens. */
export const DEFAULT_SPECIAL_TOKENS: readonly string[] = ['<pad>', '<bos>', '<eos>'];

/** Apply merges (by rank) to one byte-level word, as the BPE model does. */
export function applyMerges(word: string, ranks: Map<string, number>): string[] {
  let parts = Array.from(word);
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i < parts.length - 1; i++) {
      const r = ranks.get(parts[i] + ' ' + parts[i + 1]);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) return parts;
    const [a, b] = [parts[best], parts[best + 1]];
    const next: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      if (i < parts.length - 1 && parts[i] === a && parts[i + 1] === b) {
        next.push(a + b);
        i++;
      } else next.push(parts[i]);
    }
    parts = next;
  }
}

/**
 * Train a byte-level BPE tokenizer on texts. Deterministic: the same texts and
 * options give the same file.
 */
export function trainTokenizer(texts: Iterable<string>, options: TrainTokenizerOptions = {}): TokenizerJson {
  const vocabSize = options.vocabSize ?? 3000;
  const minFrequency = options.minFrequency ?? 2;
  const special = options.specialTokens ?? [...DEFAULT_SPECIAL_TOKENS];
  const added = options.addedTokens ?? [...DEFAULT_ADDED_TOKENS];
  const required = options.requiredPieces ?? ['A', 'B', 'error'];
  const base = special.length + added.length + 256;
  if (vocabSize < base) throw new PoserError('E_ARG', `trainTokenizer: vocabSize must be at least ${base}, got ${vocabSize}`);

  // Word frequencies.
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const seg of splitOnAdded(text, [...special, ...added])) {
      if (seg.added) continue;
      for (const w of preTokenize(seg.text)) counts.set(w, (counts.get(w) ?? 0) + 1);
    }
  }
  const wordList = [...counts.keys()].sort();

  // Symbols.
  const symbols: string[] = [];
  const symbolId = new Map<string, number>();
  const sym = (s: string) => {
    let id = symbolId.get(s);
    if (id === undefined) {
      id = symbols.length;
      symbols.push(s);
      symbolId.set(s, id);
    }
    return id;
  };
  for (const c of BYTE_CHARS) sym(c);
  const words = wordList.map((w) => Array.from(w).map(sym));
  const freq = wordList.map((w) => counts.get(w)!);

  const KEY = 1 << 20;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addWord = (wi: number, sign: number) => {
    const s = words[wi];
    for (let i = 0; i < s.length - 1; i++) {
      const k = s[i] * KEY + s[i + 1];
      pairCount.set(k, (pairCount.get(k) ?? 0) + sign * freq[wi]);
      if (sign > 0) {
        let set = pairWords.get(k);
        if (!set) pairWords.set(k, (set = new Set()));
        set.add(wi);
      }
    }
  };
  words.forEach((_, wi) => addWord(wi, 1));

  const merges: [string, string][] = [];
  const mergeIds = (a: number, b: number) => {
    const k = a * KEY + b;
    const merged = sym(symbols[a] + symbols[b]);
    merges.push([symbols[a], symbols[b]]);
    const where = [...(pairWords.get(k) ?? [])].sort((x, y) => x - y);
    for (const wi of where) {
      addWord(wi, -1);
      const s = words[wi];
      const next: number[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i < s.length - 1 && s[i] === a && s[i + 1] === b) {
          next.push(merged);
          i++;
        } else next.push(s[i]);
      }
      words[wi] = next;
      addWord(wi, 1);
    }
    pairCount.delete(k);
    pairWords.delete(k);
  };

  const target = vocabSize - special.length - added.length;
  while (symbols.length < target) {
    let bestKey = -1;
    let bestCount = 0;
    for (const [k, c] of pairCount) {
      if (c > bestCount || (c === bestCount && c > 0 && k < bestKey)) {
        bestCount = c;
        bestKey = k;
      }
    }
    if (bestKey < 0 || bestCount < minFrequency) break;
    const a = Math.floor(bestKey / KEY);
    const b = bestKey % KEY;
    mergeIds(a, b);
  }

  // Make sure required pieces are single tokens.
  const ranksOf = () => new Map(merges.map(([a, b], i) => [a + ' ' + b, i]));
  for (const piece of required) {
    const word = toByteLevel(piece);
    let parts = applyMerges(word, ranksOf());
    while (parts.length > 1) {
      const [a, b] = [parts[0], parts[1]];
      sym(a);
      sym(b);
      sym(a + b);
      merges.push([a, b]);
      parts = applyMerges(word, ranksOf());
    }
    sym(word);
  }

  const vocab: Record<string, number> = {};
  const addedTokens: TokenizerJson['added_tokens'] = [];
  let id = 0;
  for (const s of special) {
    addedTokens.push({ id, content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    vocab[s] = id++;
  }
  for (const s of added) {
    addedTokens.push({ id, content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false });
    vocab[s] = id++;
  }
  for (const s of symbols) if (!(s in vocab)) vocab[s] = id++;

  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/** Write a tokenizer.json (stable key order, one merge per line). */
export function saveTokenizerJson(path: string, json: TokenizerJson): void {
  writeFileAtomic(path, JSON.stringify(json, null, 1) + '\n');
}
