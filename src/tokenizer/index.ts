/**
 * The project's tokenizer: a byte-level BPE `tokenizer.json` loaded through
 * @huggingface/tokenizers.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { PoserError } from '../errors.js';

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
} from './trainBpe.js';

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
    if (id === undefined) throw new PoserError('E_ARG', `tokenizer: "${piece}" is not a single token of the vocabulary`);
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

function parseJson(text: string, path: string): object {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PoserError('E_FORMAT', `${path}: not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new PoserError('E_FORMAT', `${path}: expected a JSON object`);
  return value;
}

/**
 * A tokenizer from the bytes of a tokenizer.json (and of its
 * tokenizer_config.json, if any); `path` names the file in errors.
 */
export function tokenizerFromFiles(path: string, json: Uint8Array | string, config?: Uint8Array | string): PoserTokenizer {
  const text = (b: Uint8Array | string) => (typeof b === 'string' ? b : Buffer.from(b).toString('utf8'));
  const parsed = parseJson(text(json), path);
  const configPath = join(dirname(path), 'tokenizer_config.json');
  const parsedConfig = config === undefined ? {} : parseJson(text(config), configPath);
  try {
    return tokenizerFromJson(parsed, parsedConfig);
  } catch (error) {
    if (error instanceof PoserError) throw error;
    throw new PoserError('E_FORMAT', `${path}: not a usable tokenizer: ${(error as Error).message}`, { cause: error });
  }
}

function readOptional(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new PoserError('E_IO', `${path}: cannot read: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Load a tokenizer.json (with a tokenizer_config.json next to it if present).
 * @param path path of tokenizer.json
 */
export function loadTokenizer(path: string): PoserTokenizer {
  const json = readOptional(path);
  if (json === undefined) throw new PoserError('E_IO', `${path}: no such file`);
  return tokenizerFromFiles(path, json, readOptional(join(dirname(path), 'tokenizer_config.json')));
}
