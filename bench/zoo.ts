// The zoo's fine-tunes as the build ran them before against the population
// path, on the same work.
//
//   npx tsx bench/zoo.ts [--models K] [--steps S] [--concurrency C] [--threads N] [--quick]
//
// Four paths fine-tune the same K models of the default recipe (its data,
// tokenizer, architecture and fine-tune settings; each model's own data
// variant and seed) for S steps from one base. The base is the recipe's
// initial weights, not a pretrained model: a step's cost does not depend on
// the weights' values, and pretraining would cost minutes.
//   - before: one model after another on N threads, training through
//     composed libtorch ops on every position of every block (in a child
//     process with POSER_FUSED_TRAINING=0 POSER_TRIM_LAST_BLOCK=0, as the
//     switches are read once per process);
//   - sequential: one after another on N threads with the fused training
//     kernels, the answer loss's last block trimmed to its position (the
//     default);
//   - population: C models at once, N/C threads each, as sequential
//     otherwise: what buildZoo runs;
//   - composed population: C models at once through the composed ops (a
//     child process with POSER_FUSED_TRAINING=0), buildZoo's path before the
//     fused training kernels became the default.
// Each model is loaded and its data tokenized before the clock starts.
// It prints the times, the ratios, the largest parameter differences
// between the paths, and estimates of the default (12-model) and 36-model
// builds from the measured per-step costs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

// In the child that times a composed path: the parent's work folder, and which path.
const CHILD_WORK = args.values.get('child-work');
const CHILD_PATH = args.values.get('child-path') ?? 'sequential';
if (CHILD_PATH !== 'sequential' && CHILD_PATH !== 'population') throw new Error(`--child-path must be sequential or population, got ${CHILD_PATH}`);
// The other paths train with the fused kernels, whatever the caller's setting (read at the first training step).
if (!CHILD_WORK) process.env.POSER_FUSED_TRAINING = '1';
const recipe = DEFAULT_RECIPE;
let t = performance.now();
const data = zooData(recipe);
const dataSeconds = (performance.now() - t) / 1000;
const tokenizer = tokenizerFromJson(data.tokenizer);
const work = CHILD_WORK ?? mkdtempSync(join(tmpdir(), 'poser-bench-zoo-'));
const baseDir = join(work, 'base');
if (!CHILD_WORK) {
  const tokPath = join(work, 'tokenizer.json');
  saveTokenizerJson(tokPath, data.tokenizer);
  writeInitialModel(baseDir, zooModelConfig(recipe.architecture, tokenizer.vocabSize), recipe.seed, tokPath);
}
const phase = { ...recipe.finetune, steps: STEPS };
// The schedule's stages scaled to STEPS steps keep the learning-rate changes (optimizer rebuilds) of a real run.
const models = zooModelNames(recipe).slice(0, K);

interface Trained {
  params: Float32Array[];
  /** Wall-clock milliseconds per fine-tune step: the path's training time over its K x S steps. */
  stepMs: number;
  /** The per-model work before training (loading, tokenizing), seconds per model; JavaScript on the main thread, so never overlapped. */
  perModelS: number;
}

interface Prepared {
  model: Model;
  examples: { ids: number[]; target: number }[];
  seed: number;
}

// Loads the base and tokenizes the model's data: done for every model before any path's clock starts.
async function prepare(m: (typeof models)[number]): Promise<Prepared> {
  const model = await Model.load(baseDir);
  const items = data.dataset.train[m.policy as Policy][m.variant];
  return { model, examples: items.map((it) => ({ ids: tokenizer.encode(it.prompt), target: model.tokenId(it.response) })), seed: variantSeed(recipe, m.variant) };
}

async function prepareAll(): Promise<{ prepared: Prepared[]; perModelS: number }> {
  const start = performance.now();
  const prepared: Prepared[] = [];
  for (const m of models) prepared.push(await prepare(m));
  return { prepared, perModelS: (performance.now() - start) / 1000 / K };
}

// Fine-tunes a prepared model, then reads its parameters (sorted by name) and frees it.
async function train(p: Prepared): Promise<Float32Array[]> {
  try {
    await finetune(p.model, p.examples, phase, { seed: p.seed });
    const { parameters } = await p.model.parameterNames();
    return await Promise.all([...parameters].sort().map(async (n) => (await p.model.parameter(n)).data as Float32Array));
  } finally {
    p.model.dispose();
  }
}

// A composed path in a child process (the fused training kernels off; before also without the trimmed last block), on this process's base model.
function timeComposedPath(path: 'sequential' | 'population'): Trained & { seconds: number } {
  const script = fileURLToPath(import.meta.url);
  const argv = ['--models', String(K), '--steps', String(STEPS), '--threads', String(args.threads), '--concurrency', String(CONCURRENCY), '--child-work', work, '--child-path', path];
  const out = execFileSync(process.execPath, [...process.execArgv, script, ...argv], {
    env: { ...process.env, POSER_FUSED_TRAINING: '0', ...(path === 'sequential' ? { POSER_TRIM_LAST_BLOCK: '0' } : {}) },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const timing = JSON.parse(out.trim().split('\n').pop()!) as { seconds: number; stepMs: number; perModelS: number };
  const bytes = readFileSync(join(work, `${path}.f32`));
  return { ...timing, params: [new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)] };
}

// Every model's parameters end to end, in one array.
function flatten(params: Float32Array[]): Float32Array {
  const flat = new Float32Array(params.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of params) {
    flat.set(p, at);
    at += p.length;
  }
  return flat;
}

async function sequential(): Promise<Trained & { seconds: number }> {
  setNumThreads(args.threads);
  const { prepared, perModelS } = await prepareAll();
  const start = performance.now();
  const params: Float32Array[] = [];
  for (const p of prepared) params.push(...(await train(p)));
  const seconds = (performance.now() - start) / 1000;
  return { params, stepMs: (seconds * 1000) / (K * STEPS), perModelS, seconds };
}

async function population(): Promise<Trained & { seconds: number }> {
  setNumThreads(threadsPerModel(args.threads, CONCURRENCY));
  const { prepared, perModelS } = await prepareAll();
  const start = performance.now();
  const out: Float32Array[][] = [];
  await runPopulation(prepared, CONCURRENCY, async (p, i) => {
    out[i] = await train(p);
  });
  const seconds = (performance.now() - start) / 1000;
  setNumThreads(args.threads);
  return { params: out.flat(), stepMs: (seconds * 1000) / (K * STEPS), perModelS, seconds };
}

// Warm-up (allocator, thread pools), not timed.
await train(await prepare(models[0]));

if (CHILD_WORK) {
  // A composed path: parameters to a file, times as the last line of output.
  const r = CHILD_PATH === 'population' ? await population() : await sequential();
  writeFileSync(join(work, `${CHILD_PATH}.f32`), flatten(r.params));
  console.log(JSON.stringify({ seconds: r.seconds, stepMs: r.stepMs, perModelS: r.perModelS }));
  process.exit(0);
}

const before = timeComposedPath('sequential');
const composedPop = timeComposedPath('population');
const seq = await sequential();
const pop = await population();
const maxDiff = (a: Float32Array[], b: Float32Array[]) => {
  const x = flatten(a), y = flatten(b);
  if (x.length !== y.length) throw new Error(`the paths trained ${x.length} and ${y.length} parameters`);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
};
const popDiff = maxDiff(seq.params, pop.params), kernelDiff = maxDiff(seq.params, before.params);
const composedPopDiff = maxDiff(before.params, composedPop.params);

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
  [`before: composed ops, one model at a time (${args.threads} threads)`, fmt(before.seconds, 2), fmt(before.stepMs, 1), K * STEPS],
  [`sequential: fused kernels, one model at a time (${args.threads} threads)`, fmt(seq.seconds, 2), fmt(seq.stepMs, 1), K * STEPS],
  [`population: fused kernels, ${CONCURRENCY} at once, ${threadsPerModel(args.threads, CONCURRENCY)} thread(s) each`, fmt(pop.seconds, 2), fmt(pop.stepMs, 1), K * STEPS],
  [`composed population: composed ops, ${CONCURRENCY} at once, ${threadsPerModel(args.threads, CONCURRENCY)} thread(s) each`, fmt(composedPop.seconds, 2), fmt(composedPop.stepMs, 1), K * STEPS],
]));
console.log(`seconds: fine-tuning only; before it, each model's loading and tokenizing took ${fmt(seq.perModelS, 2)} s (not timed)`);
console.log(`population vs before: ${fmt(before.seconds / pop.seconds, 2)}x faster (what buildZoo runs)`);
console.log(`composed population vs before: ${fmt(before.seconds / composedPop.seconds, 2)}x faster (buildZoo with POSER_FUSED_TRAINING=0)`);
console.log(`population vs sequential: ${fmt(seq.seconds / pop.seconds, 2)}x faster`);
console.log(`sequential vs before (the kernels and the trimmed last block): ${fmt(before.seconds / seq.seconds, 2)}x faster`);
console.log(`max |parameter difference| after ${STEPS} steps: population vs sequential ${popDiff.toExponential(2)}, sequential vs before ${kernelDiff.toExponential(2)}, composed population vs before ${composedPopDiff.toExponential(2)}`);
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
    const b = estimate(variants, before, 1, steps), s = estimate(variants, seq, 1, steps), p = estimate(variants, pop, CONCURRENCY, steps);
    const d = estimate(variants, composedPop, CONCURRENCY, steps);
    rows.push([`${n} models, ${steps} fine-tune steps each`, fmt(b / 60, 1), fmt(s / 60, 1), fmt(p / 60, 1), fmt(b / p, 2), fmt(d / 60, 1), fmt(b / d, 2)]);
  }
}
console.log('\nestimated zoo build, minutes (without the pair benchmark; pretraining and evaluations as measured here, with the fused kernels, for every path; evaluations of models trained at once taken to overlap fully):');
console.log(table(['zoo', 'before', 'sequential', 'population', 'before / population', 'composed population', 'before / composed population'], rows));
console.log(await loadNote(args.threads));
