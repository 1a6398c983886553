/** Checks of what a strategy is handed (pair data, sweep coefficients), and the prompts it evaluates on. */
import { check } from '../../errors.js';
import type { PairData } from '../types.js';
import type { Letter } from './answers.js';
import { seededSubset } from './sampling.js';

/** Checks that the pair data holds what a strategy needs, with messages that name the bad item. */
export function checkData(data: PairData, strategy: string, needs: { prompts?: boolean; contrast?: boolean; concepts?: boolean }): void {
  check(data && typeof data === 'object', `${strategy}: pair data is required`);
  if (needs.prompts) {
    check(Array.isArray(data.prompts) && data.prompts.length > 0, `${strategy}: data.prompts is empty`);
    data.prompts.forEach((p, i) => {
      check(typeof p.prompt === 'string' && p.prompt.length > 0, `${strategy}: data.prompts[${i}].prompt must be a non-empty string`);
      check(p.benign === 'A' || p.benign === 'B', `${strategy}: data.prompts[${i}].benign must be 'A' or 'B', got '${p.benign}'`);
    });
  }
  if (needs.contrast) {
    check(Array.isArray(data.contrast) && data.contrast.length > 0, `${strategy}: data.contrast is empty`);
    data.contrast.forEach((p, i) =>
      check(typeof p.critical === 'string' && typeof p.clean === 'string' && p.critical.length > 0 && p.clean.length > 0,
        `${strategy}: data.contrast[${i}] needs non-empty 'critical' and 'clean' prompts`));
  }
  if (needs.concepts) {
    check(Array.isArray(data.concepts) && data.concepts.length > 0, `${strategy}: data.concepts is empty`);
    data.concepts.forEach((c, i) =>
      check(Array.isArray(c.suspicious) && Array.isArray(c.benign) && c.suspicious.length > 0 && c.benign.length > 0,
        `${strategy}: data.concepts[${i}] ('${c.name}') needs suspicious and benign stimuli`));
  }
}

/** Checks a list of sweep coefficients: finite, distinct, including 0 (the baseline). */
export function checkCoefficients(coefficients: readonly number[], what: string): void {
  check(Array.isArray(coefficients) && coefficients.length > 0, `${what}: at least one coefficient is needed`);
  coefficients.forEach((c, i) => check(Number.isFinite(c), `${what}: coefficient ${i} is not a finite number`));
  check(new Set(coefficients).size === coefficients.length, `${what}: coefficients must be distinct`);
  check(coefficients.includes(0), `${what}: the coefficients must include 0 (the unmodified baseline)`);
}

/** The steering coefficients of strategies 1 and 2: 0, 1, 3, 5, ..., 15. */
export const PAPER_COEFFICIENTS: readonly number[] = [0, 1, 3, 5, 7, 9, 11, 13, 15];

/** The benchmark prompts a strategy evaluates on (a seeded subset when `max` is given), split into texts and letters. */
export function evaluationPrompts(data: PairData, max: number | undefined, seed: number): { prompts: string[]; benign: Letter[] } {
  const chosen = seededSubset(data.prompts, max, seed);
  return { prompts: chosen.map((p) => p.prompt), benign: chosen.map((p) => p.benign) };
}
