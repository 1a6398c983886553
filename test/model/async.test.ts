// Compute runs off the main thread: the event loop keeps turning during a long forward.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Model } from '../../src/index.js';
import { tempDir, writeRandomModel } from '../helpers/random-model.js';

let model: Model;
beforeAll(async () => {
  const dir = writeRandomModel(tempDir(), { vocab_size: 4096, hidden_size: 256, intermediate_size: 768, num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 4 });
  model = await Model.load(dir);
});
afterAll(() => model.dispose());

it('a JS timer keeps firing while a long forward runs', async () => {
  const rows = Array.from({ length: 32 }, (_, b) => Array.from({ length: 256 }, (_, t) => (b * 31 + t * 7) % 4096));
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const started = performance.now();
  await model.forward(rows, { logits: 'all' });
  const elapsed = performance.now() - started;
  clearInterval(timer);
  expect(elapsed).toBeGreaterThan(50); // long enough for the check to mean something
  expect(ticks).toBeGreaterThanOrEqual(Math.floor(elapsed / 5 / 4));
});
