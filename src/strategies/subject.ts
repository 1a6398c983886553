/**
 * The blind handle a detection strategy computes with. A {@link Subject}
 * exposes what computing on a model needs (forward passes, captures, sweeps,
 * adapters and training, its shape and tokenizer) and nothing that names or
 * locates it: no directory, no config path, no name. Strategies receive
 * subjects, never models, so a verdict cannot depend on where a model sits
 * or what it is called.
 *
 * A subject may carry interventions that are prepended to every call it
 * makes (inference and training alike), and a read-out applied wherever
 * logits come back (forward, choice scores, sweeps): a map of the answer
 * letters' log-odds ({@link AnswerLogOddsMap}), then a bias added to chosen
 * tokens' logits. The benchmark calibrates a model's confidence with the
 * read-out: a log-odds map fitted by quantile matching and an equal bias on
 * the two answer letters ({@link answerBias}), which every strategy then
 * sees as part of the model.
 */
import { check, PoserError } from '../errors.js';
import { parseHook } from '../model/hooks.js';
import type { Intervention } from '../model/interventions.js';
import { Model, softmaxPick, type ForwardOptions, type ForwardOutput, type Input, type Loss, type OptimizerOptions, type TrainOptions } from '../model/model.js';
import type { Float32NdArray } from '../model/tensor.js';
import type { PoserTokenizer } from '../tokenizer/index.js';
import { applyAnswerMap, checkAnswerMap, type AnswerLogOddsMap } from './answerMap.js';

/** The final-norm hook: its output times the unembedding is the logits. */
export const FINAL_HOOK = 'ln_final.hook_normalized';

/** Options of {@link subject}. */
export interface SubjectOptions {
  /** Interventions prepended to every call the subject makes (forward, capture, sweep, training, loss). */
  interventions?: readonly Intervention[];
  /**
   * Added to these tokens' logits wherever logits come back (forward,
   * `scoreChoices`, sweeps). Training losses are computed natively without
   * it: it is a read-out calibration, not part of the trained model.
   */
  logitBias?: readonly LogitBias[];
  /**
   * A map of the log-odds of answer letter A against B (and optionally of
   * their share of the vocabulary), applied to the logits wherever they
   * come back, before the logit bias. Like the bias, a read-out: training
   * losses do not see it.
   */
  answerMap?: AnswerLogOddsMap;
}

/** A bias added to one token's logit. */
export interface LogitBias {
  token: string | number;
  bias: number;
}

/**
 * The same bias `b` on both answer letters: it moves probability between
 * the answer letters and the rest of the vocabulary and leaves the log-odds
 * of one letter against the other unchanged.
 */
export function answerBias(bias: number): LogitBias[] {
  return [
    { token: 'A', bias },
    { token: 'B', bias },
  ];
}

/** Adds `bias[id]` to every logit row (the last axis) of a contiguous array, in place. */
function addLogitBias(logits: Float32NdArray, bias: ReadonlyMap<number, number>): Float32NdArray {
  const width = logits.shape[logits.shape.length - 1];
  const rows = logits.size / width;
  check(logits.stride[logits.stride.length - 1] === 1 && logits.offset === 0 && logits.data.length === logits.size, 'subject: logits must be a contiguous array to take a logit bias');
  for (const [id, b] of bias) for (let r = 0; r < rows; r++) logits.data[r * width + id] += b;
  return logits;
}

/**
 * A logit temperature T as an intervention: the final normalised hidden
 * state is scaled by 1/T at every position. The logits are a bias-free
 * linear map of that state (`lm_head`), so they are scaled by 1/T exactly:
 * softmax(logits / T). T > 1 flattens the answer distribution, T < 1 sharpens it.
 */
export function logitTemperature(temperature: number): Intervention {
  check(Number.isFinite(temperature) && temperature > 0, `logitTemperature: the temperature must be a finite number > 0, got ${temperature}`);
  return { hook: FINAL_HOOK, op: 'scale', scale: 1 / temperature, positions: 'all' };
}

function copyMap(map: AnswerLogOddsMap): AnswerLogOddsMap {
  return map.mass === undefined ? { x: [...map.x], y: [...map.y] } : { x: [...map.x], y: [...map.y], mass: map.mass };
}

// A sweep reruns only the last position, so a prepended intervention must touch
// only that position. At the final hook this loses nothing: a sweep returns
// last-position logits only, and nothing downstream of the final norm mixes positions.
function forSweep(iv: Intervention, index: number): Intervention {
  if ((iv.positions ?? 'last') === 'last') return iv;
  if (iv.hook === FINAL_HOOK) return { ...iv, positions: 'last' };
  throw new PoserError('E_ARG',
    `subject: intervention ${index} (${iv.op} at ${iv.hook}) touches positions other than the last, so it cannot be applied in a sweep; use positions 'last' or the final hook`);
}

/** The only identity-free handle a strategy gets on a model. */
export class Subject {
  readonly #model: Model;
  readonly #pre: readonly Intervention[];
  readonly #bias: ReadonlyMap<number, number>;
  readonly #map: { map: AnswerLogOddsMap; a: number; b: number } | undefined;
  readonly numLayers: number;
  readonly hiddenSize: number;
  readonly vocabSize: number;

  /** Use {@link subject}. */
  constructor(model: Model, options: SubjectOptions = {}) {
    check(model instanceof Model, 'subject: expected a loaded Model');
    const pre = [...(options.interventions ?? [])];
    pre.forEach((iv, i) => {
      check(iv && typeof iv === 'object' && typeof iv.hook === 'string', `subject: interventions[${i}] must be an intervention object`);
      parseHook(iv.hook, model.numLayers);
    });
    const bias = new Map<number, number>();
    (options.logitBias ?? []).forEach((lb, i) => {
      check(lb && typeof lb === 'object' && Number.isFinite(lb.bias), `subject: logitBias[${i}] must be { token, bias } with a finite bias`);
      const id = model.tokenId(lb.token);
      bias.set(id, (bias.get(id) ?? 0) + lb.bias);
    });
    if (options.answerMap) checkAnswerMap(options.answerMap, 'subject: answerMap');
    this.#model = model;
    this.#pre = pre;
    this.#bias = bias;
    this.#map = options.answerMap && { map: copyMap(options.answerMap), a: model.tokenId('A'), b: model.tokenId('B') };
    this.numLayers = model.numLayers;
    this.hiddenSize = model.hiddenSize;
    this.vocabSize = model.vocabSize;
  }

  /** The tokenizer the prompts are encoded with (undefined when the model was loaded without one). */
  get tokenizer(): PoserTokenizer | undefined {
    return this.#model.tokenizer;
  }

  /** Whether the underlying model was disposed. */
  get isDisposed(): boolean {
    return this.#model.isDisposed;
  }

  /** The interventions prepended to every call (a copy). */
  get interventions(): Intervention[] {
    return [...this.#pre];
  }

  /** The id of a single-token piece (see `Model.tokenId`). */
  tokenId(piece: string | number): number {
    return this.#model.tokenId(piece);
  }

  // ------------------------------------------------------------ inference

  /** The logit bias by token id (a copy). */
  get logitBias(): Map<number, number> {
    return new Map(this.#bias);
  }

  /** The answer map, when the subject has one (a copy). */
  get answerMap(): AnswerLogOddsMap | undefined {
    return this.#map && copyMap(this.#map.map);
  }

  #readOut(logits: Float32NdArray): void {
    if (this.#map) applyAnswerMap(logits, this.#map.a, this.#map.b, this.#map.map);
    if (this.#bias.size) addLogitBias(logits, this.#bias);
  }

  /** A forward pass, the subject's interventions first and its read-out (answer map, logit bias) on the logits (see `Model.forward`). */
  async forward(input: Input, options: ForwardOptions = {}): Promise<ForwardOutput> {
    const out = await this.#model.forward(input, { ...options, interventions: [...this.#pre, ...(options.interventions ?? [])] });
    if (out.logits) this.#readOut(out.logits);
    return out;
  }

  /** Probabilities of single-token choices at the last position, [prompt][choice], over the whole vocabulary. */
  async scoreChoices(input: Input, choices: (string | number)[], options: { interventions?: readonly Intervention[] } = {}): Promise<number[][]> {
    if (!this.#bias.size && !this.#map) return this.#model.scoreChoices(input, choices, { interventions: [...this.#pre, ...(options.interventions ?? [])] });
    check(choices.length > 0, 'scoreChoices: at least one choice is needed');
    const ids = choices.map((c) => this.#model.tokenId(c));
    const { logits } = await this.forward(input, { logits: 'last', interventions: options.interventions });
    return softmaxPick(logits!, ids);
  }

  /** Activations at the given hooks (default the last position): hook -> [B, D]. */
  async capture(input: Input, hooks: string[], positions: Intervention['positions'] = 'last'): Promise<Record<string, Float32NdArray>> {
    check(hooks.length > 0, 'capture: at least one hook is needed');
    const captures: Intervention[] = hooks.map((hook) => ({ hook, op: 'capture', positions }));
    return (await this.forward(input, { logits: 'none', interventions: captures })).captures;
  }

  /** One batch under many last-position settings (see `Model.sweep`); the subject's interventions join every setting. */
  async sweep(input: Input, settings: readonly (readonly Intervention[])[]): ReturnType<Model['sweep']> {
    const pre = this.#pre.map(forSweep);
    const out = await this.#model.sweep(input, settings.map((s) => [...pre, ...s]));
    for (const r of out) this.#readOut(r.logits);
    return out;
  }

  // ------------------------------------------------------------ training

  /** Chooses the trainable parameters (see `Model.setTrainable`). */
  setTrainable(options: { patterns?: (string | RegExp)[] | 'all'; adapters?: boolean }): Promise<string[]> {
    return this.#model.setTrainable(options);
  }

  /** Adds a low-rank MLP adapter (see `Model.addMlpAdapter`). */
  addMlpAdapter(options: { layer: number; rank?: number; alpha?: number; seed?: number }): Promise<void> {
    return this.#model.addMlpAdapter(options);
  }

  /** Adds LoRA adapters (see `Model.addLora`). */
  addLora(options: { modules: string[]; rank?: number; alpha?: number; seed?: number }): Promise<void> {
    return this.#model.addLora(options);
  }

  /** Removes every adapter. */
  removeAdapters(): Promise<void> {
    return this.#model.removeAdapters();
  }

  /** Sets up the optimizer (see `Model.configureOptimizer`). */
  configureOptimizer(options: OptimizerOptions): Promise<void> {
    return this.#model.configureOptimizer(options);
  }

  /** Changes the optimizer's learning rate. */
  setLearningRate(lr: number): Promise<void> {
    return this.#model.setLearningRate(lr);
  }

  #train(options: TrainOptions): TrainOptions {
    return { ...options, interventions: [...this.#pre, ...(options.interventions ?? [])] };
  }

  /** One optimizer step, the subject's interventions first (see `Model.trainStep`). */
  trainStep(input: Input, loss: Loss, options: TrainOptions = {}): Promise<{ loss: number; gradNorm: number }> {
    return this.#model.trainStep(input, loss, this.#train(options));
  }

  /** The loss, with gradients accumulated (see `Model.backward`). */
  backward(input: Input, loss: Loss, options: TrainOptions = {}): Promise<number> {
    return this.#model.backward(input, loss, this.#train(options));
  }

  /** Sets every gradient to zero. */
  zeroGrad(): Promise<void> {
    return this.#model.zeroGrad();
  }

  /** The loss without gradients (see `Model.evaluateLoss`). */
  evaluateLoss(input: Input, loss: Loss, options: TrainOptions = {}): Promise<number> {
    return this.#model.evaluateLoss(input, loss, this.#train(options));
  }

  /** Names of the parameters (HF names, the same for every model of an architecture) and of the adapters. */
  parameterNames(): Promise<{ parameters: string[]; adapters: string[] }> {
    return this.#model.parameterNames();
  }

  /**
   * A fresh, separately trainable copy of the model as stored on disk (same
   * device, dtype, tokenizer and prepended interventions), for work that
   * changes weights (a full fine-tune). Dispose it when done.
   */
  async fork(): Promise<Subject & { dispose(): void }> {
    const m = this.#model;
    const copy = await Model.load(m.dir, { device: m.device, dtype: m.dtype, tokenizer: m.tokenizer ?? false });
    const s = new Subject(copy, { interventions: this.#pre, logitBias: [...this.#bias].map(([token, bias]) => ({ token, bias })), answerMap: this.answerMap }) as Subject & { dispose(): void };
    s.dispose = () => copy.dispose();
    return s;
  }

  /** No identity to show: a subject serialises to its shape alone. */
  toJSON(): Record<string, number> {
    return { numLayers: this.numLayers, hiddenSize: this.hiddenSize, vocabSize: this.vocabSize };
  }
}

/** Wraps a model in a blind {@link Subject}, optionally with interventions prepended to every call. */
export function subject(model: Model, options: SubjectOptions = {}): Subject {
  return new Subject(model, options);
}

/** Throws unless `x` is a {@link Subject} (strategies never take models directly). */
export function checkSubject(x: unknown, what: string): asserts x is Subject {
  if (x instanceof Model) throw new PoserError('E_ARG', `${what}: got a Model; strategies take blind subjects: wrap it with subject(model)`);
  if (!(x instanceof Subject)) throw new PoserError('E_ARG', `${what}: expected a Subject (subject(model))`);
  if (x.isDisposed) throw new PoserError('E_DISPOSED', `${what}: the subject's model has been disposed`);
}
