/**
 * Progress of a zoo build in training steps, and its time left: the steps
 * left in each phase at that phase's measured speed. Before any fine-tune step
 * is measured, a fine-tune step is taken to cost a pretraining step scaled by
 * the batch sizes (the causal-LM loss costs about 1.7x the answer loss).
 */

/** The phases whose steps are counted. */
export type TrainingPhase = 'pretrain' | 'finetune';

/** Steps planned per phase, and the batch sizes that relate their costs. */
export interface EtaPlan {
  pretrainSteps: number;
  finetuneSteps: number;
  pretrainBatchSize: number;
  finetuneBatchSize: number;
}

/** Counts of a build's training steps and the estimate made from their timing. */
export class BuildEta {
  private readonly left: Record<TrainingPhase, number>;
  private readonly speed: Record<TrainingPhase, { steps: number; ms: number }> = { pretrain: { steps: 0, ms: 0 }, finetune: { steps: 0, ms: 0 } };
  private readonly ratio: number;
  private lastStep = Date.now();
  /** Steps done (skipped work counts as done) and in all. */
  done = 0;
  total: number;

  constructor(plan: EtaPlan) {
    this.left = { pretrain: plan.pretrainSteps, finetune: plan.finetuneSteps };
    this.total = plan.pretrainSteps + plan.finetuneSteps;
    this.ratio = plan.finetuneBatchSize / (1.7 * plan.pretrainBatchSize);
  }

  /** Starts timing afresh (before a phase's first step, so setup time is not counted as a step's). */
  restartClock(): void {
    this.lastStep = Date.now();
  }

  /** One step of `phase` finished; `beyondPlan` when a model trains past its planned steps (the total grows). */
  step(phase: TrainingPhase, beyondPlan = false): void {
    if (beyondPlan) {
      this.total++;
      this.left[phase]++;
    }
    const now = Date.now();
    this.speed[phase].steps++;
    this.speed[phase].ms += now - this.lastStep;
    this.lastStep = now;
    this.done++;
    this.left[phase]--;
  }

  /** `steps` of `phase` count as done without being timed (a model finished by an earlier run). */
  skip(phase: TrainingPhase, steps: number): void {
    this.done += steps;
    this.left[phase] -= steps;
  }

  /** Estimated seconds left; undefined until a step has been timed. */
  seconds(): number | undefined {
    const { pretrain, finetune } = this.speed;
    const pt = pretrain.steps ? pretrain.ms / pretrain.steps : undefined;
    const ft = finetune.steps ? finetune.ms / finetune.steps : pt !== undefined ? pt * this.ratio : undefined;
    if (ft === undefined) return undefined;
    return (this.left.pretrain * (pt ?? ft / this.ratio) + this.left.finetune * ft) / 1000;
  }
}
