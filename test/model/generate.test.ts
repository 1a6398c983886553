// Generation with a KV cache against transformers' `generate` (greedy, on the
// fixture's left-padded batch; tools/make_hook_fixtures.py): the same tokens,
// with and without a steering vector added at every position of every step.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model, type Intervention } from '../../src/index.js';
import { FIXTURE_DIR, fixtureBatch, tensor } from '../helpers/fixture.js';
import { readSafetensors } from '../helpers/safetensors.js';

const hooksRef = readSafetensors(`${FIXTURE_DIR}/hooks.safetensors`);
function rows(name: string): number[][] {
  const t = hooksRef.get(name)!;
  const [b, n] = t.shape;
  const data = Array.from(t.data as BigInt64Array, Number);
  return Array.from({ length: b }, (_, r) => data.slice(r * n, (r + 1) * n));
}
const N = 8;

let model: Model;
beforeAll(async () => {
  model = await Model.load(FIXTURE_DIR);
});
afterAll(() => model.dispose());

/** Greedy decoding by full forwards without a cache: the independent loop. */
async function naiveGreedy(prompts: number[][], steps: number, interventions: Intervention[] = []): Promise<number[][]> {
  const seqs = prompts.map((p) => [...p]);
  for (let s = 0; s < steps; s++) {
    const { logits } = await model.forward(seqs, { interventions });
    seqs.forEach((seq, b) => {
      let best = 0;
      for (let v = 1; v < model.vocabSize; v++) if (logits!.get(b, v) > logits!.get(b, best)) best = v;
      seq.push(best);
    });
  }
  return seqs.map((seq, b) => seq.slice(prompts[b].length));
}

function prompts(): number[][] {
  const batch = fixtureBatch();
  return batch.lengths.map((len, b) => Array.from(batch.ids.slice(b * batch.length + batch.length - len, (b + 1) * batch.length)));
}

describe('generate', () => {
  it('greedy equals transformers generate (do_sample=False) on the padded batch', async () => {
    const out = await model.generate(fixtureBatch(), { maxNewTokens: N });
    expect(out.tokens).toEqual(rows('greedy_tokens'));
    expect(out.stopped).toEqual([false, false, false]);
    expect(out.texts).toHaveLength(3);
  });

  it('a steering vector at every position of every step equals transformers generate with the same forward hook', async () => {
    const steer: Intervention = { hook: 'blocks.1.hook_resid_post', op: 'add', value: tensor('steer_vector'), positions: 'all' };
    const out = await model.generate(fixtureBatch(), { maxNewTokens: N, interventions: [steer] });
    expect(out.tokens).toEqual(rows('steered_tokens'));
    expect(out.tokens).not.toEqual(rows('greedy_tokens'));
  });

  it("positions 'last' steer the last prompt token and each new one, as full forwards would", async () => {
    const steer: Intervention = { hook: 'blocks.0.hook_resid_post', op: 'add', value: tensor('steer_vector') };
    const out = await model.generate(prompts(), { maxNewTokens: 4, interventions: [steer] });
    // Without a cache the same op at 'all' over prompt + new tokens is not the
    // same thing, so the reference is the cached loop's definition: a forward
    // per step whose op acts on the last prompt token and every later one.
    const ps = prompts();
    const seqs = ps.map((p) => [...p]);
    for (let s = 0; s < 4; s++) {
      const { logits } = await model.forward(seqs, {
        interventions: [{ ...steer, positions: Array.from({ length: s + 1 }, (_, j) => j - s - 1) }],
      });
      seqs.forEach((seq, b) => {
        let best = 0;
        for (let v = 1; v < model.vocabSize; v++) if (logits!.get(b, v) > logits!.get(b, best)) best = v;
        seq.push(best);
      });
    }
    expect(out.tokens).toEqual(seqs.map((seq, b) => seq.slice(ps[b].length)));
  });

  it('equals greedy decoding by full forwards (no cache)', async () => {
    const out = await model.generate(prompts(), { maxNewTokens: 5 });
    expect(out.tokens).toEqual(await naiveGreedy(prompts(), 5));
  });

  it('stops a row at a stop token (kept) and the others run on', async () => {
    const greedy = rows('greedy_tokens');
    const out = await model.generate(fixtureBatch(), { maxNewTokens: N, stop: [greedy[0][2]] });
    expect(out.tokens[0]).toEqual(greedy[0].slice(0, 3));
    expect(out.stopped[0]).toBe(true);
    expect(out.tokens[1]).toEqual(greedy[1].slice(0, greedy[1].indexOf(greedy[0][2]) + 1 || N));
  });

  it('a stop sequence of two ids, and a stop string cut from the text', async () => {
    const greedy = rows('greedy_tokens');
    const seq = greedy[0].slice(3, 5); // 'a', 0x17: a string that tokenizes back to the same ids
    const out = await model.generate(fixtureBatch(), { maxNewTokens: N, stop: [seq] });
    expect(out.tokens[0]).toEqual(greedy[0].slice(0, 5));
    expect(out.stopped).toEqual([true, false, false]);
    const text = model.tokenizer!.decode(seq);
    const byText = await model.generate(fixtureBatch(), { maxNewTokens: N, stop: [text] });
    expect(byText.tokens[0]).toEqual(greedy[0].slice(0, 5));
    expect(byText.texts![0]).toBe(model.tokenizer!.decode(greedy[0].slice(0, 3)));
  });

  it('sampling: the same seed gives the same tokens, topK 1 is greedy, every token is among the top k', async () => {
    const a = await model.generate(fixtureBatch(), { maxNewTokens: N, temperature: 1, seed: 3 });
    const b = await model.generate(fixtureBatch(), { maxNewTokens: N, temperature: 1, seed: 3 });
    const c = await model.generate(fixtureBatch(), { maxNewTokens: N, temperature: 1, seed: 4 });
    expect(a.tokens).toEqual(b.tokens);
    expect(a.tokens).not.toEqual(c.tokens);
    const one = await model.generate(fixtureBatch(), { maxNewTokens: N, temperature: 1, topK: 1, seed: 5 });
    expect(one.tokens).toEqual(rows('greedy_tokens'));
    const k = 3;
    const ps = prompts();
    const sampled = await model.generate(ps, { maxNewTokens: 4, temperature: 2, topK: k, seed: 9 });
    for (let b = 0; b < ps.length; b++) {
      const seq = [...ps[b]];
      for (const tok of sampled.tokens[b]) {
        const { logits } = await model.forward([seq]);
        const row = Array.from({ length: model.vocabSize }, (_, v) => logits!.get(0, v));
        const kth = [...row].sort((x, y) => y - x)[k - 1];
        expect(row[tok]).toBeGreaterThanOrEqual(kth);
        seq.push(tok);
      }
    }
  });

  it('refuses bad options with E_ARG naming them', async () => {
    await expect(model.generate(fixtureBatch(), { maxNewTokens: 0 })).rejects.toThrow(/maxNewTokens/);
    await expect(model.generate(fixtureBatch(), { temperature: -1 })).rejects.toThrow(/temperature/);
    await expect(model.generate(fixtureBatch(), { interventions: [{ hook: 'hook_embed', op: 'capture' }] })).rejects.toThrow(/capture/);
    await expect(
      model.generate(fixtureBatch(), { interventions: [{ hook: 'blocks.0.attn.hook_pattern', op: 'set', value: new Float32Array(48) }] }),
    ).rejects.toThrow(/pattern's width grows/);
    await expect(model.generate(fixtureBatch(), { stop: [[]] })).rejects.toMatchObject({ code: 'E_ARG' });
    // the fixture allows 128 positions; its longest prompt has 12 tokens
    await expect(model.generate(fixtureBatch(), { maxNewTokens: 118 })).rejects.toThrow(/129 positions .* limit of 128 \(max_position_embeddings\)/);
  });
});
