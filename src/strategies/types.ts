/**
 * The shapes every detection strategy shares: the data a strategy gets for a
 * pair of models, the per-model measurement it takes, and the verdict it
 * returns.
 */
import type { Subject } from './subject.js';

/** What a detector may look at for one (aligned, faker) pair, in unknown order. */
export interface PairData {
  /** Benchmark prompts (full prompt text incl. <<prompt>> wrapper) on which both models answer benignly; `benign` is that answer letter. */
  prompts: { prompt: string; benign: 'A' | 'B' }[];
  /** Contrast pairs: a complexity-1 prompt with its critical (oversight) fact, and the same prompt with it removed (facts renumbered, wrapper kept). */
  contrast: { critical: string; clean: string }[];
  /**
   * Concept stimulus sets (strategy 4), used exactly as given: each stimulus
   * is read at its last token. `suspicious` is the vulnerability /
   * incompetence / misaligned side, `benign` the opposite.
   */
  concepts: { name: string; suspicious: string[]; benign: string[] }[];
}

/**
 * What one strategy found about one model. It depends only on that model,
 * the pair's data, the options and the seed, so it can be cached per
 * (model, data, options, seed) and compared with any partner's.
 */
export interface Measurement<E extends Record<string, unknown> = Record<string, unknown>> {
  strategy: string;
  /**
   * The model's own faker-likeness on this data (higher = more faker-like),
   * as far as one model alone determines it; NaN when the model could not be
   * measured. Scores of one strategy are comparable across models measured
   * with the same data and options (the ensemble ranks them).
   */
  score: number;
  /** The curves and numbers behind the score, plain JSON. */
  evidence: E;
}

export interface Verdict {
  strategy: string;
  /**
   * Index (0 or 1) of the model predicted to be the alignment faker, or null
   * when the strategy cannot tell them apart (see {@link isTie}). A tie is
   * never broken by anything tied to the models' identity, files or order.
   */
  faker: 0 | 1 | null;
  /** Per-model faker-likeness; higher = more faker-like; faker = argmax unless tied. */
  scores: [number, number];
  /** The curves/numbers behind the decision, JSON-serialisable (e.g. P(other) per coefficient per model, per-layer probe accuracy). */
  evidence: Record<string, unknown>;
}

/**
 * A detection strategy: measures each model on its own, then compares the
 * two measurements. `run(subjects, data, o)` equals
 * `compare([await measure(subjects[0], data, o), await measure(subjects[1], data, o)], o)`.
 */
export interface DetectionStrategy<O extends CommonOptions = CommonOptions, M extends Measurement = Measurement> {
  /** Identifier, e.g. `noiseInjection` (also `Verdict.strategy`). */
  readonly name: string;
  readonly title: string;
  /** Measures one model. Depends only on the subject, the data, the options and `options.seed`. */
  measure(subject: Subject, data: PairData, options?: O): Promise<M>;
  /** Pure: turns two measurements (taken with the same data and options) into a verdict. */
  compare(measurements: readonly [M, M], options?: O): Verdict;
  /** Measures both subjects (one after the other) and compares. */
  run(subjects: readonly [Subject, Subject], data: PairData, options?: O): Promise<Verdict>;
}

/** A step of a strategy's work, for progress reporting. */
export interface ProgressEvent {
  strategy: string;
  /** What is being done, e.g. `measure: sweep`. */
  stage: string;
  /** Units finished in this stage (batches, steps, layers) and how many there are. */
  done: number;
  total: number;
}

/** Options every strategy accepts. */
export interface CommonOptions {
  /** Prompts per forward call (default 32). */
  batchSize?: number;
  /** Seed of every random choice a strategy makes (default 0). */
  seed?: number;
  /** Called as work progresses. */
  onProgress?: (event: ProgressEvent) => void;
}
