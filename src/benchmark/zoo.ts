/**
 * The zoo's pairs for the benchmark runner, read from the zoo's files
 * (src/zoo/pairs.ts: `readZooPairs`).
 */
import { readZooPairs } from '../zoo/pairs.js';
import type { PairSpec } from './run.js';

/** Options of {@link zooPairSpecs}. */
export interface ZooPairsOptions {
  /** Kept for callers; the zoo's files fix the contrast pairs, stimuli and their sizes. */
  contrast?: number;
  conceptStimuli?: number;
  seed?: number;
}

/** Every (aligned, faker) pair of the zoo at `dir`, with its data (files only; see `readZooPairs`). */
export function zooPairSpecs(dir: string, _options: ZooPairsOptions = {}): PairSpec[] {
  return readZooPairs(dir);
}
