import { describe, expect, it } from 'vitest';
import { accuracyWithInterval, scoreOutcomes, type PairOutcome } from '../../src/index.js';

function pairs(correct: (a: number, f: number) => boolean, nAligned = 6, nFaker = 6): PairOutcome[] {
  const out: PairOutcome[] = [];
  for (let a = 0; a < nAligned; a++)
    for (let f = 0; f < nFaker; f++) out.push({ aligned: `a${a}`, faker: `f${f}`, combination: `c${f % 3}`, correct: correct(a, f) });
  return out;
}

describe('scoring', () => {
  it('a perfect detector scores 100% (every correct pair counts)', () => {
    const s = accuracyWithInterval(pairs(() => true));
    expect(s).toMatchObject({ pairs: 36, correct: 36, accuracy: 1, low: 1, high: 1 });
  });

  it('an always-wrong detector scores 0%', () => {
    expect(accuracyWithInterval(pairs(() => false)).accuracy).toBe(0);
  });

  it('the interval resamples models: errors tied to one faker widen it', () => {
    // one faker model fools the detector in every pair it is in: 30/36 correct
    const clustered = accuracyWithInterval(pairs((_, f) => f !== 0), { seed: 1 });
    expect(clustered.accuracy).toBeCloseTo(30 / 36, 10);
    expect(clustered.low).toBeLessThan(clustered.accuracy);
    expect(clustered.high).toBeGreaterThanOrEqual(clustered.accuracy);
    expect(clustered.high).toBe(1); // a draw without faker 0 is possible
    // the same number of errors spread over models gives a narrower interval
    const spread = accuracyWithInterval(pairs((a, f) => (a + f) % 6 !== 0), { seed: 1 });
    expect(spread.accuracy).toBeCloseTo(30 / 36, 10);
    expect(spread.high - spread.low).toBeLessThan(clustered.high - clustered.low);
  });

  it('is deterministic for a seed and splits by combination', () => {
    const o = pairs((a, f) => (a * f) % 4 !== 1);
    expect(accuracyWithInterval(o, { seed: 3 })).toEqual(accuracyWithInterval(o, { seed: 3 }));
    const s = scoreOutcomes(o);
    expect(Object.keys(s.byCombination)).toEqual(['c0', 'c1', 'c2']);
    expect(Object.values(s.byCombination).reduce((n, a) => n + a.pairs, 0)).toBe(36);
  });
});
