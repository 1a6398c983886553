import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { linkTree, replaceDirectory } from '../io/directory.js';
import { removeStaleTemporaries } from '../io/atomic.js';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { PoserError, check } from '../errors.js';
import { parseDevice } from '../device.js';
import { binding, type NativeModel, type RawBatch, type RawLoss, type RawTensor } from '../native/binding.js';
import { tokenizerFromFiles, type PoserTokenizer as Tokenizer } from '../tokenizer/index.js';
import { absolutePositions, checkEncodedBatch, checkTokenId, padLeft, type EncodedBatch } from './batch.js';
import { llamaConfigToJson, readLlamaConfig, type LlamaConfig } from './config.js';
import { findGgufFile, GGUF_TOKENIZER_ARRAYS, ggufLlamaConfig, ggufTokenizer, readGguf, type GgufInfo } from './gguf.js';
import { hookNames, parseHook, selectHooks, type HookFilter } from './hooks.js';
import { captureKey, lowerInterventions, type HookDims, type Intervention, type Positions } from './interventions.js';
import { view, type Float32NdArray } from './tensor.js';

/** The compute dtype of a loaded model. */
export type Dtype = 'float32' | 'float16' | 'bfloat16';

/** Options of {@link Model.load}. */
export interface LoadOptions {
  /** `cpu` (default) or `cuda:N`. */
  device?: string;
  /** Compute dtype; weights stored in another dtype are converted on load. Default float32. */
  dtype?: Dtype;
  /** A tokenizer to use instead of `dir/tokenizer.json`; `false` loads none. */
  tokenizer?: Tokenizer | false;
  /**
   * Memory-map the weight files instead of reading them into memory the model
   * owns (default false). Saves one copy only for CPU weights stored in the
   * compute dtype, and shares their pages with the page cache. The risk: those
   * weights then are the files. Truncating or replacing one in place while the
   * model lives kills the process with SIGBUS at its next call, and rewriting
   * one in place silently changes the model's answers. Use it only for files
   * nothing will touch (writers that rename a new file over the old one, as
   * `save()` does, are safe). Safetensors only: GGUF weights are always
   * dequantized into owned memory.
   */
  mmap?: boolean;
}

const LoadOptionsSchema = z.object({
  dtype: z.enum(['float32', 'float16', 'bfloat16']).default('float32'),
  mmap: z.boolean().default(false),
});

/** Prompts as text, rows of token ids, or an already padded batch. */
export type Input = string[] | number[][] | EncodedBatch;

/** Which positions get logits: the last (default), every position, none, or indices per row. */
export type LogitsRequest = 'last' | 'all' | 'none' | number[];

/** Options of {@link Model.forward}: which logits to compute and the interventions to apply. */
export interface ForwardOptions {
  logits?: LogitsRequest;
  interventions?: readonly Intervention[];
}

/** Options of {@link Model.runWithCache}. */
export interface RunWithCacheOptions {
  /** Hooks to record (names, `*` wildcards, RegExps or a predicate); default every hook. */
  hooks?: HookFilter;
  /** Positions to record (default 'all'). */
  positions?: Positions;
  /** Logits to return (default 'all'). */
  logits?: LogitsRequest;
}

/** Options of {@link Model.generate}. */
export interface GenerateOptions {
  /** New tokens per row at most (default 16). */
  maxNewTokens?: number;
  /** 0 (default) picks the most likely token (greedy); > 0 samples from softmax(logits / temperature). */
  temperature?: number;
  /** When sampling, only the k most likely tokens are candidates (0 = all). */
  topK?: number;
  /** Seed of the sampler; the same seed gives the same tokens. */
  seed?: number;
  /**
   * A row ends once its new tokens end with one of these: a token id, a
   * sequence of ids, or a string (matched as its tokenization; the text is
   * also cut where the string first appears).
   */
  stop?: (number | number[] | string)[];
  /**
   * Applied to the prompt as in `forward`, and to every generated token
   * when positions are 'last' (the default) or 'all'; explicit positions
   * act on the prompt only. Captures are not allowed (use runWithCache on
   * the result).
   */
  interventions?: readonly Intervention[];
}

/** What {@link Model.generate} returns. */
export interface GenerateOutput {
  /** New token ids per row, stop sequence included. */
  tokens: number[][];
  /** The new tokens decoded (when the model has a tokenizer), cut before a stop string. */
  texts?: string[];
  /** Whether each row ended with a stop sequence (else it reached maxNewTokens). */
  stopped: boolean[];
}

/** What {@link Model.forward} returns. */
export interface ForwardOutput {
  /** [B, V] for 'last', [B, K, V] for indices, [B, T, V] for 'all' (padded positions included). */
  logits?: Float32NdArray;
  /** Captures by name (default: hook name): [B, D] at 'last', else [B, K, D] / [B, T, D]. */
  captures: Record<string, Float32NdArray>;
  /** The batch as run (padding, lengths). */
  batch: EncodedBatch;
}

/** A training loss: cross-entropy of one answer token per row at the last position, or the causal-LM loss. */
export type Loss =
  | { kind: 'answer'; /** token ids or single-token strings predicted at the last position, one per row */ targets: (number | string)[] }
  | { kind: 'lm'; /** per row, 1 for tokens to predict (aligned to the row's real tokens); default: all but the first */ lossMask?: number[][] };

/** Optimizer settings (AdamW by default, or SGD); unset fields take PyTorch's defaults, weight decay 0. */
export interface OptimizerOptions {
  kind?: 'adamw' | 'sgd';
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  momentum?: number;
  nesterov?: boolean;
}

const OptimizerSchema = z.object({
  kind: z.enum(['adamw', 'sgd']).default('adamw'),
  lr: z.number().refine((x) => Number.isFinite(x) && x > 0, 'learning rate must be a finite number > 0'),
  betas: z.tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)]).default([0.9, 0.999]),
  eps: z.number().positive().default(1e-8),
  weightDecay: z.number().min(0).default(0),
  momentum: z.number().min(0).default(0),
  nesterov: z.boolean().default(false),
});

/** Options of {@link Model.save}. */
export interface SaveOptions {
  /**
   * `'merge'` (default): LoRA adapters are merged into the weights they adapt
   * (W + (alpha/rank) B A); a parallel MLP adapter, which a LLaMA checkpoint
   * cannot express, makes the save fail with E_STATE (save it with
   * `saveAdapters`). `'drop'`: the base weights, every adapter left out.
   */
  adapters?: 'merge' | 'drop';
  /** String metadata stored in the safetensors header. */
  metadata?: Record<string, string>;
  /** Extra files (plain names) written into the directory as part of the same atomic save. */
  files?: Record<string, string | Uint8Array>;
}

/** The files a save writes itself; `files` may not replace them. */
const MODEL_FILES = new Set(['config.json', 'model.safetensors', 'model.safetensors.index.json', 'tokenizer.json', 'tokenizer_config.json']);

/**
 * Files that belong to a checkpoint: a save replaces them all (those the new
 * model lacks are gone). Any other entry of the directory (notes, adapters,
 * records) is the user's and is carried into the new directory.
 */
export function isCheckpointFile(name: string): boolean {
  return (
    MODEL_FILES.has(name) ||
    /^(generation_config|special_tokens_map|added_tokens|vocab|tokenizer_config)\.json$/.test(name) ||
    /^(merges\.txt|tokenizer\.model)$/.test(name) ||
    /^(model|pytorch_model|tf_model|flax_model)(-\d+-of-\d+)?\.(safetensors|bin|h5|msgpack)(\.index\.json)?$/.test(name) ||
    /\.gguf$/.test(name)
  );
}

/** Options of the training calls ({@link Model.trainStep}, {@link Model.backward}, {@link Model.evaluateLoss}). */
export interface TrainOptions {
  /** Clip the global gradient norm to this value (default: no clipping). */
  maxGradNorm?: number;
  interventions?: readonly Intervention[];
}

/** A short rendering of a bad argument for messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function stringRecord(value: unknown, what: string): Record<string, string> {
  check(value !== null && typeof value === 'object' && !Array.isArray(value), `${what} must be an object of strings, got ${describe(value)}`);
  for (const [k, v] of Object.entries(value as object)) check(typeof v === 'string', `${what}: '${k}' must be a string, got ${describe(v)}`);
  return value as Record<string, string>;
}

function zodMessage(error: z.ZodError, what: string): string {
  const issue = error.issues[0];
  return `${what}: ${issue.path.length ? `'${issue.path.join('.')}' ` : ''}${issue.message}`;
}

/**
 * A LLaMA-architecture model loaded through libtorch. Every compute method
 * returns a promise, runs off the main thread, and runs after the previous
 * call on the same model has finished.
 */
export class Model {
  readonly numLayers: number;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private constructor(
    private readonly native: NativeModel,
    readonly config: LlamaConfig,
    readonly dir: string,
    readonly device: string,
    readonly dtype: Dtype,
    readonly tokenizer: Tokenizer | undefined,
    /** The tokenizer files as read at load (name -> bytes), written again by save(). */
    private readonly tokenizerFiles: Record<string, Buffer>,
  ) {
    this.numLayers = config.num_hidden_layers;
    this.hiddenSize = config.hidden_size;
    this.vocabSize = config.vocab_size;
  }

  /**
   * Loads a Hugging Face directory (config.json, model.safetensors or a
   * sharded index), or a LLaMA GGUF file (a path ending in .gguf, or a
   * directory holding exactly one .gguf and no safetensors; weights are
   * dequantized to float32 first). tokenizer.json beside the weights is loaded
   * when present.
   */
  static async load(path: string, options: LoadOptions = {}): Promise<Model> {
    const parsed = LoadOptionsSchema.safeParse({ dtype: options.dtype, mmap: options.mmap });
    if (!parsed.success) throw new PoserError('E_ARG', zodMessage(parsed.error, 'load options'));
    const { dtype, mmap } = parsed.data;
    const device = parseDevice(options.device);
    check(typeof path === 'string' && path !== '', 'Model.load: path must be a non-empty string');
    const gguf = findGgufFile(path);
    const dir = gguf ? dirname(gguf) : path;
    const wantTokenizer = !options.tokenizer && options.tokenizer !== false;
    const hasTokenizerJson = existsSync(join(dir, 'tokenizer.json'));
    // A GGUF file without tokenizer.json beside it: its own vocabulary, where supported.
    const info = gguf ? await readGguf(gguf, { arrays: wantTokenizer && !hasTokenizerJson ? GGUF_TOKENIZER_ARRAYS : false }) : undefined;
    const config = gguf ? ggufLlamaConfig(info!, gguf) : readLlamaConfig(dir);
    let tokenizer: Tokenizer | undefined;
    const tokenizerFiles: Record<string, Buffer> = {};
    if (options.tokenizer) tokenizer = options.tokenizer;
    else if (wantTokenizer && hasTokenizerJson) {
      // Read once and kept, so a save writes exactly the tokenizer in use.
      for (const name of ['tokenizer.json', 'tokenizer_config.json']) {
        const path = join(dir, name);
        try {
          if (name === 'tokenizer.json' || existsSync(path)) tokenizerFiles[name] = readFileSync(path);
        } catch (error) {
          throw new PoserError('E_IO', `${path}: cannot read: ${(error as Error).message}`, { cause: error });
        }
      }
      tokenizer = tokenizerFromFiles(join(dir, 'tokenizer.json'), tokenizerFiles['tokenizer.json'], tokenizerFiles['tokenizer_config.json']);
    } else if (wantTokenizer && info && info.metadata['tokenizer.ggml.model'] !== undefined) tokenizer = ggufTokenizerOrNone(info, gguf!);
    let native: NativeModel;
    try {
      native = await binding().loadModel(gguf ?? dir, config, {
        deviceType: device.type,
        deviceIndex: device.index,
        dtype,
        mmap,
        format: gguf ? 'gguf' : 'safetensors',
      });
    } catch (error) {
      throw PoserError.fromNative(error);
    }
    return new Model(native, config, dir, device.name, dtype, tokenizer, tokenizerFiles);
  }

  /** Every hook point name, in call order. */
  hookNames(): string[] {
    return hookNames(this.numLayers);
  }

  /** The sizes that fix each hook's vector width. */
  private get dims(): HookDims {
    const c = this.config;
    const heads = c.num_attention_heads;
    const headDim = c.head_dim;
    return { numLayers: this.numLayers, hidden: this.hiddenSize, numHeads: heads, headDim, intermediate: c.intermediate_size };
  }

  /**
   * A capture [B, K, W] from native code in the hook's own layout: [B, K, H, hd]
   * at attn.hook_z, [B, H, K, Tk] at attn.hook_pattern, else [B, K, W]; the K
   * axis dropped for positions 'last'.
   */
  private captureView(hook: string, positions: Positions, c: RawTensor): Float32NdArray {
    const parsed = parseHook(hook, this.numLayers);
    const last = positions === 'last';
    const [b, k, w] = c.shape;
    const { numHeads: h, headDim } = this.dims;
    if (parsed.shape === 'heads') return view(c, last ? [b, h, headDim] : [b, k, h, headDim]);
    if (parsed.shape === 'pattern') {
      const tk = w / h;
      const src = c.data;
      const data = new Float32Array(src.length);
      // [B, K, H, Tk] -> [B, H, K, Tk]
      for (let i = 0; i < b; i++)
        for (let q = 0; q < k; q++)
          for (let j = 0; j < h; j++) {
            const from = ((i * k + q) * h + j) * tk;
            data.set(src.subarray(from, from + tk), ((i * h + j) * k + q) * tk);
          }
      return view({ data, shape: [b, h, k, tk] }, last ? [b, h, tk] : [b, h, k, tk]);
    }
    return last ? view(c, [b, w]) : view(c);
  }

  // ------------------------------------------------------------ plumbing

  private enqueue<T>(method: string, fn: () => Promise<T>): Promise<T> {
    if (this.disposed) return Promise.reject(new PoserError('E_DISPOSED', `${method}: the model has been disposed`));
    const run = this.queue.then(fn, fn).catch((error: unknown) => {
      throw PoserError.fromNative(error);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Tokenizes and left-pads prompts (or pads rows of ids). */
  encode(input: Input): EncodedBatch {
    if (!Array.isArray(input)) {
      check(input && typeof input === 'object' && (input as EncodedBatch).ids instanceof Int32Array, `input must be prompts, rows of token ids or an EncodedBatch, got ${describe(input)}`);
      return checkEncodedBatch(input, this.vocabSize);
    }
    check(input.length > 0, 'empty batch: at least one prompt is needed');
    if (typeof input[0] === 'string') {
      const tok = this.requireTokenizer('encode');
      return padLeft((input as string[]).map((p, i) => {
        check(typeof p === 'string', `prompt ${i} is not a string`);
        return tok.encode(p);
      }), this.vocabSize);
    }
    return padLeft(input as number[][], this.vocabSize);
  }

  private requireTokenizer(method: string): Tokenizer {
    if (!this.tokenizer) throw new PoserError('E_STATE', `${method}: this model has no tokenizer (no tokenizer.json in ${this.dir})`);
    return this.tokenizer;
  }

  /** The id of a single-token string such as "A" (looked up as a vocabulary piece first). */
  tokenId(piece: string | number): number {
    if (typeof piece === 'number') {
      checkTokenId(piece, this.vocabSize);
      return piece;
    }
    check(typeof piece === 'string', `a token must be a string or a token id, got ${describe(piece)}`);
    const tok = this.requireTokenizer('tokenId');
    if (tok.hf.token_to_id(piece) !== undefined) return tok.tokenId(piece);
    const ids = tok.encode(piece);
    if (ids.length !== 1) throw new PoserError('E_ARG', `'${piece}' is not a single token (it encodes to ${ids.length} tokens)`);
    return ids[0];
  }

  private raw(batch: EncodedBatch): RawBatch {
    return { ids: batch.ids, mask: batch.mask, batch: batch.batch, length: batch.length };
  }

  // ------------------------------------------------------------ inference

  /** Runs the model once, with interventions applied at their hooks. */
  async forward(input: Input, options: ForwardOptions = {}): Promise<ForwardOutput> {
    const batch = this.encode(input);
    const interventions = options.interventions ?? [];
    const ops = lowerInterventions(interventions, batch, this.dims);
    const request = options.logits ?? 'last';
    let logits: { mode: string; index?: Int32Array; k?: number };
    if (request === 'none') logits = { mode: 'none' };
    else if (request === 'all') logits = { mode: 'all' };
    else if (request === 'last') logits = { mode: 'index', index: new Int32Array(batch.batch).fill(batch.length - 1), k: 1 };
    else {
      check(Array.isArray(request), "logits must be 'last', 'all', 'none' or an array of positions");
      logits = { mode: 'index', index: absolutePositions(batch, request), k: request.length };
    }
    const out = await this.enqueue('forward', () => this.native.forward({ ...this.raw(batch), logits, ops }));
    const captures: Record<string, Float32NdArray> = {};
    interventions.forEach((iv, i) => {
      const c = out.captures[i];
      if (iv.op !== 'capture' || !c) return;
      captures[captureKey(iv)] = this.captureView(iv.hook, iv.positions ?? 'last', c);
    });
    let logitsView: Float32NdArray | undefined;
    if (out.logits) logitsView = request === 'last' ? view(out.logits, [batch.batch, this.vocabSize]) : view(out.logits);
    return { logits: logitsView, captures, batch };
  }

  /**
   * Probabilities of single-token choices (e.g. ["A", "B"]) at the last
   * position, from a softmax over the full vocabulary: [prompt][choice].
   */
  async scoreChoices(input: Input, choices: (string | number)[], options: { interventions?: readonly Intervention[] } = {}): Promise<number[][]> {
    check(choices.length > 0, 'scoreChoices: at least one choice is needed');
    const ids = choices.map((c) => this.tokenId(c));
    const { logits } = await this.forward(input, { logits: 'last', interventions: options.interventions });
    return softmaxPick(logits!, ids);
  }

  /** Activations at the given hooks (default the last position): hook -> [B, D]. */
  async capture(input: Input, hooks: string[], positions: Intervention['positions'] = 'last'): Promise<Record<string, Float32NdArray>> {
    check(hooks.length > 0, 'capture: at least one hook is needed');
    const interventions: Intervention[] = hooks.map((hook) => ({ hook, op: 'capture', positions }));
    const { captures } = await this.forward(input, { logits: 'none', interventions });
    return captures;
  }

  /**
   * Runs the model once and records every requested hook (default: all of
   * them, at every position), as TransformerLens's `run_with_cache`: hook
   * name -> activation ([B, T, D]; [B, H, Q, K] at attn.hook_pattern;
   * [B, T, H, hd] at attn.hook_z; the T axis dropped for positions 'last').
   */
  async runWithCache(
    input: Input,
    options: RunWithCacheOptions & { interventions?: readonly Intervention[] } = {},
  ): Promise<{ logits?: Float32NdArray; cache: Record<string, Float32NdArray>; batch: EncodedBatch }> {
    const hooks = selectHooks(this.hookNames(), options.hooks ?? (() => true));
    const positions = options.positions ?? 'all';
    const captures: Intervention[] = hooks.map((hook) => ({ hook, op: 'capture', positions, name: hook }));
    const out = await this.forward(input, { logits: options.logits ?? 'all', interventions: [...(options.interventions ?? []), ...captures] });
    const cache: Record<string, Float32NdArray> = {};
    for (const hook of hooks) cache[hook] = out.captures[hook];
    return { logits: out.logits, cache, batch: out.batch };
  }

  /**
   * Continues each prompt token by token with a KV cache (in the native
   * core), greedy by default; interventions act at every generated step.
   */
  async generate(input: Input, options: GenerateOptions = {}): Promise<GenerateOutput> {
    const batch = this.encode(input);
    const maxNewTokens = options.maxNewTokens ?? 16;
    const temperature = options.temperature ?? 0;
    const topK = options.topK ?? 0;
    const seed = options.seed ?? 0;
    check(Number.isInteger(maxNewTokens) && maxNewTokens > 0, `generate: maxNewTokens must be a positive integer, got ${maxNewTokens}`);
    check(Number.isFinite(temperature) && temperature >= 0, `generate: temperature must be a finite number >= 0, got ${temperature}`);
    check(Number.isInteger(topK) && topK >= 0, `generate: topK must be a non-negative integer, got ${topK}`);
    check(Number.isSafeInteger(seed) && seed >= 0, `generate: seed must be a non-negative integer, got ${seed}`);
    const limit = this.config.max_position_embeddings;
    const longest = Math.max(...batch.lengths) + maxNewTokens - 1;
    check(this.config.rope.type === 'dynamic' || longest <= limit,
      `generate: ${longest} positions (the longest prompt plus maxNewTokens - 1) exceed this model's limit of ${limit} (max_position_embeddings)`);
    const interventions = options.interventions ?? [];
    interventions.forEach((iv, i) => {
      check(iv?.op !== 'capture', `generate: interventions[${i}] is a capture; captures are not returned by generate (use runWithCache on the result)`);
      const hook = parseHook(iv.hook, this.numLayers);
      check(hook.shape !== 'pattern' || iv.op === 'scale' || iv.op === 'noise',
        `generate: interventions[${i}] (${iv.op} at ${iv.hook}): the pattern's width grows with each token; only scale and noise apply there`);
    });
    const promptOps = lowerInterventions(interventions, batch, this.dims);
    // Each step runs one new token per row: position 0 of a [B, 1] slice.
    const stepOps = lowerInterventions(interventions.filter((iv) => (iv.positions ?? 'last') === 'last' || iv.positions === 'all'), batch, this.dims)
      .map((op) => ({ ...op, all: true, index: undefined, k: undefined }));
    const stopTexts: string[] = [];
    const stop = (options.stop ?? []).map((s, i) => {
      if (typeof s === 'string') {
        check(s.length > 0, `generate: stop[${i}] is an empty string`);
        stopTexts.push(s);
        return Int32Array.from(this.requireTokenizer('generate (stop strings)').encode(s));
      }
      const ids = typeof s === 'number' ? [s] : s;
      check(Array.isArray(ids) && ids.length > 0, `generate: stop[${i}] must be a token id, a non-empty array of ids or a string`);
      return Int32Array.from(ids.map((id) => this.tokenId(id)));
    });
    const out = await this.enqueue('generate', () =>
      this.native.generate({ ...this.raw(batch), promptOps, stepOps, maxNewTokens, temperature, topK, seed, stop }),
    );
    const tokens = out.lengths.map((len, r) => Array.from(out.tokens.subarray(r * out.width, r * out.width + len)));
    let texts: string[] | undefined;
    if (this.tokenizer) {
      const tok = this.tokenizer;
      texts = tokens.map((ids) => {
        let text = tok.decode(ids);
        for (const s of stopTexts) {
          const at = text.indexOf(s);
          if (at >= 0) text = text.slice(0, at);
        }
        return text;
      });
    }
    return { tokens, texts, stopped: out.stopped };
  }

  /**
   * Runs one batch under many intervention settings that touch only the last
   * position. The shared prefix is computed once (cached keys and values);
   * each setting reruns only the last token from the earliest hooked layer.
   * Returns, per setting, last-position logits [B, V] and captures [B, D].
   */
  async sweep(input: Input, settings: readonly (readonly Intervention[])[]): Promise<{ logits: Float32NdArray; captures: Record<string, Float32NdArray> }[]> {
    check(settings.length > 0, 'sweep: at least one setting is needed');
    const batch = this.encode(input);
    const lowered = settings.map((ivs, s) => {
      ivs.forEach((iv, i) => check((iv.positions ?? 'last') === 'last', `sweep: settings[${s}][${i}] must use positions 'last'`));
      return lowerInterventions(ivs, batch, this.dims);
    });
    const out = await this.enqueue('sweep', () => this.native.sweep({ ...this.raw(batch), settings: lowered }));
    return out.map((r, s) => {
      const captures: Record<string, Float32NdArray> = {};
      settings[s].forEach((iv, i) => {
        const c = r.captures[i];
        if (iv.op === 'capture' && c) captures[captureKey(iv)] = this.captureView(iv.hook, 'last', c);
      });
      return { logits: view(r.logits!, [batch.batch, this.vocabSize]), captures };
    });
  }

  // ------------------------------------------------------------ training

  /**
   * Chooses what trains: parameters whose HF names match any pattern (a
   * RegExp, flags honoured, or a string read as a JavaScript regular
   * expression, searched anywhere in the name), and every adapter when
   * `adapters` is true. Everything else is frozen. `'all'` trains every base
   * parameter. Returns the trainable names.
   */
  async setTrainable(options: { patterns?: (string | RegExp)[] | 'all'; adapters?: boolean }): Promise<string[]> {
    const patterns = options.patterns === 'all' ? [/^/] : (options.patterns ?? []);
    check(Array.isArray(patterns), "setTrainable: patterns must be an array or 'all'");
    const tests = patterns.map((p) => {
      if (p instanceof RegExp) return new RegExp(p.source, p.flags.replace(/[gy]/g, ''));
      check(typeof p === 'string', `setTrainable: pattern ${String(p)} is not a string or RegExp`);
      try {
        return new RegExp(p);
      } catch {
        throw new PoserError('E_ARG', `invalid parameter pattern '${p}'`);
      }
    });
    const adapters = options.adapters ?? false;
    // Resolved here to explicit names: the native side takes names, not patterns.
    return this.enqueue('setTrainable', async () => {
      const { parameters } = await this.native.parameterNames();
      const names = parameters.filter((n) => tests.some((re) => re.test(n)));
      return this.native.setTrainable(names, adapters);
    });
  }

  /** LoRA on linear modules (HF names such as `model.layers.0.self_attn.q_proj`): W x + (alpha/rank) B A x. */
  async addLora(options: { modules: string[]; rank?: number; alpha?: number; seed?: number }): Promise<void> {
    const rank = options.rank ?? 8;
    check(options.modules.length > 0, 'addLora: at least one module is needed');
    check(Number.isInteger(rank) && rank > 0, `addLora: rank must be a positive integer, got ${rank}`);
    const alpha = options.alpha ?? 2 * rank;
    check(Number.isFinite(alpha), `addLora: alpha must be finite, got ${alpha}`);
    return this.enqueue('addLora', () => this.native.addLora(options.modules, rank, alpha, options.seed ?? 0));
  }

  /**
   * The parallel low-rank MLP adapter: mlp_out = mlp(x) + alpha (x A B), with x
   * the MLP input, A ~ N(0, 1) seeded and B = 0 (so training starts from the
   * unchanged model).
   */
  async addMlpAdapter(options: { layer: number; rank?: number; alpha?: number; seed?: number }): Promise<void> {
    const { layer } = options;
    check(Number.isInteger(layer) && layer >= 0 && layer < this.numLayers, `addMlpAdapter: layer ${layer} out of range (the model has ${this.numLayers} layers)`);
    const rank = options.rank ?? 8;
    check(Number.isInteger(rank) && rank > 0, `addMlpAdapter: rank must be a positive integer, got ${rank}`);
    const alpha = options.alpha ?? 2;
    check(Number.isFinite(alpha), `addMlpAdapter: alpha must be finite, got ${alpha}`);
    return this.enqueue('addMlpAdapter', () => this.native.addMlpAdapter(layer, rank, alpha, options.seed ?? 0));
  }

  /** Removes every adapter (LoRA and MLP) added to the model. */
  async removeAdapters(): Promise<void> {
    return this.enqueue('removeAdapters', () => this.native.removeAdapters());
  }

  /** AdamW (default) or SGD over the trainable set; rebuilt when that set changes. */
  async configureOptimizer(options: OptimizerOptions): Promise<void> {
    const parsed = OptimizerSchema.safeParse(options);
    if (!parsed.success) throw new PoserError('E_ARG', zodMessage(parsed.error, 'optimizer'));
    const o = parsed.data;
    return this.enqueue('configureOptimizer', () =>
      this.native.configureOptimizer({ kind: o.kind, lr: o.lr, beta1: o.betas[0], beta2: o.betas[1], eps: o.eps, weightDecay: o.weightDecay, momentum: o.momentum, nesterov: o.nesterov }),
    );
  }

  /** Changes the learning rate of the configured optimizer, keeping its state (for warm-up or decay schedules). */
  async setLearningRate(lr: number): Promise<void> {
    check(Number.isFinite(lr) && lr > 0, `learning rate must be a finite number > 0, got ${lr}`);
    return this.enqueue('setLearningRate', () => this.native.setLearningRate(lr));
  }

  private lowerLoss(batch: EncodedBatch, loss: Loss): RawLoss {
    if (loss.kind === 'answer') {
      check(loss.targets.length === batch.batch, `loss: ${loss.targets.length} targets for ${batch.batch} rows`);
      return { kind: 'answer', targets: Int32Array.from(loss.targets.map((t) => this.tokenId(t))) };
    }
    check(loss.kind === 'lm', `loss: unknown kind '${(loss as { kind: string }).kind}' (expected 'answer' or 'lm')`);
    const mask = new Uint8Array(batch.batch * batch.length);
    batch.lengths.forEach((len, b) => {
      const rowMask = loss.lossMask?.[b];
      if (loss.lossMask) check(rowMask && rowMask.length === len, `loss.lossMask[${b}] must have ${len} entries (the row's tokens)`);
      for (let t = 1; t < len; t++) mask[b * batch.length + batch.length - len + t] = rowMask ? (rowMask[t] ? 1 : 0) : 1;
    });
    return { kind: 'lm', lossMask: mask };
  }

  private trainRequest(input: Input, loss: Loss, options: TrainOptions) {
    const batch = this.encode(input);
    const ops = lowerInterventions(options.interventions ?? [], batch, this.dims);
    if (options.maxGradNorm !== undefined)
      check(Number.isFinite(options.maxGradNorm) && options.maxGradNorm > 0, `maxGradNorm must be > 0, got ${options.maxGradNorm}`);
    return { ...this.raw(batch), loss: this.lowerLoss(batch, loss), ops, maxGradNorm: options.maxGradNorm ?? 0 };
  }

  /** One optimizer step: zero gradients, forward, backward, clip, step. */
  async trainStep(input: Input, loss: Loss, options: TrainOptions = {}): Promise<{ loss: number; gradNorm: number }> {
    const req = this.trainRequest(input, loss, options);
    return this.enqueue('trainStep', () => this.native.trainStep(req));
  }

  /** The loss, with gradients accumulated into the trainable parameters. */
  async backward(input: Input, loss: Loss, options: TrainOptions = {}): Promise<number> {
    const req = this.trainRequest(input, loss, options);
    return this.enqueue('backward', () => this.native.backward(req));
  }

  /** Sets the gradients of every parameter to zero. */
  async zeroGrad(): Promise<void> {
    return this.enqueue('zeroGrad', () => this.native.zeroGrad());
  }

  /** The loss without gradients. */
  async evaluateLoss(input: Input, loss: Loss, options: TrainOptions = {}): Promise<number> {
    const req = this.trainRequest(input, loss, options);
    return this.enqueue('evaluateLoss', () => this.native.evaluateLoss(req));
  }

  // ------------------------------------------------------------ parameters

  /** Names of all parameters (HF names) and of the adapters. */
  async parameterNames(): Promise<{ parameters: string[]; adapters: string[] }> {
    return this.enqueue('parameterNames', () => this.native.parameterNames());
  }

  /** A float32 copy of a parameter. */
  async parameter(name: string): Promise<Float32NdArray> {
    return view(await this.enqueue('parameter', () => this.native.getParameter(name)));
  }

  /** A float32 copy of a parameter's gradient (zeros when it has none). */
  async gradient(name: string): Promise<Float32NdArray> {
    return view(await this.enqueue('gradient', () => this.native.getGrad(name)));
  }

  /** Overwrites a parameter (shape must match). */
  async setParameter(name: string, value: Float32NdArray | { data: Float32Array; shape: number[] }): Promise<void> {
    const data = Float32Array.from(value.data as Float32Array);
    data.forEach((x, i) => check(Number.isFinite(x), `setParameter('${name}'): value[${i}] is not finite`));
    const shape = [...value.shape];
    return this.enqueue('setParameter', () => this.native.setParameter(name, data, shape));
  }

  /**
   * Saves the model into directory `dir` in Hugging Face layout
   * (config.json, model.safetensors, and the tokenizer files it was loaded
   * with), replacing the whole directory atomically: after a crash at any
   * instant `dir` holds the previous model or this one, never a mix, and no
   * checkpoint file of the previous model (shards, index, tokenizer,
   * generation config) survives. Other files in `dir` (notes, adapters) are
   * carried into the new directory. `dir` must be absent, empty, or a model
   * directory (holding config.json); anything else is refused with E_STATE.
   * A second save to the same `dir` while one runs fails with E_STATE.
   */
  async save(dir: string, options: SaveOptions = {}): Promise<void> {
    check(typeof dir === 'string' && dir.length > 0, `save: the directory must be a non-empty string, got ${describe(dir)}`);
    const adapters = options.adapters ?? 'merge';
    check(adapters === 'merge' || adapters === 'drop', `save: adapters must be 'merge' or 'drop', got ${describe(adapters)}`);
    const metadata = stringRecord(options.metadata ?? {}, 'save: metadata');
    const files = options.files ?? {};
    for (const name of Object.keys(files)) {
      check(/^[^/\\]+$/.test(name) && name !== '.' && name !== '..', `save: files: '${name}' must be a plain file name`);
      check(!MODEL_FILES.has(name), `save: files: '${name}' is written by the save itself`);
      const data = files[name];
      check(typeof data === 'string' || data instanceof Uint8Array, `save: files: '${name}' must be a string or a Uint8Array`);
    }
    const config = JSON.stringify({ ...llamaConfigToJson(this.config), torch_dtype: this.dtype }, null, 2) + '\n';
    const content = adapters === 'merge' ? 'merged' : 'base';
    await replaceDirectory(
      dir,
      async (tmp, previous) => {
        if (previous) for (const name of readdirSync(previous)) if (!isCheckpointFile(name) && !(name in files)) linkTree(join(previous, name), join(tmp, name));
        await this.enqueue('save', () => this.native.save(join(tmp, 'model.safetensors'), content, { format: 'pt', ...metadata }));
        writeFileSync(join(tmp, 'config.json'), config);
        for (const [name, data] of Object.entries(this.tokenizerFiles)) writeFileSync(join(tmp, name), data);
        for (const [name, data] of Object.entries(files)) writeFileSync(join(tmp, name), data);
      },
      {
        checkReplaceable: (target) => {
          if (!existsSync(join(target, 'config.json')))
            throw new PoserError('E_STATE', `save: ${dir} is not empty and holds no config.json; save() replaces the whole directory, so it only replaces a model directory or an empty one`);
        },
      },
    );
  }

  /** Saves only the adapters into one safetensors file (temporary file, fsync, rename). */
  async saveAdapters(path: string, metadata: Record<string, string> = {}): Promise<void> {
    check(typeof path === 'string' && path.length > 0, `saveAdapters: the path must be a non-empty string, got ${describe(path)}`);
    const meta = stringRecord(metadata, 'saveAdapters: metadata');
    removeStaleTemporaries(path);
    return this.enqueue('saveAdapters', () => this.native.save(path, 'adapters', meta));
  }

  // ------------------------------------------------------------ lifetime

  /** Whether {@link Model.dispose} was called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Frees the native model once pending calls finish; later calls reject with E_DISPOSED. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.queue.then(() => this.native.dispose());
  }

  /** Disposes the model at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** The GGUF file's own tokenizer, or none when its kind is not supported (the model still runs on token ids). */
function ggufTokenizerOrNone(info: GgufInfo, source: string): Tokenizer | undefined {
  try {
    return ggufTokenizer(info, source);
  } catch (error) {
    if (error instanceof PoserError && error.code === 'E_UNSUPPORTED') return undefined;
    throw error;
  }
}

/** softmax(logits[b]) at the given token ids: [B][ids]. */
export function softmaxPick(logits: Float32NdArray, ids: number[]): number[][] {
  const [b, v] = logits.shape;
  const out: number[][] = [];
  for (let i = 0; i < b; i++) {
    let max = -Infinity;
    for (let j = 0; j < v; j++) max = Math.max(max, logits.get(i, j));
    let sum = 0;
    for (let j = 0; j < v; j++) sum += Math.exp(logits.get(i, j) - max);
    out.push(ids.map((id) => Math.exp(logits.get(i, id) - max) / sum));
  }
  return out;
}
