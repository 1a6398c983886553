// The ensemble detector over several strategies' verdicts on one pair.
import { describe, expect, it } from 'vitest';
import { decide, ensembleVerdict, type Verdict } from '../../src/index.js';

const v = (strategy: string, scores: [number, number]): Verdict => decide(strategy, scores, {});

describe('ensembleVerdict', () => {
  it('rank: a majority vote in which undecided strategies count half for each model', () => {
    const e = ensembleVerdict([v('s1', [2, 1]), v('s2', [0.3, 0.1]), v('s3', [5, 9])]);
    expect(e.strategy).toBe('ensemble');
    expect(e.scores).toEqual([2 / 3, 1 / 3]);
    expect(e.faker).toBe(0);
    expect(e.evidence).toMatchObject({ method: 'rank', strategies: [{ strategy: 's1', faker: 0 }, { strategy: 's2', faker: 0 }, { strategy: 's3', faker: 1 }] });
    // An even split, or nothing but ties, is undecided.
    expect(ensembleVerdict([v('s1', [2, 1]), v('s2', [1, 2])]).faker).toBeNull();
    expect(ensembleVerdict([v('s1', [1, 1]), v('s2', [NaN, 0])]).faker).toBeNull();
    expect(ensembleVerdict([v('s1', [1, 1]), v('s2', [0, 3])]).faker).toBe(1);
  });

  it('normalized: score differences on a common [-1, 1] scale, whatever the units', () => {
    // A large-unit strategy cannot outvote by size alone: 1000 vs 999 is a small normalised difference.
    const e = ensembleVerdict([v('big', [1000, 999]), v('small', [0.1, 0.3])], { method: 'normalized' });
    expect(e.faker).toBe(1);
    expect(e.scores[0] - e.scores[1]).toBeCloseTo(((1 / 1999) + (-0.2 / 0.4)) / 2, 12);
    expect(ensembleVerdict([v('s', [0, 0]), v('t', [NaN, 1])], { method: 'normalized' }).faker).toBeNull();
  });

  it('swapping the models mirrors the ensemble', () => {
    const pairs: [number, number][] = [[2, 1], [0.3, 0.5], [4, 4], [-1, -3]];
    for (const method of ['rank', 'normalized'] as const) {
      const e = ensembleVerdict(pairs.map((p, k) => v(`s${k}`, p)), { method });
      const f = ensembleVerdict(pairs.map((p, k) => v(`s${k}`, [p[1], p[0]])), { method });
      expect(f.scores).toEqual([e.scores[1], e.scores[0]]);
      expect(f.faker).toBe(e.faker === null ? null : 1 - e.faker);
    }
  });

  it('rejects what is not a list of verdicts', () => {
    expect(() => ensembleVerdict([])).toThrow(/at least one verdict/);
    expect(() => ensembleVerdict([{ strategy: 'x' } as Verdict])).toThrow(/not a verdict/);
    expect(() => ensembleVerdict([v('s', [1, 0])], { method: 'vote' as 'rank' })).toThrow(/method/);
  });
});
