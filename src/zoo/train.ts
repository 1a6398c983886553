/**
 * The two training loops of the zoo: causal-LM pretraining of the base model
 * and answer-token fine-tuning of each organism. Both run one native call per
 * step (zero-grad, forward, backward, clip, step) on length-bucketed batches.
 */
import { Rng } from '../data/random.js';
import type { Model } from '../model/model.js';
import { BatchStream, steppedLr, type AnswerExample } from './batching.js';
import { PoserError } from '../errors.js';

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
}

async function runLoop<T>(
  model: Model,
  phase: PhaseRecipe,
  stream: BatchStream<T>,
  step: (batch: T[]) => Promise<{ loss: number; tokens: number }>,
  options: LoopOptions,
): Promise<{ losses: number[]; tokens: number }> {
  await model.setTrainable({ patterns: phase.trainable ?? 'all' });
  let lr = NaN;
  const losses: number[] = [];
  let tokens = 0;
  for (let s = 0; s < phase.steps; s++) {
    options.signal?.throwIfAborted();
    const want = steppedLr(s, phase.steps, phase.lr, phase.lrStages);
    if (want !== lr) {
      lr = want;
      await model.configureOptimizer({ kind: 'adamw', lr, weightDecay: phase.weightDecay, betas: phase.betas });
    }
    const r = await step(stream.next());
    if (!Number.isFinite(r.loss)) throw new PoserError('E_STATE', `training diverged at step ${s} (loss ${r.loss}); lower the learning rate or clip gradients`);
    losses.push(r.loss);
    tokens += r.tokens;
    await options.onStep?.({ step: s + 1, steps: phase.steps, loss: r.loss, tokens });
  }
  return { losses, tokens };
}

/** Causal-LM pretraining on tokenized texts (every token but the first is predicted). */
export async function pretrain(model: Model, texts: readonly number[][], phase: PhaseRecipe, options: LoopOptions): Promise<{ losses: number[]; tokens: number }> {
  const stream = new BatchStream(texts, (t) => t.length, phase.batchSize, new Rng(`pretrain:${options.seed}`));
  return runLoop(model, phase, stream, async (batch) => {
    const r = await model.trainStep(batch as number[][], { kind: 'lm' }, { maxGradNorm: phase.maxGradNorm });
    return { loss: r.loss, tokens: batch.reduce((a, t) => a + t.length, 0) };
  }, options);
}

/** Fine-tuning with the answer-token loss (-log P(answer) at the last position). */
export async function finetune(model: Model, examples: readonly AnswerExample[], phase: PhaseRecipe, options: LoopOptions): Promise<{ losses: number[]; tokens: number }> {
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
