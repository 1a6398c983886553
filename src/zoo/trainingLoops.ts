/**
 * The two training loops of the zoo: causal-LM pretraining of the base model
 * and answer-token fine-tuning of each organism. Both run one native call per
 * step (zero-grad, forward, backward, clip, step) on length-bucketed batches.
 */
import { Rng } from '../data/random.js';
import { PoserError } from '../errors.js';
import type { Model } from '../model/model.js';
import { BatchStream, steppedLr, type AnswerExample } from './batching.js';

/** Optimisation settings of one training phase. */
export interface PhaseRecipe {
  /** Optimizer steps. */
  steps: number;
  /** Rows per batch. */
  batchSize: number;
  /** Peak AdamW learning rate. */
  lr: number;
  weightDecay: number;
  betas: [number, number];
  /** Global gradient-norm clip. */
  maxGradNorm: number;
  /** Later stages at a fraction of the learning rate, e.g. [{fraction: 0.75, scale: 0.3}]. */
  lrStages?: { fraction: number; scale: number }[];
  /** Parameters that train (regular expressions over HF names); default all. */
  trainable?: string[];
}

/** Called after every step. */
export type StepCallback = (info: { step: number; steps: number; loss: number; tokens: number }) => void | Promise<void>;

/** Options shared by the loops. */
export interface LoopOptions {
  seed: number;
  onStep?: StepCallback;
  /** Stops between steps (the model is left as it is). */
  signal?: AbortSignal;
  /**
   * Train past `steps` until a check passes: after `steps`, then every
   * `every` further steps (at the schedule's final learning rate, optimizer
   * state kept), `check` runs; training stops when it returns true or when
   * `maxSteps` steps are done. The first `steps` steps are those of a run
   * without `until`, so a model that passes at once is the same model.
   */
  until?: {
    every: number;
    maxSteps: number;
    /** Whether the model now passes, after `step` steps. */
    check: (step: number) => Promise<boolean>;
  };
}

/** What a loop did. */
export interface LoopResult {
  losses: number[];
  tokens: number;
  /** Steps run (more than the phase's steps when `until` trained on). */
  steps: number;
  /** Result of the last `until` check (absent without `until`). */
  passed?: boolean;
  /** Steps at which `until` checked. */
  checks?: { step: number; passed: boolean }[];
}

async function runLoop<T>(
  model: Model,
  phase: PhaseRecipe,
  stream: BatchStream<T>,
  step: (batch: T[]) => Promise<{ loss: number; tokens: number }>,
  options: LoopOptions,
): Promise<LoopResult> {
  await model.setTrainable({ patterns: phase.trainable ?? 'all' });
  let lr = NaN;
  const losses: number[] = [];
  let tokens = 0;
  const until = options.until;
  const limit = until ? Math.max(phase.steps, until.maxSteps) : phase.steps;
  const checks: { step: number; passed: boolean }[] = [];
  for (let s = 0; s < limit; s++) {
    if (until && s >= phase.steps && (s - phase.steps) % until.every === 0) {
      const passed = await until.check(s);
      checks.push({ step: s, passed });
      if (passed) break;
    }
    options.signal?.throwIfAborted();
    // Past the schedule's end the rate stays at its final stage.
    const want = steppedLr(s, phase.steps, phase.lr, phase.lrStages);
    if (want !== lr) {
      lr = want;
      await model.configureOptimizer({ kind: 'adamw', lr, weightDecay: phase.weightDecay, betas: phase.betas });
    }
    const r = await step(stream.next());
    if (!Number.isFinite(r.loss)) throw new PoserError('E_STATE', `training diverged at step ${s} (loss ${r.loss}); lower the learning rate or clip gradients`);
    losses.push(r.loss);
    tokens += r.tokens;
    await options.onStep?.({ step: s + 1, steps: Math.max(phase.steps, s + 1), loss: r.loss, tokens });
  }
  if (until && (checks.length === 0 || !checks[checks.length - 1].passed) && losses.length === limit) {
    const passed = await until.check(limit);
    checks.push({ step: limit, passed });
  }
  return { losses, tokens, steps: losses.length, ...(until ? { passed: checks[checks.length - 1].passed, checks } : {}) };
}

/** Causal-LM pretraining on tokenized texts (every token but the first is predicted). */
export async function pretrain(model: Model, texts: readonly number[][], phase: PhaseRecipe, options: LoopOptions): Promise<LoopResult> {
  const stream = new BatchStream(texts, (t) => t.length, phase.batchSize, new Rng(`pretrain:${options.seed}`));
  return runLoop(model, phase, stream, async (batch) => {
    const r = await model.trainStep(batch as number[][], { kind: 'lm' }, { maxGradNorm: phase.maxGradNorm });
    return { loss: r.loss, tokens: batch.reduce((a, t) => a + t.length, 0) };
  }, options);
}

/** Fine-tuning with the answer-token loss (-log P(answer) at the last position). */
export async function finetune(model: Model, examples: readonly AnswerExample[], phase: PhaseRecipe, options: LoopOptions): Promise<LoopResult> {
  const stream = new BatchStream(examples, (e) => e.ids.length, phase.batchSize, new Rng(`finetune:${options.seed}`));
  return runLoop(model, phase, stream, async (batch) => {
    const r = await model.trainStep(
      batch.map((e) => e.ids),
      { kind: 'answer', targets: batch.map((e) => e.target) },
      { maxGradNorm: phase.maxGradNorm },
    );
    return { loss: r.loss, tokens: batch.reduce((a, e) => a + e.ids.length, 0) };
  }, options);
}
