// The zoo's fine-tunes one at a time against the population path, on the same work.
//
//   npx tsx bench/zoo.ts [--models K] [--steps S] [--concurrency C] [--threads N] [--quick]
//
// Both paths fine-tune the same K models of the default recipe (its data,
// tokenizer, architecture and fine-tune settings; each model's own data
// variant and seed) for S steps from one base. The base is the recipe's
// initial weights, not a pretrained model: a step's cost does not depend on
// the weights' values, and pretraining would cost minutes. Sequential: one
// model after another on N threads (what `poser zoo build` did). Population:
// C models at once, N/C threads each (buildZoo's default). It prints both
// times, the ratio, the largest parameter difference between the two paths,
// and estimates of the default (12-model) and 36-model builds from the
// measured per-step costs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../src/data/random.js';
import { corpusTexts } from '../src/data/generate.js';
import type { Policy } from '../src/data/types.js';
import { Model } from '../src/model/model.js';
import { setNumThreads } from '../src/native/binding.js';
import { saveTokenizerJson } from '../src/tokenizer/trainBpe.js';
import { tokenizerFromJson } from '../src/tokenizer/index.js';
import { variantSeed } from '../src/zoo/build.js';
import { zooData } from '../src/zoo/zooData.js';
import { evaluateModel } from '../src/zoo/evaluate.js';
import { writeInitialModel, zooModelConfig } from '../src/zoo/init.js';
import { runPopulation, threadsPerModel } from '../src/zoo/population.js';
import { DEFAULT_RECIPE, recipeTargets, zooModelNames } from '../src/zoo/recipe.js';
import { finetune, pretrain } from '../src/zoo/trainingLoops.js';
import { fmt, loadNote, parseArgs, table } from './common.js';

const args = parseArgs();
const int = (key: string, fallback: number) => {
  const v = args.values.has(key) ? Number(args.values.get(key)) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${key} must be a positive integer`);
  return v;
};
const K = int('models', args.quick ? 2 : 4);
const STEPS = int('steps', args.quick ? 20 : 60);
const CONCURRENCY = int('concurrency', args.threads);
const PRETRAIN_STEPS = args.quick ? 4 : 10;
console.log(`${K} models x ${STEPS} fine-tune steps of the default recipe; threads ${args.threads}; population: ${CONCURRENCY} at once, ${threadsPerModel(args.threads, CONCURRENCY)} thread(s) each`);
console.log(await loadNote(args.threads));

const recipe = DEFAULT_RECIPE;
let t = performance.now();
const data = zooData(recipe);
const dataSeconds = (performance.now() - t) / 1000;
const tokenizer = tokenizerFromJson(data.tokenizer);
const work = mkdtempSync(join(tmpdir(), 'poser-bench-zoo-'));
const tokPath = join(work, 'tokenizer.json');
saveTokenizerJson(tokPath, data.tokenizer);
const baseDir = join(work, 'base');
writeInitialModel(baseDir, zooModelConfig(recipe.architecture, tokenizer.vocabSize), recipe.seed, tokPath);
const phase = { ...recipe.finetune, steps: STEPS };
// The schedule's stages scaled to STEPS steps keep the learning-rate changes (optimizer rebuilds) of a real run.
const models = zooModelNames(recipe).slice(0, K);

interface Trained {
  params: Float32Array[];
  /** Wall-clock milliseconds per fine-tune step, without the per-model work (tokenizing, loading, reading weights). */
  stepMs: number;
  /** That per-model work, seconds per model (wall-clock, so overlapped in the population). */
  perModelS: number;
}

async function trainModel(m: (typeof models)[number]): Promise<{ params: Float32Array[]; ms: number }> {
  const model = await Model.load(baseDir);
  try {
    const items = data.dataset.train[m.policy as Policy][m.variant];
    const examples = items.map((it) => ({ ids: tokenizer.encode(it.prompt), target: model.tokenId(it.response) }));
    const start = performance.now();
    await finetune(model, examples, phase, { seed: variantSeed(recipe, m.variant) });
    const ms = performance.now() - start;
    const { parameters } = await model.parameterNames();
    const params = await Promise.all([...parameters].sort().map(async (n) => (await model.parameter(n)).data as Float32Array));
    return { params, ms };
  } finally {
    model.dispose();
  }
}

async function sequential(): Promise<Trained & { seconds: number }> {
  setNumThreads(args.threads);
  const start = performance.now();
  const params: Float32Array[] = [];
  let ms = 0;
  for (const m of models) {
    const r = await trainModel(m);
    params.push(...r.params);
    ms += r.ms;
  }
  const seconds = (performance.now() - start) / 1000;
  return { params, stepMs: ms / (K * STEPS), perModelS: (seconds - ms / 1000) / K, seconds };
}

async function population(seq: Trained): Promise<Trained & { seconds: number }> {
  setNumThreads(threadsPerModel(args.threads, CONCURRENCY));
  const start = performance.now();
  const out: Float32Array[][] = [];
  await runPopulation(models, CONCURRENCY, async (m, i) => {
    out[i] = (await trainModel(m)).params;
  });
  const seconds = (performance.now() - start) / 1000;
  setNumThreads(args.threads);
  // Effective cost of a step: the population's wall time over all its steps,
  // less the per-model work measured one at a time, overlapped as the models are.
  const perModelS = seq.perModelS / CONCURRENCY;
  return { params: out.flat(), stepMs: ((seconds - K * perModelS) * 1000) / (K * STEPS), perModelS, seconds };
}

// Warm-up (allocator, thread pools), not timed.
await trainModel(models[0]);

const seq = await sequential();
const pop = await population(seq);
let maxDiff = 0;
for (let i = 0; i < seq.params.length; i++) {
  const a = seq.params[i], b = pop.params[i];
  for (let j = 0; j < a.length; j++) maxDiff = Math.max(maxDiff, Math.abs(a[j] - b[j]));
}

// The other costs of a build, measured once: pretraining steps and a model's evaluations.
setNumThreads(args.threads);
const model = await Model.load(baseDir);
const texts = new Rng(`corpus:${recipe.seed}`).sample(corpusTexts(data.dataset), PRETRAIN_STEPS * recipe.pretrain.batchSize).map((s) => tokenizer.encode(s));
t = performance.now();
await pretrain(model, texts, { ...recipe.pretrain, steps: PRETRAIN_STEPS }, { seed: recipe.seed });
const pretrainStepMs = (performance.now() - t) / PRETRAIN_STEPS;
const policy = models[0].policy as Policy;
t = performance.now();
await evaluateModel(model, data.check[policy]);
const checkSeconds = (performance.now() - t) / 1000;
t = performance.now();
await evaluateModel(model, data.test[policy]);
await evaluateModel(model, data.heldoutTest[policy]);
const finalEvalSeconds = (performance.now() - t) / 1000;
model.dispose();
rmSync(work, { recursive: true, force: true });

console.log(table(['path', 'seconds', 'ms per step (wall)', 'steps'], [
  [`sequential (${args.threads} threads, one model at a time)`, fmt(seq.seconds, 2), fmt(seq.stepMs, 1), K * STEPS],
  [`population (${CONCURRENCY} at once, ${threadsPerModel(args.threads, CONCURRENCY)} thread(s) each)`, fmt(pop.seconds, 2), fmt(pop.stepMs, 1), K * STEPS],
]));
console.log(`per-model work (tokenizing, loading, reading weights): ${fmt(seq.perModelS, 2)} s one at a time`);
console.log(`population vs sequential: ${fmt(seq.seconds / pop.seconds, 2)}x faster (wall), ${fmt(seq.stepMs / pop.stepMs, 2)}x per step; max |parameter difference| between the paths after ${STEPS} steps: ${maxDiff.toExponential(2)}`);
console.log(`pretraining step ${fmt(pretrainStepMs, 1)} ms; held-out check ${fmt(checkSeconds, 2)} s; final evaluation ${fmt(finalEvalSeconds, 2)} s; data + tokenizer ${fmt(dataSeconds, 1)} s`);

// Estimates: data + pretraining + each model's fine-tune (planned steps, and the cap when every model trains on) + its checks and evaluations.
const targets = recipeTargets(recipe);
const estimate = (variants: number, path: Trained, overlap: number, steps: number) => {
  const n = zooModelNames({ ...recipe, variants }).length;
  const checks = 1 + Math.max(0, Math.floor((steps - recipe.finetune.steps) / targets.checkEvery));
  const perModel = (steps * path.stepMs) / 1000 + path.perModelS + (checks * checkSeconds + finalEvalSeconds) / overlap;
  return dataSeconds + (recipe.pretrain.steps * pretrainStepMs) / 1000 + n * perModel;
};
const rows: (string | number)[][] = [];
for (const variants of [recipe.variants, 6]) {
  const n = zooModelNames({ ...recipe, variants }).length;
  for (const steps of [recipe.finetune.steps, targets.maxSteps]) {
    const s = estimate(variants, seq, 1, steps), p = estimate(variants, pop, CONCURRENCY, steps);
    rows.push([`${n} models, ${steps} fine-tune steps each`, fmt(s / 60, 1), fmt(p / 60, 1), fmt(s / p, 2)]);
  }
}
console.log('\nestimated zoo build, minutes (without the pair benchmark; evaluations of models trained at once taken to overlap fully):');
console.log(table(['zoo', 'sequential', 'population', 'ratio'], rows));
console.log(await loadNote(args.threads));
