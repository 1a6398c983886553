import { existsSync, mkdirSync } from 'node:fs';
import { copyFileAtomic, writeFileAtomic } from '../io/atomic.js';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { PoserError, check } from '../errors.js';
import { binding, type NativeModel, type RawBatch, type RawLoss } from '../native/binding.js';
import { loadTokenizer, type PoserTokenizer as Tokenizer } from '../tokenizer/index.js';
import { absolutePositions, padLeft, type EncodedBatch } from './batch.js';
import { llamaConfigToJson, readLlamaConfig, type LlamaConfig } from './config.js';
import { findGgufFile, GGUF_TOKENIZER_ARRAYS, ggufLlamaConfig, ggufTokenizer, readGguf, type GgufInfo } from './gguf.js';
import { hookNames } from './hooks.js';
import { captureKey, lowerInterventions, type Intervention } from './interventions.js';
import { view, type Float32NdArray } from './tensor.js';

export type Dtype = 'float32' | 'float16' | 'bfloat16';

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
  device: z.string().regex(/^(cpu|cuda(:\d+)?)$/, "device must be 'cpu' or 'cuda:N'").default('cpu'),
  dtype: z.enum(['float32', 'float16', 'bfloat16']).default('float32'),
  mmap: z.boolean().default(false),
});

/** Prompts as text, rows of token ids, or an already padded batch. */
export type Input = string[] | number[][] | EncodedBatch;

/** Which positions get logits: the last (default), every position, none, or indices per row. */
export type LogitsRequest = 'last' | 'all' | 'none' | number[];

export interface ForwardOptions {
  logits?: LogitsRequest;
  interventions?: readonly Intervention[];
}

export interface ForwardOutput {
  /** [B, V] for 'last', [B, K, V] for indices, [B, T, V] for 'all' (padded positions included). */
  logits?: Float32NdArray;
  /** Captures by name (default: hook name): [B, D] at 'last', else [B, K, D] / [B, T, D]. */
  captures: Record<string, Float32NdArray>;
  /** The batch as run (padding, lengths). */
  batch: EncodedBatch;
}

export type Loss =
  | { kind: 'answer'; /** token ids or single-token strings predicted at the last position, one per row */ targets: (number | string)[] }
  | { kind: 'lm'; /** per row, 1 for tokens to predict (aligned to the row's real tokens); default: all but the first */ lossMask?: number[][] };

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

export interface TrainOptions {
  /** Clip the global gradient norm to this value (default: no clipping). */
  maxGradNorm?: number;
  interventions?: readonly Intervention[];
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
    const parsed = LoadOptionsSchema.safeParse({ device: options.device, dtype: options.dtype, mmap: options.mmap });
    if (!parsed.success) throw new PoserError('E_ARG', zodMessage(parsed.error, 'load options'));
    const { device, dtype, mmap } = parsed.data;
    check(typeof path === 'string' && path !== '', 'Model.load: path must be a non-empty string');
    const gguf = findGgufFile(path);
    const dir = gguf ? dirname(gguf) : path;
    const wantTokenizer = !options.tokenizer && options.tokenizer !== false;
    const hasTokenizerJson = existsSync(join(dir, 'tokenizer.json'));
    // A GGUF file without tokenizer.json beside it: its own vocabulary, where supported.
    const info = gguf ? await readGguf(gguf, { arrays: wantTokenizer && !hasTokenizerJson ? GGUF_TOKENIZER_ARRAYS : false }) : undefined;
    const config = gguf ? ggufLlamaConfig(info!, gguf) : readLlamaConfig(dir);
    let tokenizer: Tokenizer | undefined;
    if (options.tokenizer) tokenizer = options.tokenizer;
    else if (wantTokenizer && hasTokenizerJson) tokenizer = loadTokenizer(join(dir, 'tokenizer.json'));
    else if (wantTokenizer && info && info.metadata['tokenizer.ggml.model'] !== undefined) tokenizer = ggufTokenizerOrNone(info, gguf!);
    let native: NativeModel;
    try {
      native = await binding().loadModel(gguf ?? dir, config, { device, dtype, mmap, format: gguf ? 'gguf' : 'safetensors' });
    } catch (error) {
      throw PoserError.fromNative(error);
    }
    return new Model(native, config, dir, device, dtype, tokenizer);
  }

  /** Every hook point name, in call order. */
  hookNames(): string[] {
    return hookNames(this.numLayers);
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
      check(input && input.ids instanceof Int32Array, 'input must be prompts, rows of token ids or an EncodedBatch');
      return input;
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
      check(Number.isInteger(piece) && piece >= 0 && piece < this.vocabSize, `token id ${piece} out of range (vocab size ${this.vocabSize})`);
      return piece;
    }
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
    const ops = lowerInterventions(interventions, batch, this.numLayers, this.hiddenSize);
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
      const last = (iv.positions ?? 'last') === 'last';
      captures[captureKey(iv)] = last ? view(c, [c.shape[0], c.shape[2]]) : view(c);
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
      return lowerInterventions(ivs, batch, this.numLayers, this.hiddenSize);
    });
    const out = await this.enqueue('sweep', () => this.native.sweep({ ...this.raw(batch), settings: lowered }));
    return out.map((r, s) => {
      const captures: Record<string, Float32NdArray> = {};
      settings[s].forEach((iv, i) => {
        const c = r.captures[i];
        if (iv.op === 'capture' && c) captures[captureKey(iv)] = view(c, [c.shape[0], c.shape[2]]);
      });
      return { logits: view(r.logits!, [batch.batch, this.vocabSize]), captures };
    });
  }

  // ------------------------------------------------------------ training

  /**
   * Chooses what trains: parameters whose HF names match any pattern, and
   * every adapter when `adapters` is true. Everything else is frozen.
   * `'all'` trains every base parameter. Returns the trainable names.
   */
  async setTrainable(options: { patterns?: (string | RegExp)[] | 'all'; adapters?: boolean }): Promise<string[]> {
    const patterns = options.patterns === 'all' ? ['.*'] : (options.patterns ?? []).map((p) => (p instanceof RegExp ? p.source : p));
    patterns.forEach((p) => {
      try {
        new RegExp(p);
      } catch {
        throw new PoserError('E_ARG', `invalid parameter pattern '${p}'`);
      }
    });
    return this.enqueue('setTrainable', () => this.native.setTrainable(patterns, options.adapters ?? false));
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
    const ops = lowerInterventions(options.interventions ?? [], batch, this.numLayers, this.hiddenSize);
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
   * Saves the model in Hugging Face layout: model.safetensors and config.json
   * (each written to a temporary file and renamed), and tokenizer.json.
   */
  async save(dir: string, metadata: Record<string, string> = {}): Promise<void> {
    mkdirSync(dir, { recursive: true });
    await this.enqueue('save', () => this.native.save(join(dir, 'model.safetensors'), false, { format: 'pt', ...metadata }));
    writeFileAtomic(join(dir, 'config.json'), JSON.stringify({ ...llamaConfigToJson(this.config), torch_dtype: this.dtype }, null, 2) + '\n');
    const tokenizerPath = join(this.dir, 'tokenizer.json');
    if (existsSync(tokenizerPath) && join(dir, 'tokenizer.json') !== tokenizerPath) copyFileAtomic(tokenizerPath, join(dir, 'tokenizer.json'));
  }

  /** Saves only the adapters (safetensors, atomic). */
  async saveAdapters(path: string, metadata: Record<string, string> = {}): Promise<void> {
    return this.enqueue('saveAdapters', () => this.native.save(path, true, metadata));
  }

  // ------------------------------------------------------------ lifetime

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Frees the native model once pending calls finish; later calls reject with E_DISPOSED. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.queue.then(() => this.native.dispose());
  }

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
