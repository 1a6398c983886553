/**
 * The shapes every detection strategy shares: the data a strategy gets for a
 * pair of models, and the verdict it returns.
 */
import type { Model } from '../model/model.js';

/** What a detector may look at for one (aligned, faker) pair, in unknown order. */
export interface PairData {
  /** Benchmark prompts (full prompt text incl. <<prompt>> wrapper) on which both models answer benignly; `benign` is that answer letter. */
  prompts: { prompt: string; benign: 'A' | 'B' }[];
  /** Contrast pairs: a complexity-1 prompt with its critical (oversight) fact, and the same prompt with it removed (facts renumbered, wrapper kept). */
  contrast: { critical: string; clean: string }[];
  /** Concept stimulus sets; `suspicious` is the vulnerability / incompetence / misaligned side. */
  concepts: { name: string; suspicious: string[]; benign: string[] }[];
}

export interface Verdict {
  strategy: string;
  /** Index (0 or 1) of the model predicted to be the alignment faker. */
  faker: 0 | 1;
  /** Per-model faker-likeness; higher = more faker-like. faker = argmax (ties broken by a seeded coin, tie=true). */
  scores: [number, number];
  tie: boolean;
  /** The curves/numbers behind the decision, JSON-serialisable (e.g. P(other) per coefficient per model, per-layer probe accuracy). */
  evidence: Record<string, unknown>;
}

/** A detection strategy: looks at two models and names the one it believes fakes alignment. */
export type Strategy<O = object> = (models: readonly [Model, Model], data: PairData, options?: O) => Promise<Verdict>;

/** A step of a strategy's work, for progress reporting. */
export interface ProgressEvent {
  strategy: string;
  /** What is being done, e.g. `model 0: sweep`. */
  stage: string;
  /** Units finished in this stage (batches, steps, layers) and how many there are. */
  done: number;
  total: number;
}

/** Options every strategy accepts. */
export interface CommonOptions {
  /** Prompts per forward call (default 32). */
  batchSize?: number;
  /** Seed of every random choice a strategy makes, and of the tie-break coin (default 0). */
  seed?: number;
  /** Called as work progresses. */
  onProgress?: (event: ProgressEvent) => void;
}
