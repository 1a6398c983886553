/**
 * The project's tokenizer: a byte-level BPE `tokenizer.json` loaded through
 * @huggingface/tokenizers.
 */
import { readFileSync } from 'node:fs';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';

export {
  trainTokenizer,
  saveTokenizerJson,
  applyMerges,
  preTokenize,
  toByteLevel,
  bytesToUnicode,
  splitOnAdded,
  DEFAULT_ADDED_TOKENS,
  DEFAULT_SPECIAL_TOKENS,
  type TrainTokenizerOptions,
  type TokenizerJson,
} from './train.js';

/** A loaded tokenizer. */
export interface PoserTokenizer {
  /** Token ids of a text (no special tokens are added). */
  encode(text: string): number[];
  /** Token strings of a text, in the byte-level alphabet. */
  tokenize(text: string): string[];
  /** Text of token ids. */
  decode(ids: readonly number[]): string;
  /** The id of a vocabulary piece (byte-level form, or an added token); throws if absent. */
  tokenId(piece: string): number;
  /** Number of ids (vocabulary plus added tokens). */
  readonly vocabSize: number;
  /** Ids of the special tokens, where present. */
  readonly padId: number | undefined;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  /**
   * The underlying @huggingface/tokenizers object. Kept out of the published
   * types: that package's own declarations do not compile under `--strict`.
   * @internal
   */
  readonly hf: HfTokenizer;
}

/** Build a tokenizer from the parsed JSON of a tokenizer.json. */
export function tokenizerFromJson(json: object, config: object = {}): PoserTokenizer {
  const hf = new HfTokenizer(json, config);
  const vocab = hf.get_vocab(true);
  let maxId = -1;
  for (const id of vocab.values()) if (id > maxId) maxId = id;
  const tokenId = (piece: string): number => {
    const id = hf.token_to_id(piece);
    if (id === undefined) throw new Error(`tokenizer: "${piece}" is not a single token of the vocabulary`);
    return id;
  };
  return {
    encode: (text) => hf.encode(text, { add_special_tokens: false }).ids,
    tokenize: (text) => hf.tokenize(text, { add_special_tokens: false }),
    decode: (ids) => hf.decode(Array.from(ids), { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
    tokenId,
    vocabSize: maxId + 1,
    padId: hf.token_to_id('<pad>'),
    bosId: hf.token_to_id('<bos>'),
    eosId: hf.token_to_id('<eos>'),
    hf,
  };
}

/**
 * Load a tokenizer.json (with a tokenizer_config.json next to it if present).
 * @param path path of tokenizer.json
 */
export function loadTokenizer(path: string): PoserTokenizer {
  const json = JSON.parse(readFileSync(path, 'utf8')) as object;
  let config: object = {};
  try {
    config = JSON.parse(readFileSync(path.replace(/tokenizer\.json$/, 'tokenizer_config.json'), 'utf8')) as object;
  } catch {
    config = {};
  }
  return tokenizerFromJson(json, config);
}
