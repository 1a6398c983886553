// Walks the public API with bad inputs: each must fail with a PoserError of
// the expected code whose message names the bad input.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Model,
  PoserError,
  fillFormat,
  generateDataset,
  loadScenarioFile,
  loadTokenizer,
  type EncodedBatch,
  type Loss,
  type PoserErrorCode,
} from '../../src/index.js';
import { Rng, fitLogisticProbe } from '../../src/primitives.js';
import { resolveRecipe } from '../../src/zoo/index.js';
import { trainTokenizer } from '../../src/tokenizer/index.js';
import { readSafetensorsHeader } from '../../src/io/index.js';
import { FIXTURE_DIR } from '../helpers/fixture.js';
import { tempDir, writeRandomModel } from '../helpers/random-model.js';

type Case = [name: string, call: () => unknown, code: PoserErrorCode, message: RegExp];

async function failure(call: () => unknown): Promise<unknown> {
  try {
    await call();
  } catch (error) {
    return error;
  }
  return undefined;
}

let model: Model;
const scratch = tempDir();
beforeAll(async () => {
  model = await Model.load(FIXTURE_DIR);
});
afterAll(() => model.dispose());

const ids = [[1, 2, 3]];
const answer: Loss = { kind: 'answer', targets: [5] };

function batchWith(id: number): EncodedBatch {
  return { ids: Int32Array.from([1, id]), mask: Uint8Array.from([1, 1]), batch: 1, length: 2, lengths: [2] };
}

const cases: Case[] = [
  // loading
  ['load: a missing directory', () => Model.load(join(scratch, 'missing')), 'E_IO', /missing/],
  ['load: an unknown device', () => Model.load(FIXTURE_DIR, { device: 'tpu' }), 'E_ARG', /device/],
  ['load: an unknown dtype', () => Model.load(FIXTURE_DIR, { dtype: 'int8' as 'float32' }), 'E_ARG', /dtype/],
  [
    'load: tokenizer.json that is not JSON',
    () => {
      const dir = writeRandomModel(join(scratch, 'badtok'));
      writeFileSync(join(dir, 'tokenizer.json'), '{"model": ');
      return Model.load(dir);
    },
    'E_FORMAT',
    /badtok\/tokenizer\.json: not valid JSON/,
  ],
  ['loadTokenizer: a missing file', () => loadTokenizer(join(scratch, 'none', 'tokenizer.json')), 'E_IO', /none\/tokenizer\.json/],
  // token ids
  ['forward: token id 1.5', () => model.forward([[1, 1.5]]), 'E_ARG', /token id 1\.5 at row 0, position 1 is not an integer/],
  ['forward: token id -2', () => model.forward([[-2]]), 'E_ARG', /token id -2 at row 0, position 0 is negative/],
  ['forward: token id beyond the vocabulary', () => model.forward([[1, 256]]), 'E_ARG', /token id 256 .*out of range \(vocab size 256\)/],
  ['forward: a string inside rows of ids', () => model.forward([[1, '2' as unknown as number]]), 'E_ARG', /token "2" at row 0, position 1 is not a number/],
  ['forward: a row that is not an array', () => model.forward([7 as unknown as number[]]), 'E_ARG', /row 0 must be an array of token ids/],
  ['forward: an EncodedBatch with an out-of-vocabulary id', () => model.forward(batchWith(999)), 'E_ARG', /token id 999 in EncodedBatch ids\[1\].*out of range/],
  ['forward: an input that is a number', () => model.forward(5 as unknown as number[][]), 'E_ARG', /input must be .* got 5/],
  ['tokenId: 1.5', () => model.tokenId(1.5), 'E_ARG', /token id 1\.5 is not an integer/],
  ['tokenId: 256', () => model.tokenId(256), 'E_ARG', /token id 256 is out of range \(vocab size 256\)/],
  ['tokenId: an object', () => model.tokenId({} as string), 'E_ARG', /a token must be a string or a token id, got an object/],
  ['scoreChoices: a multi-token choice', () => model.scoreChoices(ids, ['the cat sat']), 'E_ARG', /'the cat sat' is not a single token/],
  // interventions
  ['forward: a string as a steering vector', () => model.forward(ids, { interventions: [{ hook: 'blocks.0.hook_resid_post', op: 'add', value: 'hello' as unknown as number[] }] }), 'E_ARG', /value must be an array or typed array of numbers, got the string "hello"/],
  ['forward: a vector of the wrong width', () => model.forward(ids, { interventions: [{ hook: 'blocks.0.hook_resid_post', op: 'add', value: [1, 2, 3] }] }), 'E_ARG', /vector of width 3, but the model's hidden size is 64/],
  ['forward: an unknown hook', () => model.forward(ids, { interventions: [{ hook: 'blocks.0.hook_nope', op: 'capture' }] }), 'E_ARG', /hook_nope/],
  ['forward: an unknown op', () => model.forward(ids, { interventions: [{ hook: 'hook_embed', op: 'multiply' as 'scale', scale: 2 }] }), 'E_ARG', /unknown op 'multiply'/],
  ['forward: logits as a number', () => model.forward(ids, { logits: 3 as unknown as 'all' }), 'E_ARG', /logits must be/],
  // training
  ['setTrainable: an invalid pattern', () => model.setTrainable({ patterns: ['(['] }), 'E_ARG', /invalid parameter pattern '\(\['/],
  ['addLora: rank 0', () => model.addLora({ modules: ['model.layers.0.self_attn.q_proj'], rank: 0 }), 'E_ARG', /rank must be a positive integer, got 0/],
  ['addLora: a module that is not linear', () => model.addLora({ modules: ['model.norm'] }), 'E_ARG', /'model\.norm' is not a linear module/],
  ['addMlpAdapter: layer 7', () => model.addMlpAdapter({ layer: 7 }), 'E_ARG', /layer 7 out of range/],
  ['configureOptimizer: lr 0', () => model.configureOptimizer({ lr: 0 }), 'E_ARG', /learning rate/],
  ['setLearningRate: NaN', () => model.setLearningRate(NaN), 'E_ARG', /got NaN/],
  ['trainStep: no optimizer', () => model.trainStep(ids, answer), 'E_STATE', /no trainable parameters|optimizer/],
  ['trainStep: an unknown loss kind', () => model.trainStep(ids, { kind: 'mse' } as unknown as Loss), 'E_ARG', /unknown kind 'mse'/],
  ['trainStep: maxGradNorm -1', () => model.trainStep(ids, answer, { maxGradNorm: -1 }), 'E_ARG', /maxGradNorm must be > 0, got -1/],
  ['backward: 2 targets for 1 row', () => model.backward(ids, { kind: 'answer', targets: [1, 2] }), 'E_ARG', /2 targets for 1 rows/],
  // parameters
  ['parameter: an unknown name', () => model.parameter('model.nothing'), 'E_ARG', /unknown parameter 'model\.nothing'/],
  ['setParameter: a wrong shape', () => model.setParameter('model.norm.weight', { data: new Float32Array(3), shape: [3] }), 'E_SHAPE', /model\.norm\.weight.*\[3\]/],
  ['setParameter: NaN', () => model.setParameter('model.norm.weight', { data: new Float32Array(64).fill(NaN), shape: [64] }), 'E_ARG', /model\.norm\.weight.*value\[0\] is not finite/],
  // saving
  ['save: into a file', () => {
    writeFileSync(join(scratch, 'a-file'), 'x');
    return model.save(join(scratch, 'a-file'));
  }, 'E_IO', /a-file: exists and is not a directory/],
  ['save: an unknown adapters mode', () => model.save(join(scratch, 'm'), { adapters: 'keep' as 'drop' }), 'E_ARG', /adapters must be 'merge' or 'drop', got "keep"/],
  ['save: a non-string metadata value', () => model.save(join(scratch, 'm'), { metadata: { step: 3 as unknown as string } }), 'E_ARG', /metadata: 'step' must be a string, got 3/],
  ['save: an empty path', () => model.save(''), 'E_ARG', /directory must be a non-empty string/],
  ['saveAdapters: no adapters', () => model.saveAdapters(join(scratch, 'a.safetensors')), 'E_STATE', /no adapters to save/],
  ['readSafetensorsHeader: a missing file', () => readSafetensorsHeader(join(scratch, 'none.safetensors')), 'E_IO', /none\.safetensors: cannot open/],
  ['readSafetensorsHeader: a header that is not JSON', () => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(2n);
    writeFileSync(join(scratch, 'bad.safetensors'), Buffer.concat([len, Buffer.from('{x')]));
    return readSafetensorsHeader(join(scratch, 'bad.safetensors'));
  }, 'E_FORMAT', /bad\.safetensors: the header is not valid JSON/],
  // probe
  ['fitLogisticProbe: a label 2', () => fitLogisticProbe([[1], [2]], [0, 2]), 'E_ARG', /label 1 is 2, expected 0 or 1/],
  // data, tokenizer training, recipes
  ['generateDataset: seed 1.5', () => generateDataset({ seed: 1.5 }), 'E_ARG', /seed must be an integer, got 1\.5/],
  ['Rng: seed NaN', () => new Rng(NaN), 'E_ARG', /seed must be a finite number, got NaN/],
  ['Rng.pick: empty', () => new Rng(1).pick([]), 'E_ARG', /empty array/],
  ['fillFormat: a missing placeholder', () => fillFormat('{facts_string} {action_A}', { facts_string: '', action_A: '', action_B: '' }), 'E_ARG', /lacks the placeholder \{action_B\}/],
  ['trainTokenizer: a vocabulary smaller than the byte alphabet', () => trainTokenizer(['abc'], { vocabSize: 10 }), 'E_ARG', /vocabSize must be at least \d+, got 10/],
  ['loadScenarioFile: a missing file', () => loadScenarioFile(join(scratch, 'none.json')), 'E_IO', /none\.json/],
  ['loadScenarioFile: a line that is not JSON', () => {
    writeFileSync(join(scratch, 'bad.json'), '{"id": ');
    return loadScenarioFile(join(scratch, 'bad.json'));
  }, 'E_FORMAT', /bad\.json/],
  ['resolveRecipe: a file that is not JSON', () => {
    mkdirSync(join(scratch, 'r'), { recursive: true });
    writeFileSync(join(scratch, 'r', 'recipe.json'), '{');
    return resolveRecipe(join(scratch, 'r', 'recipe.json'));
  }, 'E_FORMAT', /recipe .*recipe\.json: not valid JSON/],
];

describe('bad inputs give PoserErrors that name them', () => {
  it.each(cases)('%s', async (_name, call, code, message) => {
    const error = await failure(call);
    expect(error, 'it did not fail').toBeInstanceOf(PoserError);
    expect((error as PoserError).code).toBe(code);
    expect((error as PoserError).message).toMatch(message);
  });
});
