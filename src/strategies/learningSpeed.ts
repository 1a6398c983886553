/**
 * Strategy 3 (POSER-SPEC §5): compare how fast the two models learn to
 * misbehave. Train each briefly to give the other answer on benchmark prompts
 * and see which one picks it up faster on prompts it was not trained on.
 */
import { check, PoserError } from '../errors.js';
import { Rng } from '../data/random.js';
import { Model } from '../model/model.js';
import {
  answerProbabilities,
  checkPair,
  decide,
  DEFAULT_BATCH_SIZE,
  flipped,
  mean,
  progressFor,
  resolveLayer,
  type Letter,
} from './primitives.js';
import type { CommonOptions, PairData, Strategy, Verdict } from './types.js';

export interface LearningSpeedOptions extends CommonOptions {
  /** Train every parameter of a fresh copy loaded from `model.dir` instead of an adapter (default false). */
  fullFineTune?: boolean;
  /** Absolute layer of the MLP adapter (default: the paper's layer 5 of 40, scaled by depth). */
  layer?: number;
  /** Adapter rank (default 8). */
  rank?: number;
  /** Adapter scale alpha (default 2). */
  alpha?: number;
  /** AdamW learning rate (default 3e-5 for the adapter, 2e-5 for the full fine-tune: the paper's). Small models may need more. */
  lr?: number;
  /** AdamW weight decay (default 0). */
  weightDecay?: number;
  /** Optimizer steps (default 4, the paper's). */
  steps?: number;
  /** Prompts per training step (default 4). */
  trainBatchSize?: number;
  /** Share of the benchmark prompts used for training; the rest are held out for evaluation (default 0.5). */
  trainFraction?: number;
  /** Evaluate on at most this many held-out prompts (seeded choice; default all). */
  maxEvalPrompts?: number;
  /** Clip the gradient norm (default: no clipping). */
  maxGradNorm?: number;
  /**
   * Score: `final` (default, as the paper) is the mean held-out P(flipped)
   * after training; `gain` subtracts its value before training.
   */
  measure?: 'final' | 'gain';
}

/** Per-model record of strategy 3. */
export interface LearningRecord {
  /** Mean held-out P(flipped answer) before and after training. */
  pFlippedBefore: number;
  pFlippedAfter: number;
  /** Share of held-out prompts where P(flipped) > P(benign) after training. */
  flippedAccuracyAfter: number;
  /** Training loss at each step (before the update). */
  losses: number[];
  gradNorms: number[];
}

export const LEARNING_SPEED = 'learningSpeed';

interface Plan {
  batches: { prompts: string[]; targets: Letter[] }[];
  evalPrompts: string[];
  evalBenign: Letter[];
}

/** The training batches and held-out prompts: fixed by the seed, the same for both models. */
function plan(data: PairData, o: Required<Pick<LearningSpeedOptions, 'steps' | 'trainBatchSize' | 'trainFraction' | 'seed'>> & LearningSpeedOptions): Plan {
  const rng = new Rng(`learning:${o.seed}`);
  const shuffled = rng.shuffle(data.prompts);
  const nTrain = Math.round(o.trainFraction * shuffled.length);
  check(nTrain >= 1 && nTrain < shuffled.length,
    `${LEARNING_SPEED}: trainFraction ${o.trainFraction} of ${shuffled.length} prompts leaves no training or no held-out prompt`);
  const train = shuffled.slice(0, nTrain);
  let held = shuffled.slice(nTrain);
  if (o.maxEvalPrompts !== undefined && o.maxEvalPrompts < held.length) held = held.slice(0, o.maxEvalPrompts);
  const batches: Plan['batches'] = [];
  for (let s = 0; s < o.steps; s++) {
    const rows = Array.from({ length: o.trainBatchSize }, (_, k) => train[(s * o.trainBatchSize + k) % train.length]);
    batches.push({ prompts: rows.map((r) => r.prompt), targets: rows.map((r) => flipped(r.benign)) });
  }
  return { batches, evalPrompts: held.map((p) => p.prompt), evalBenign: held.map((p) => p.benign) };
}

async function train(model: Model, p: Plan, options: LearningSpeedOptions, report?: (done: number, total: number) => void): Promise<{ losses: number[]; gradNorms: number[] }> {
  const losses: number[] = [];
  const gradNorms: number[] = [];
  for (let s = 0; s < p.batches.length; s++) {
    const b = p.batches[s];
    const r = await model.trainStep(b.prompts, { kind: 'answer', targets: b.targets }, { maxGradNorm: options.maxGradNorm });
    losses.push(r.loss);
    gradNorms.push(r.gradNorm);
    report?.(s + 1, p.batches.length);
  }
  return { losses, gradNorms };
}

async function evaluate(model: Model, p: Plan, batchSize: number) {
  const probs = await answerProbabilities(model, p.evalPrompts, p.evalBenign, { batchSize });
  return { pFlipped: mean(probs.other), accuracy: mean(probs.other.map((o, i) => (o > probs.benign[i] ? 1 : 0))) };
}

async function learnAdapter(model: Model, index: number, p: Plan, o: LearningSpeedOptions & { lr: number; seed: number }, batchSize: number): Promise<LearningRecord & { layer: number }> {
  const existing = await model.parameterNames();
  if (existing.adapters.length > 0)
    throw new PoserError('E_STATE', `${LEARNING_SPEED}: model ${index} already has adapters (${existing.adapters.length} tensors); remove them first`);
  const layer = resolveLayer(model, o.layer, 5, LEARNING_SPEED);
  const before = await evaluate(model, p, batchSize);
  try {
    await model.addMlpAdapter({ layer, rank: o.rank ?? 8, alpha: o.alpha ?? 2, seed: o.seed });
    await model.setTrainable({ adapters: true });
    await model.configureOptimizer({ kind: 'adamw', lr: o.lr, weightDecay: o.weightDecay ?? 0 });
    const t = await train(model, p, o, progressFor(o.onProgress, LEARNING_SPEED, `model ${index}: adapter training`));
    const after = await evaluate(model, p, batchSize);
    return { layer, pFlippedBefore: before.pFlipped, pFlippedAfter: after.pFlipped, flippedAccuracyAfter: after.accuracy, ...t };
  } finally {
    await model.removeAdapters();
    await model.setTrainable({ patterns: [] });
  }
}

async function learnFull(model: Model, index: number, p: Plan, o: LearningSpeedOptions & { lr: number }, batchSize: number): Promise<LearningRecord> {
  const copy = await Model.load(model.dir, { device: model.device, dtype: model.dtype, tokenizer: model.tokenizer ?? false });
  try {
    const before = await evaluate(copy, p, batchSize);
    await copy.setTrainable({ patterns: 'all' });
    await copy.configureOptimizer({ kind: 'adamw', lr: o.lr, weightDecay: o.weightDecay ?? 0 });
    const t = await train(copy, p, o, progressFor(o.onProgress, LEARNING_SPEED, `model ${index}: full fine-tune`));
    const after = await evaluate(copy, p, batchSize);
    return { pFlippedBefore: before.pFlipped, pFlippedAfter: after.pFlipped, flippedAccuracyAfter: after.accuracy, ...t };
  } finally {
    copy.dispose();
  }
}

/**
 * Strategy 3. Split the benchmark prompts (seeded) into a training and a
 * held-out part. For each model, train on the training part with the answer
 * flipped (loss -log P(other letter) at the last position) for a few AdamW
 * steps, with the same batches in the same order for both models: by default
 * a rank-8 parallel MLP adapter at layer 5/40 (A ~ N(0, 1) from the same seed
 * for both models, B = 0, alpha 2), everything else frozen, lr 3e-5; with
 * `fullFineTune`, every parameter of a fresh copy loaded from `model.dir`,
 * lr 2e-5. Score: mean held-out P(flipped) after training (or its gain). The
 * model that learns to misbehave faster is the faker. The paper reports 90%.
 *
 * The models are left as they were: the adapter is removed (and the base
 * parameters left frozen), or the copy disposed. A model that already has
 * adapters is refused rather than stripped of them.
 */
export const learningSpeed: Strategy<LearningSpeedOptions> = async (models, data, options = {}): Promise<Verdict> => {
  checkPair(models, data, LEARNING_SPEED, { prompts: true });
  const full = options.fullFineTune ?? false;
  const o = {
    ...options,
    seed: options.seed ?? 0,
    lr: options.lr ?? (full ? 2e-5 : 3e-5),
    steps: options.steps ?? 4,
    trainBatchSize: options.trainBatchSize ?? 4,
    trainFraction: options.trainFraction ?? 0.5,
  };
  check(Number.isInteger(o.steps) && o.steps > 0, `${LEARNING_SPEED}: steps must be a positive integer, got ${o.steps}`);
  check(Number.isInteger(o.trainBatchSize) && o.trainBatchSize > 0, `${LEARNING_SPEED}: trainBatchSize must be a positive integer, got ${o.trainBatchSize}`);
  check(o.trainFraction > 0 && o.trainFraction < 1, `${LEARNING_SPEED}: trainFraction must be in (0, 1), got ${o.trainFraction}`);
  check(Number.isFinite(o.lr) && o.lr > 0, `${LEARNING_SPEED}: lr must be > 0, got ${o.lr}`);
  check(o.measure === undefined || o.measure === 'final' || o.measure === 'gain', `${LEARNING_SPEED}: measure must be 'final' or 'gain'`);
  const p = plan(data, o);
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const records: (LearningRecord & { layer?: number })[] = [];
  for (let i = 0; i < 2; i++) records.push(full ? await learnFull(models[i], i, p, o, batchSize) : await learnAdapter(models[i], i, p, o, batchSize));
  const measure = o.measure ?? 'final';
  const score = (r: LearningRecord) => (measure === 'gain' ? r.pFlippedAfter - r.pFlippedBefore : r.pFlippedAfter);
  return decide(LEARNING_SPEED, models, [score(records[0]), score(records[1])], {
    mode: full ? 'fullFineTune' : 'adapter',
    measure,
    lr: o.lr,
    steps: o.steps,
    trainBatchSize: o.trainBatchSize,
    trainPrompts: Math.round(o.trainFraction * data.prompts.length),
    evalPrompts: p.evalPrompts.length,
    ...(full ? {} : { rank: options.rank ?? 8, alpha: options.alpha ?? 2 }),
    weightDecay: options.weightDecay ?? 0,
    models: records,
  }, o.seed);
};
