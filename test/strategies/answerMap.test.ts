// The answer log-odds map: odd, monotone, through its knots, and fitted by
// quantile matching so that a model's own values land on the target's
// quantiles. Applied to logits it moves only the two letters, keeps their
// joint mass (or sets their share of the vocabulary, when the map fixes it),
// and sets their log-odds to f(log-odds) (checked in float64). A subject
// with a map reads it out wherever logits come back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import ndarray from 'ndarray';
import { Model, subject, type Intervention, residPost } from '../../src/index.js';
import { answerLogits, applyAnswerMap, checkAnswerMap, fitAnswerMap, letterMass, mapAnswerLogits, mapLogOdds, quantileOfSorted } from '../../src/primitives.js';
import { FIXTURE_DIR } from '../helpers/fixture.js';
import { syntheticData } from './helpers.js';

const map = { x: [1, 2, 4], y: [3, 3.5, 6] };

describe('answer log-odds map', () => {
  it('is odd and monotone, passes through its knots and the origin, and scales like a temperature past them', () => {
    map.x.forEach((x, i) => expect(mapLogOdds(map, x)).toBeCloseTo(map.y[i], 12));
    expect(mapLogOdds(map, 0)).toBe(0);
    expect(mapLogOdds(map, 0.5)).toBeCloseTo(1.5, 12); // on the line from (0, 0) to (1, 3)
    expect(mapLogOdds(map, 3)).toBeCloseTo(4.75, 12); // halfway between (2, 3.5) and (4, 6)
    expect(mapLogOdds(map, 8)).toBeCloseTo(12, 12); // slope 6 / 4 past the last knot
    let last = -Infinity;
    for (let d = -10; d <= 10; d += 0.25) {
      expect(mapLogOdds(map, -d)).toBeCloseTo(-mapLogOdds(map, d), 12);
      expect(mapLogOdds(map, d)).toBeGreaterThanOrEqual(last);
      last = mapLogOdds(map, d);
    }
  });

  it('rejects knots that would not give a monotone map', () => {
    expect(() => checkAnswerMap({ x: [1, 1], y: [1, 2] })).toThrow(/strictly ascending/);
    expect(() => checkAnswerMap({ x: [-1], y: [1] })).toThrow(/x must be/);
    expect(() => checkAnswerMap({ x: [1, 2], y: [2, 1] })).toThrow(/non-decreasing/);
    expect(() => checkAnswerMap({ x: [1], y: [1, 2] })).toThrow(/knots/);
    expect(() => fitAnswerMap([1, -2], [[1, 2]])).toThrow(/> 0/);
  });

  it('quantile matching sends a model\'s values onto the mean of every model\'s quantiles', () => {
    const own = [0.5, 3, 1, 2];
    const other = [4, 8, 6, 10, 12, 2];
    const m = fitAnswerMap(own, [own, other]);
    const sortedOther = [...other].sort((a, b) => a - b);
    [0.5, 1, 2, 3].forEach((x, i) => {
      const u = (i + 0.5) / 4;
      const want = (quantileOfSorted([0.5, 1, 2, 3], u) + quantileOfSorted(sortedOther, u)) / 2;
      expect(mapLogOdds(m, x)).toBeCloseTo(want, 12);
    });
    // alone, a model is its own target: the map is the identity on its values
    const self = fitAnswerMap(own, [own]);
    own.forEach((x) => expect(mapLogOdds(self, x)).toBeCloseTo(x, 12));
    // tied values share one knot (between the two tail knots)
    expect(fitAnswerMap([1, 1, 2], [[1, 1, 2]]).x.slice(1, -1)).toEqual([1, 2]);
    // the quantile is linear between order statistics at (i + 0.5) / n and clamped at the ends
    expect(quantileOfSorted([0, 10], 0.5)).toBe(5);
    expect(quantileOfSorted([0, 10], 0.1)).toBe(0);
    expect(quantileOfSorted([0, 10], 0.9)).toBe(10);
  });

  it('past its knots keeps the slope of its outermost tenth for twice that width, then runs to the origin', () => {
    // own: 20 values, 10..11.9 with a heavy lower tail at 4; target: another model at 20..21.9
    const own = [4, ...Array.from({ length: 19 }, (_, i) => 10.1 + i * 0.1)];
    const other = Array.from({ length: 20 }, (_, i) => 20 + i * 0.1);
    const m = fitAnswerMap(own, [own, other]);
    expect(m.x.length).toBe(22);
    const sorted = [...own].sort((a, b) => a - b);
    const at = (i: number) => mapLogOdds(m, sorted[i]);
    // the outermost tenth is 2 knots: slope between knots 0 and 2, kept for twice that width (6.2 nats, capped at half the way to the origin: 2)
    const low = (at(2) - at(0)) / (sorted[2] - sorted[0]);
    expect(m.x[0]).toBeCloseTo(2, 12);
    expect(mapLogOdds(m, 3)).toBeCloseTo(at(0) - low * 1, 12);
    expect(mapLogOdds(m, 1)).toBeCloseTo((m.y[0] * 1) / 2, 12); // below the tail knot: the line to the origin
    const high = (at(19) - at(17)) / (sorted[19] - sorted[17]);
    expect(m.x[m.x.length - 1]).toBeCloseTo(11.9 + 0.4, 12);
    expect(mapLogOdds(m, 12.1)).toBeCloseTo(at(19) + high * 0.2, 12);
    expect(mapLogOdds(m, 20)).toBeCloseTo((m.y[m.y.length - 1] * 20) / m.x[m.x.length - 1], 12);
    // the through-origin line alone would send 3 to at(0) * 3 / 4: much further down than the tail's own slope does
    expect(mapLogOdds(m, 3)).toBeGreaterThan((at(0) * 3) / 4 + 1);
    expect(() => checkAnswerMap(m)).not.toThrow();
  });

  it('moves only the two letters, keeps their joint mass and maps their log-odds', () => {
    const width = 5;
    const rows = [
      [0.3, 2.0, -1.0, 0.5, 4.0],
      [1.0, -3.0, 2.5, 0.0, -2.0],
      [0.0, 0.0, 0.0, 7.0, 7.0],
    ];
    const logits = ndarray(Float32Array.from(rows.flat()), [rows.length, width]);
    applyAnswerMap(logits, 3, 4, map);
    rows.forEach((r, i) => {
      for (const j of [0, 1, 2]) expect(logits.get(i, j)).toBe(Math.fround(r[j]));
      const [la, lb] = [logits.get(i, 3), logits.get(i, 4)];
      expect(la - lb).toBeCloseTo(mapLogOdds(map, r[3] - r[4]), 5);
      expect(Math.log(Math.exp(la) + Math.exp(lb))).toBeCloseTo(Math.log(Math.exp(r[3]) + Math.exp(r[4])), 5);
    });
    // the same on answer logits, whichever letter is benign
    const l = mapAnswerLogits({ benign: [4.0, -2.0], other: [0.5, 0.0], rest: [1, 2] }, map);
    expect(l.benign[0] - l.other[0]).toBeCloseTo(mapLogOdds(map, 3.5), 12);
    expect(l.benign[1] - l.other[1]).toBeCloseTo(-mapLogOdds(map, 2), 12);
    expect(l.rest).toEqual([1, 2]);
  });

  it('with a fixed share, sets the letters\' joint log-odds against the rest of the row, and nothing else', () => {
    const width = 5;
    const rows = [
      [0.3, 2.0, -1.0, 0.5, 4.0],
      [1.0, -3.0, 2.5, 0.0, -2.0],
    ];
    const fixed = { ...map, mass: 1.25 };
    const logits = ndarray(Float32Array.from(rows.flat()), [rows.length, width]);
    applyAnswerMap(logits, 3, 4, fixed);
    rows.forEach((r, i) => {
      const rest = Math.log(Math.exp(r[0]) + Math.exp(r[1]) + Math.exp(r[2]));
      for (const j of [0, 1, 2]) expect(logits.get(i, j)).toBe(Math.fround(r[j]));
      const [la, lb] = [logits.get(i, 3), logits.get(i, 4)];
      expect(la - lb).toBeCloseTo(mapLogOdds(map, r[3] - r[4]), 5);
      expect(Math.log(Math.exp(la) + Math.exp(lb)) - rest).toBeCloseTo(1.25, 5);
    });
    const l = mapAnswerLogits({ benign: [4.0, -2.0], other: [0.5, 0.0], rest: [1, 2] }, fixed);
    expect(letterMass(l)[0]).toBeCloseTo(1.25, 12);
    expect(letterMass(l)[1]).toBeCloseTo(1.25, 12);
    expect(l.benign[1] - l.other[1]).toBeCloseTo(-mapLogOdds(map, 2), 12);
    expect(fitAnswerMap([1, 2], [[1, 2]], 0.5).mass).toBe(0.5);
    expect(() => checkAnswerMap({ ...map, mass: NaN })).toThrow(/mass/);
  });
});

describe('a subject with an answer map', () => {
  let model: Model;
  const data = syntheticData(8, 2);
  const prompts = data.prompts.map((p) => p.prompt);
  beforeAll(async () => {
    model = await Model.load(FIXTURE_DIR);
  });
  afterAll(() => model.dispose());

  it('reads it out in forward, scoreChoices and sweeps, before its logit bias, and keeps it in a fork', async () => {
    const [a, b] = [model.tokenId('A'), model.tokenId('B')];
    const strong = { x: [0.01, 0.1, 1], y: [0.5, 2, 9], mass: 2 };
    const s = subject(model, { answerMap: strong, logitBias: [{ token: 'A', bias: -1 }, { token: 'B', bias: -1 }] });
    expect(s.answerMap).toEqual(strong);
    const v = Float32Array.from({ length: model.hiddenSize }, (_, i) => Math.cos(i));
    const steer: Intervention = { hook: residPost(1), op: 'add', value: v, scale: 2 };
    for (const interventions of [[], [steer]]) {
      const raw = (await model.forward(prompts, { logits: 'last', interventions })).logits!;
      const want = applyAnswerMap(ndarray(Float32Array.from(raw.data), raw.shape), a, b, strong);
      for (let i = 0; i < prompts.length; i++) for (const id of [a, b]) want.set(i, id, want.get(i, id) - 1);
      const got = (await s.forward(prompts, { logits: 'last', interventions })).logits!;
      got.data.forEach((x, k) => expect(x).toBeCloseTo(want.data[k], 4));
      const swept = (await s.sweep(prompts, [interventions]))[0].logits;
      // a sweep recomputes the last position from cached keys (float32 differences ~1e-6), which the map's slope of up to 50 amplifies
      swept.data.forEach((x, k) => expect(x).toBeCloseTo(want.data[k], 3));
      // scoreChoices: softmax over the whole vocabulary of the read-out logits
      const p = await s.scoreChoices(prompts, ['A', 'B'], { interventions });
      p.forEach((row, i) => {
        let sum = 0;
        for (let j = 0; j < want.shape[1]; j++) sum += Math.exp(want.get(i, j));
        expect(row[0]).toBeCloseTo(Math.exp(want.get(i, a)) / sum, 5);
        expect(row[1]).toBeCloseTo(Math.exp(want.get(i, b)) / sum, 5);
      });
    }
    // answerLogits through the mapped subject equal the offline map of the plain subject's
    const benign = data.prompts.map((p) => p.benign);
    const offline = mapAnswerLogits(await answerLogits(subject(model), prompts, benign), strong);
    const online = await answerLogits(subject(model, { answerMap: strong }), prompts, benign);
    online.benign.forEach((x, i) => expect(x - online.other[i]).toBeCloseTo(offline.benign[i] - offline.other[i], 4));
    letterMass(online).forEach((m) => expect(m).toBeCloseTo(2, 4));
    const fork = await s.fork();
    try {
      expect(fork.answerMap).toEqual(strong);
    } finally {
      fork.dispose();
    }
    expect(() => subject(model, { answerMap: { x: [2, 1], y: [1, 2] } })).toThrow(/subject: answerMap/);
  });
});
