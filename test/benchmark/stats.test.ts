import { describe, expect, it } from 'vitest';
import { permutationTest, seedSpread, type Duels } from '../../src/index.js';
import { Rng } from '../../src/data/random.js';

/** Verdicts of a detector that calls the model with the higher `score` the faker (ties undecided). */
function duelsFrom(combination: string, scores: number[], fakers: number[]): Duels {
  const n = scores.length;
  const named = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 0 : scores[j] > scores[i] ? 1 : scores[j] < scores[i] ? 0 : 0.5)));
  return { combination, models: scores.map((_, i) => `m${i}`), fakers, named };
}

describe('model-level permutation test', () => {
  it('enumerates the labellings of a 2 + 2 combination exactly (hand-counted)', () => {
    // Scores 4, 1, 3, 2: the fakers (0 and 2) have the two highest scores: 4 of 4 pairs right.
    const d = duelsFrom('c', [4, 1, 3, 2], [0, 2]);
    const r = permutationTest([d]);
    // Labellings {0,2} 4/4, {0,3} 3/4, {0,1} 2/4, {2,3} 2/4, {1,2} 1/4, {1,3} 0/4: only the true one reaches 100%.
    expect(r).toEqual({ observed: 1, pValue: 1 / 6, permutations: 6, exact: true });
    // Fakers {0, 3}: 3 of 4 right; labellings scoring >= 3/4: {0,2} and {0,3}.
    expect(permutationTest([duelsFrom('c', [4, 1, 3, 2], [0, 3])])).toMatchObject({ observed: 0.75, pValue: 2 / 6 });
  });

  it('a detector that is always undecided has p = 1', () => {
    const d = duelsFrom('c', [1, 1, 1, 1, 1, 1], [3, 4, 5]);
    expect(permutationTest([d])).toMatchObject({ observed: 0.5, pValue: 1, exact: true, permutations: 20 });
  });

  it('pools combinations; a seeded sample approximates the exact p-value', () => {
    const rng = new Rng(7);
    const duels = ['a', 'b', 'c', 'd', 'e'].map((c) => duelsFrom(c, [0, 1, 2, 3].map(() => rng.next()), [2, 3]));
    const exact = permutationTest(duels);
    expect(exact.exact).toBe(true);
    expect(exact.permutations).toBe(6 ** 5);
    const observed = duels.reduce((s, d) => s + [0, 1].reduce((t, a) => t + d.named[a][2] + d.named[a][3], 0), 0) / 20;
    expect(exact.observed).toBeCloseTo(observed, 12);
    const sampled = permutationTest(duels, { permutations: 4000, seed: 3 });
    expect(sampled.exact).toBe(false);
    expect(Math.abs(sampled.pValue - exact.pValue)).toBeLessThan(0.03);
    expect(permutationTest(duels, { permutations: 4000, seed: 3 })).toEqual(sampled); // seeded
  });

  it('under the null, p-values are roughly uniform (a detector blind to the labels)', () => {
    const rng = new Rng(11);
    const ps: number[] = [];
    for (let t = 0; t < 300; t++) {
      const duels = ['a', 'b'].map((c) => duelsFrom(c, Array.from({ length: 6 }, () => rng.next()), [3, 4, 5]));
      ps.push(permutationTest(duels).pValue);
    }
    expect(ps.filter((p) => p <= 0.05).length / ps.length).toBeLessThan(0.1);
    expect(ps.reduce((s, p) => s + p, 0) / ps.length).toBeGreaterThan(0.4);
  });

  it('rejects malformed input', () => {
    expect(() => permutationTest([])).toThrow(/no combinations/);
    expect(() => permutationTest([{ ...duelsFrom('c', [1, 2], [1]), fakers: [] }])).toThrow(/aligned and faker/);
  });
});

describe('seed spread', () => {
  it('gives mean, sample sd and range', () => {
    expect(seedSpread([0.5, 0.75, 1])).toEqual({ seeds: 3, mean: 0.75, sd: 0.25, min: 0.5, max: 1 });
    expect(seedSpread([0.4]).sd).toBe(0);
  });
});
