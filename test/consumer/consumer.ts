// A consumer of the installed package: strict types (no skipLibCheck), then a run
// on the packaged example model: load, capture, steer, score.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Model, PoserError, residPost, STRATEGIES, type Float32NdArray, type Intervention } from 'poser-torch';
import { cosineSimilarity } from 'poser-torch/primitives';
import { MICRO_RECIPE } from 'poser-torch/zoo';
import { trainTokenizer } from 'poser-torch/tokenizer';

// The example ships inside the package, next to package.json.
const packageDir = dirname(createRequire(import.meta.url).resolve('poser-torch/package.json'));
const model = await Model.load(join(packageDir, 'examples', 'tiny-llama'));
const prompts = ['<<prompt>>The monitor is off.<</prompt>>', '<<prompt>>You are watched.<</prompt>>'];

// capture: the residual stream after block 1 at the last token, [B, D]
const acts: Record<string, Float32NdArray> = await model.capture(prompts, [residPost(1)]);
const v = acts[residPost(1)];
assert.ok(v, 'the captured hook is in the result');
assert.deepEqual(v.shape, [2, model.hiddenSize]);

// steer: add the difference of the two rows at that hook, and score A against B
const direction = Float32Array.from({ length: model.hiddenSize }, (_, i) => v.get(0, i) - v.get(1, i));
const steer: Intervention = { hook: residPost(1), op: 'add', value: direction, scale: 3 };
const plain = await model.scoreChoices(prompts, ['A', 'B']);
const steered = await model.scoreChoices(prompts, ['A', 'B'], { interventions: [steer] });
for (const rows of [plain, steered]) {
  for (const [pA, pB] of rows.map((r) => [r[0] ?? NaN, r[1] ?? NaN] as const)) {
    assert.ok(pA > 0 && pB > 0 && pA + pB <= 1, `probabilities in (0, 1]: ${pA}, ${pB}`);
  }
}
assert.notDeepEqual(steered, plain, 'steering changes the answer probabilities');
assert.ok(Math.abs(cosineSimilarity(direction, direction) - 1) < 1e-6);

// errors are PoserErrors with a code
await assert.rejects(model.capture(prompts, ['blocks.9.hook_resid_post']), (e: unknown) => e instanceof PoserError && e.code === 'E_ARG');
model.dispose();

assert.equal(STRATEGIES.noiseInjection.id, 2);
assert.equal(typeof MICRO_RECIPE, 'object');
assert.equal(typeof trainTokenizer, 'function');
console.log(`consumer (ESM): capture ${v.shape.join('x')}, P(A) ${plain[0]?.[0]?.toFixed(4)} -> ${steered[0]?.[0]?.toFixed(4)} steered`);
