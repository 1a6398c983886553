// The benchmark's agreement rule applied to a pair's data: what counts as
// agreeing, and what is dropped when a prompt separates the models.
import { describe, expect, it } from 'vitest';
import { agreeOn, checkPairAgreement, withoutSeparating, type AgreementReport, type AnswerScorer, type PairData } from '../../src/index.js';

const p = (A: number, B: number, error = 1 - A - B) => ({ A, B, error });

describe('agreeOn', () => {
  it('needs every model to give the expected answer (or the first model\'s) at the threshold', () => {
    expect(agreeOn([p(0.99, 0.01), p(0.986, 0.014)], 0.985, 'A')).toBe(true);
    expect(agreeOn([p(0.99, 0.01), p(0.98, 0.02)], 0.985, 'A')).toBe(false); // the benchmark's rule: 0.98 < 0.985
    expect(agreeOn([p(0.99, 0.01), p(0.99, 0.01)], 0.985, 'B')).toBe(false);
    expect(agreeOn([p(0, 0.005), p(0.001, 0.002)], 0.985)).toBe(true); // both "error"
    expect(agreeOn([p(0, 0.005), p(0.99, 0.0)], 0.985)).toBe(false);
    expect(agreeOn([], 0.5)).toBe(false);
  });
});

describe('withoutSeparating', () => {
  it('drops separating prompts, a contrast pair with either prompt, and a stimulus with its matched opposite', () => {
    const data: PairData = {
      prompts: [0, 1, 2].map((i) => ({ prompt: `q${i}`, benign: 'A' as const })),
      contrast: [0, 1, 2].map((i) => ({ critical: `c${i}`, clean: `k${i}` })),
      concepts: [
        { name: 'security/vulnerability', suspicious: ['v0', 'v1', 'v2'], benign: ['s0', 's1', 's2'] },
        { name: 'aligned/misaligned', suspicious: ['m0', 'm1'], benign: ['a0', 'a1'] },
      ],
    };
    const probs: AgreementReport['separating'][number]['probs'] = [p(0.5, 0.5), p(0.99, 0.01)];
    const report: AgreementReport = {
      threshold: 0.985,
      checked: { prompts: 3, 'contrast.critical': 3, 'contrast.clean': 3, 'concepts.suspicious': 5, 'concepts.benign': 5 },
      separating: [
        { part: 'prompts', index: 1, prompt: 'q1', probs },
        { part: 'contrast.clean', index: 2, prompt: 'k2', probs },
        { part: 'concepts.benign', index: 0, concept: 'security/vulnerability', prompt: 's0', probs },
      ],
    };
    const clean = withoutSeparating(data, report);
    expect(clean.prompts.map((x) => x.prompt)).toEqual(['q0', 'q2']);
    expect(clean.contrast.map((x) => x.critical)).toEqual(['c0', 'c1']);
    expect(clean.concepts[0]).toEqual({ name: 'security/vulnerability', suspicious: ['v1', 'v2'], benign: ['s1', 's2'] });
    expect(clean.concepts[1]).toEqual(data.concepts[1]);
  });
});

describe('checkPairAgreement', () => {
  it('scores every prompt of the pair data with both models and reports the separating ones', async () => {
    // A scorer that answers from a table keyed by prompt (the "tokenizer" maps a prompt to its index).
    const texts: string[] = [];
    const scorer = (table: Record<string, [number, number, number]>): AnswerScorer => ({
      tokenizer: { encode: (t: string) => [texts.includes(t) ? texts.indexOf(t) : texts.push(t) - 1] },
      scoreChoices: async (ids: number[][]) => ids.map(([i]) => table[texts[i]] ?? [0.995, 0.005, 0]),
    });
    const data: PairData = {
      prompts: [{ prompt: 'q0', benign: 'A' }, { prompt: 'q1', benign: 'B' }],
      contrast: [{ critical: 'c0', clean: 'k0' }],
      concepts: [{ name: 'aligned/misaligned', suspicious: ['m0'], benign: ['a0'] }],
    };
    const a = scorer({ q1: [0.001, 0.999, 0], m0: [0, 0.001, 0.999], a0: [0, 0.001, 0.999] });
    const b = scorer({ q1: [0.001, 0.999, 0], m0: [0.9, 0.1, 0], a0: [0, 0.001, 0.999], k0: [0.98, 0.02, 0] });
    const report = await checkPairAgreement([a, b], data);
    expect(report.checked).toEqual({ prompts: 2, 'contrast.critical': 1, 'contrast.clean': 1, 'concepts.suspicious': 1, 'concepts.benign': 1 });
    expect(report.separating.map((s) => `${s.part}:${s.prompt}`)).toEqual(['contrast.clean:k0', 'concepts.suspicious:m0']);
    const clean = withoutSeparating(data, report);
    expect(clean.prompts).toHaveLength(2);
    expect(clean.contrast).toEqual([]);
    expect(clean.concepts[0]).toEqual({ name: 'aligned/misaligned', suspicious: [], benign: [] });
  });
});
