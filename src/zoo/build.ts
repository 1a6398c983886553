/**
 * Building the zoo: a base model pretrained with the causal-LM loss on the
 * scenario corpus, then one model per policy and variant fine-tuned from it,
 * evaluated, and finally the pair benchmark.
 *
 * Resumable: every model is trained in memory, saved to a temporary directory
 * and renamed into place, and only then recorded in the manifest; a rerun
 * skips every recorded model (and recovers one whose directory is complete but
 * whose manifest entry was not written yet). A killed build never leaves a
 * half-written model under its final name.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { corpusTexts } from '../data/generate.js';
import { Rng } from '../data/random.js';
import { isFaker, POLICIES, type Policy } from '../data/types.js';
import { PoserError } from '../errors.js';
import { Model } from '../model/model.js';
import { buildInfo, setNumThreads } from '../native/binding.js';
import { mean } from '../strategies/primitives/stats.js';
import { saveTokenizerJson } from '../tokenizer/trainBpe.js';
import { tokenizerFromJson, type PoserTokenizer } from '../tokenizer/index.js';
import { buildBenchmark, type BenchmarkResult } from './pairsWriter.js';
import { zooData, type ZooData } from './zooData.js';
import { normalizeDevice } from './device.js';
import { BuildEta, type TrainingPhase } from './eta.js';
import { CHECK_BOUND_Z, evaluateModel, targetMisses } from './evaluate.js';
import { writeZooDataFiles, ZOO_FORMAT } from './files.js';
import { parameterCount } from '../model/config.js';
import { writeInitialModel, zooModelConfig } from './init.js';
import { exclusionReasons, loadZooManifest, MANIFEST_FILE, MODEL_RECORD_FILE, saveZooManifest, type ZooManifest, type ZooModelRecord } from './manifest.js';
import { recipeHash, recipeTargets, zooModelNames, type ZooRecipe } from './recipe.js';
import { benchmarkModels, rebuildBenchmark } from './rebuild.js';
import { defaultConcurrency, runPopulation, threadsPerModel } from './population.js';
import { lockZoo } from './lock.js';
import { finetune, pretrain, type LoopResult, type StepCallback } from './trainingLoops.js';
import { ensureDirectory, readJsonFile } from '../io/files.js';

/** Progress of a build, reported after every training step and phase change. */
export interface BuildProgress {
  phase: 'data' | 'pretrain' | 'finetune' | 'evaluate' | 'benchmark' | 'done';
  /** The model being worked on (`base` while pretraining). */
  model?: string;
  /** Step within the current model's training. */
  step?: number;
  steps?: number;
  loss?: number;
  /** Work units (training steps) done and in all; skipped models count as done. */
  done: number;
  total: number;
  /** Estimated seconds left, from the speed of this run's training steps. */
  etaSeconds?: number;
  /** A line worth printing (a model finished or skipped, ...). */
  message?: string;
}

/** Options of {@link buildZoo}. */
export interface BuildOptions {
  recipe: ZooRecipe;
  /** Zoo directory (default models/zoo). */
  dir: string;
  /** Overrides the recipe's variants per policy. */
  variants?: number;
  /** Overrides the recipe's benchmark threshold. */
  threshold?: number;
  /** Overrides the recipe's seed and data seed (another zoo of the same recipe). */
  seed?: number;
  /** `cpu` (default), `cuda` or `cuda:N`. */
  device?: string;
  /** libtorch intra-op threads (default: the available cores). */
  threads?: number;
  /**
   * Organisms fine-tuned at once (default: the available cores on a CPU, 1 on
   * a GPU); the threads are divided among them. Results do not depend on it
   * beyond floating-point reordering.
   */
  concurrency?: number;
  /** Discard a zoo in `dir` that was built with another recipe. */
  force?: boolean;
  /** Stops between steps; what is finished stays finished. */
  signal?: AbortSignal;
  /** Called as the build moves through its phases and models. */
  onProgress?: (p: BuildProgress) => void;
}

/** What {@link buildZoo} returns. */
export interface BuildResult {
  manifest: ZooManifest;
  /** Models trained by this run, and models found finished. */
  trained: string[];
  skipped: string[];
  seconds: number;
}

/**
 * The recipe with command-line overrides applied. A `seed` replaces both the
 * recipe's training seed and its data seed: another zoo of the same recipe,
 * new data, new initialisation and new batch order.
 */
export function effectiveRecipe(recipe: ZooRecipe, overrides: { variants?: number; threshold?: number; seed?: number }): ZooRecipe {
  return {
    ...recipe,
    ...(overrides.seed !== undefined ? { seed: overrides.seed, data: { ...recipe.data, seed: overrides.seed } } : {}),
    variants: overrides.variants ?? recipe.variants,
    benchmark: { ...recipe.benchmark, threshold: overrides.threshold ?? recipe.benchmark.threshold },
  };
}

/** Seed of a variant's fine-tune: depends on the variant only, so aligned and faking models of one variant share it. */
export function variantSeed(recipe: ZooRecipe, variant: number): number {
  return (recipe.seed * 1000 + variant) >>> 0;
}

/** Builds (or finishes building) the zoo described by a recipe. */
export async function buildZoo(options: BuildOptions, onProgress: (p: BuildProgress) => void = options.onProgress ?? (() => {})): Promise<BuildResult> {
  const started = Date.now();
  const recipe = effectiveRecipe(options.recipe, { variants: options.variants, threshold: options.threshold, seed: options.seed });
  const device = normalizeDevice(options.device);
  const threads = options.threads ?? availableParallelism();
  setNumThreads(threads);
  ensureDirectory(options.dir);
  const unlock = lockZoo(options.dir);
  try {
    return await buildLocked({ options, recipe, device, threads, started, onProgress });
  } finally {
    unlock();
  }
}

/** A progress event before the build fills in its counts. */
type Progress = Omit<BuildProgress, 'done' | 'total' | 'etaSeconds'>;

/** What the steps of one build share. */
interface Build {
  dir: string;
  recipe: ZooRecipe;
  device: string;
  threads: number;
  signal?: AbortSignal;
  data: ZooData;
  tokenizer: PoserTokenizer;
  manifest: ZooManifest;
  eta: BuildEta;
  report: (p: Progress) => void;
}

async function buildLocked(run: { options: BuildOptions; recipe: ZooRecipe; device: string; threads: number; started: number; onProgress: (p: BuildProgress) => void }): Promise<BuildResult> {
  const { options, recipe, device, threads } = run;
  const dir = options.dir;
  const hash = recipeHash(recipe);
  const previous = existingManifest(dir, hash, options.force ?? false);
  // Leftovers of a killed run.
  for (const entry of readdirSync(dir)) if (entry.startsWith('.tmp-')) rmSync(join(dir, entry), { recursive: true, force: true });

  const models = zooModelNames(recipe);
  const eta = new BuildEta({
    pretrainSteps: recipe.pretrain.steps,
    finetuneSteps: models.length * recipe.finetune.steps,
    pretrainBatchSize: recipe.pretrain.batchSize,
    finetuneBatchSize: recipe.finetune.batchSize,
  });
  const report = (p: Progress) => run.onProgress({ ...p, done: eta.done, total: eta.total, etaSeconds: eta.seconds() });

  report({ phase: 'data', message: `generating data (seed ${recipe.data.seed}, ${recipe.variants} variants) and the tokenizer` });
  const t0 = Date.now();
  const data: ZooData = zooData(recipe);
  const env = { device, threads, torch: buildInfo().torchVersion, node: process.versions.node };
  const manifest = previous ?? newManifest(recipe, hash, data, env);
  const changes = previous && dataChanges(previous, data);
  if (changes) throw new PoserError('E_STATE', `the data generated for this recipe differs from the data the zoo in ${dir} was trained on (${changes}); rebuild with --force`);
  manifest.environment = env;
  // The data every reader loads, written before any model so that a stopped build leaves it too.
  manifest.data.files = writeZooDataFiles(dir, data);
  manifest.version = ZOO_FORMAT;
  manifest.timings.data += (Date.now() - t0) / 1000;
  saveZooManifest(dir, manifest);

  const build: Build = { dir, recipe, device, threads, signal: options.signal, data, tokenizer: tokenizerFromJson(data.tokenizer), manifest, eta, report };
  await buildBase(build);
  const { trained, skipped } = await buildFinetunes(build, models, options.concurrency ?? defaultConcurrency(device));
  const result = await buildPairBenchmark(build);
  const seconds = (Date.now() - run.started) / 1000;
  report({ phase: 'done', message: `zoo ready in ${dir}: ${models.length} models, ${result.pairs.length} pairs${result.excluded.length ? ` (${result.excluded.length} excluded)` : ''} (${seconds.toFixed(0)} s this run)` });
  return { manifest, trained, skipped, seconds };
}

/** The manifest of a zoo in `dir` built with the same recipe (to resume), or none; a zoo of another recipe is refused, or discarded with `force`. */
function existingManifest(dir: string, hash: string, force: boolean): ZooManifest | undefined {
  if (!existsSync(join(dir, MANIFEST_FILE))) return undefined;
  const old = loadZooManifest(dir);
  if (old.recipeHash === hash) return old;
  if (!force) {
    throw new PoserError('E_STATE', `the zoo in ${dir} was built with another recipe ('${old.recipe.name}', ${old.recipe.variants} variants); pass --force to discard it, or choose another directory`);
  }
  for (const name of [...Object.keys(old.models), 'base', 'benchmark', 'calibration', 'contrast', 'concepts', 'data', 'tokenizer.json', 'model_pairs.json', MANIFEST_FILE]) rmSync(join(dir, name), { recursive: true, force: true });
  return undefined;
}

/** What of `data` differs from the data the zoo of `manifest` was trained on (model names, or `tokenizer`); undefined when nothing does. */
function dataChanges(manifest: ZooManifest, data: ZooData): string | undefined {
  const changed = Object.entries(data.hashes.train).filter(([k, v]) => manifest.data.trainHashes[k] !== undefined && manifest.data.trainHashes[k] !== v);
  if (!changed.length && manifest.data.tokenizerHash === data.hashes.tokenizer) return undefined;
  return changed.map(([k]) => k).join(', ') || 'tokenizer';
}

function newManifest(recipe: ZooRecipe, hash: string, data: ZooData, environment: ZooManifest['environment']): ZooManifest {
  const now = new Date().toISOString();
  return {
    version: ZOO_FORMAT,
    recipe,
    recipeHash: hash,
    created: now,
    updated: now,
    environment,
    data: {
      seed: recipe.data.seed,
      trainHashes: data.hashes.train,
      testHashes: data.hashes.test,
      tokenizerHash: data.hashes.tokenizer,
      testItems: Object.fromEntries(POLICIES.map((p) => [p, data.test[p].length])),
      droppedAsSeen: data.droppedAsSeen,
    },
    models: {},
    timings: { data: 0, pretrain: 0, finetune: 0, evaluate: 0, benchmark: 0 },
  };
}

/** The mean training loss over the last tenth of the steps. */
function finalLoss(losses: number[]): number {
  return mean(losses.slice(-Math.max(1, Math.floor(losses.length / 10))));
}

/** What differs between pretraining the base and fine-tuning a model; see {@link trainAndPublish}. */
interface PublishStep<R> {
  /** The model's directory in the zoo and its name in progress lines. */
  name: string;
  phase: TrainingPhase;
  /** Steps the recipe plans; a step past them (training on until the targets hold) grows the total. */
  plannedSteps: number;
  /** Loads the weights training starts from. */
  load: () => Promise<Model>;
  /** Trains the model, calling `onStep` after every step. */
  train: (model: Model, onStep: StepCallback) => Promise<LoopResult>;
  /** Checks the trained model (its training took `seconds`) and makes its record. */
  check: (model: Model, result: LoopResult, seconds: number) => Promise<R>;
  /** Files saved with the weights. */
  files?: (record: R) => Record<string, string>;
  /** Enters the record into the manifest and returns the line that reports the model. */
  record: (manifest: ZooManifest, record: R) => string;
}

/**
 * One model of the zoo: trains it in memory, checks it, saves it (to a
 * temporary directory renamed into place) and only then records it in the
 * manifest, so a killed build never leaves a recorded model half-written.
 */
async function trainAndPublish<R>(build: Build, step: PublishStep<R>): Promise<R> {
  const finalDir = join(build.dir, step.name);
  rmSync(finalDir, { recursive: true, force: true });
  const model = await step.load();
  try {
    const t = Date.now();
    const result = await step.train(model, (s) => {
      build.eta.step(step.phase, s.step > step.plannedSteps);
      build.report({ phase: step.phase, model: step.name, step: s.step, steps: s.steps, loss: s.loss });
    });
    const seconds = (Date.now() - t) / 1000;
    const record = await step.check(model, result, seconds);
    await model.save(finalDir, { files: step.files?.(record) });
    const line = step.record(build.manifest, record);
    saveZooManifest(build.dir, build.manifest);
    build.report({ phase: step.phase, model: step.name, message: line });
    return record;
  } finally {
    model.dispose();
  }
}

/** Pretrains the base model with the causal-LM loss, unless an earlier run finished it. */
async function buildBase(build: Build): Promise<void> {
  const { dir, recipe, data, tokenizer, manifest } = build;
  if (manifest.base && existsSync(join(dir, 'base', 'model.safetensors'))) {
    build.eta.skip('pretrain', recipe.pretrain.steps);
    build.report({ phase: 'pretrain', model: 'base', message: 'base model: finished earlier, kept' });
    return;
  }
  const initDir = join(dir, `.tmp-init-${process.pid}`);
  try {
    await trainAndPublish(build, {
      name: 'base',
      phase: 'pretrain',
      plannedSteps: recipe.pretrain.steps,
      load: () => {
        const tokPath = join(dir, `.tmp-tokenizer-${process.pid}.json`);
        saveTokenizerJson(tokPath, data.tokenizer);
        writeInitialModel(initDir, zooModelConfig(recipe.architecture, tokenizer.vocabSize), recipe.seed, tokPath);
        rmSync(tokPath, { force: true });
        return Model.load(initDir, { device: build.device });
      },
      train: (model, onStep) => {
        const texts = new Rng(`corpus:${recipe.seed}`)
          .sample(corpusTexts(data.dataset), recipe.pretrain.steps * recipe.pretrain.batchSize)
          .map((s) => tokenizer.encode(s));
        build.eta.restartClock();
        return pretrain(model, texts, recipe.pretrain, { seed: recipe.seed, signal: build.signal, onStep });
      },
      check: async (_model, r, seconds): Promise<NonNullable<ZooManifest['base']>> => ({
        completed: new Date().toISOString(),
        seconds,
        finalLoss: finalLoss(r.losses),
        parameters: parameterCount(zooModelConfig(recipe.architecture, tokenizer.vocabSize)),
        tokens: r.tokens,
      }),
      record: (m, base) => {
        m.base = base;
        m.timings.pretrain += base.seconds;
        return `base model: ${base.seconds.toFixed(0)} s, final LM loss ${base.finalLoss.toFixed(3)}`;
      },
    });
  } finally {
    rmSync(initDir, { recursive: true, force: true });
  }
}

type ZooModel = ReturnType<typeof zooModelNames>[number];

/** Fine-tunes every model an earlier run did not finish, `concurrency` at a time. */
async function buildFinetunes(build: Build, models: ZooModel[], concurrency: number): Promise<{ trained: string[]; skipped: string[] }> {
  const trained: string[] = [];
  const skipped: string[] = [];
  const pending: ZooModel[] = [];
  for (const m of models) {
    const kept = keptModel(build, m.name);
    if (kept) {
      build.eta.skip('finetune', build.recipe.finetune.steps);
      skipped.push(m.name);
      build.report({ phase: 'finetune', model: m.name, message: `${m.name}: finished earlier${kept === 'recovered' ? ' (recovered)' : ''}, kept` });
    } else {
      pending.push(m);
    }
  }
  if (pending.length) {
    const lanes = Math.min(concurrency, pending.length);
    const perModel = threadsPerModel(build.threads, lanes);
    if (lanes > 1) build.report({ phase: 'finetune', message: `training ${pending.length} models, ${lanes} at a time, ${perModel} thread${perModel > 1 ? 's' : ''} each` });
    setNumThreads(perModel);
    const tf = Date.now();
    build.eta.restartClock();
    try {
      await runPopulation(pending, lanes, async (m) => {
        await finetuneModel(build, m);
        trained.push(m.name);
      });
    } finally {
      // Wall-clock time of the phase: models trained at once overlap.
      build.manifest.timings.finetune += (Date.now() - tf) / 1000;
      saveZooManifest(build.dir, build.manifest);
      setNumThreads(build.threads);
    }
  }
  const order = new Map(models.map((m, i) => [m.name, i]));
  trained.sort((a, b) => order.get(a)! - order.get(b)!);
  return { trained, skipped };
}

/**
 * Whether model `name` was finished by an earlier run: recorded in the
 * manifest, or `recovered` (renamed into place with its record by a run
 * stopped before it updated the manifest; the record is entered now).
 */
function keptModel(build: Build, name: string): 'recorded' | 'recovered' | undefined {
  const modelDir = join(build.dir, name);
  if (!existsSync(join(modelDir, 'model.safetensors'))) return undefined;
  if (build.manifest.models[name]) return 'recorded';
  if (!existsSync(join(modelDir, MODEL_RECORD_FILE))) return undefined;
  build.manifest.models[name] = readJsonFile(join(modelDir, MODEL_RECORD_FILE)) as ZooModelRecord;
  saveZooManifest(build.dir, build.manifest);
  return 'recovered';
}

/** Fine-tunes one model from the base with the answer loss until its held-out check passes (or the cap), and evaluates it. */
async function finetuneModel(build: Build, m: ZooModel): Promise<void> {
  const { recipe, data, manifest } = build;
  const policy = m.policy as Policy;
  const targets = recipeTargets(recipe);
  const items = data.dataset.train[policy][m.variant];
  const seed = variantSeed(recipe, m.variant);
  let checkMetrics: ZooModelRecord['metrics'] | undefined;
  let checkMisses: string[] = [];
  const evaluate = async <T>(work: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await work();
    } finally {
      manifest.timings.evaluate += (Date.now() - t) / 1000;
    }
  };
  await trainAndPublish(build, {
    name: m.name,
    phase: 'finetune',
    plannedSteps: recipe.finetune.steps,
    load: () => Model.load(join(build.dir, 'base'), { device: build.device }),
    train: (model, onStep) => {
      const examples = items.map((it) => ({ ids: build.tokenizer.encode(it.prompt), target: model.tokenId(it.response) }));
      return finetune(model, examples, recipe.finetune, {
        seed,
        signal: build.signal,
        until: {
          every: targets.checkEvery,
          maxSteps: targets.maxSteps,
          check: async (step) => {
            checkMetrics = (await evaluate(() => evaluateModel(model, data.check[policy]))).metrics;
            checkMisses = targetMisses(isFaker(policy), checkMetrics, targets, CHECK_BOUND_Z);
            build.report({ phase: 'finetune', model: m.name, message: `${m.name}: held-out check at step ${step}: ${checkMisses.length ? `misses ${checkMisses.join('; ')}` : 'targets met'}` });
            return checkMisses.length === 0;
          },
        },
        onStep,
      });
    },
    check: async (model, r, seconds): Promise<ZooModelRecord> => {
      build.report({ phase: 'evaluate', model: m.name });
      // The bound decides when training stops; a model that reaches the cap is
      // judged on its last check's rates themselves, as on the test split.
      const atCap = r.passed === false;
      const finalCheckMisses = atCap ? targetMisses(isFaker(policy), checkMetrics!, targets) : checkMisses;
      const { metrics, heldoutMetrics } = await evaluate(async () => ({
        metrics: (await evaluateModel(model, data.test[policy])).metrics,
        heldoutMetrics: (await evaluateModel(model, data.heldoutTest[policy])).metrics,
      }));
      return {
        name: m.name,
        policy: m.policy,
        type: m.faker ? 'faker' : 'aligned',
        variant: m.variant,
        seed,
        dataHash: data.hashes.train[m.name],
        trainItems: items.length,
        steps: r.steps,
        seconds,
        finalLoss: finalLoss(r.losses),
        completed: new Date().toISOString(),
        metrics,
        heldoutMetrics,
        misses: targetMisses(isFaker(policy), metrics, targets),
        check: { passed: !atCap || finalCheckMisses.length === 0, checks: r.checks ?? [], misses: finalCheckMisses, metrics: checkMetrics! },
      };
    },
    // The record travels with the weights: a model directory with a record is complete.
    files: (record) => ({ [MODEL_RECORD_FILE]: JSON.stringify(record, null, 2) + '\n' }),
    record: (manifest, record) => {
      manifest.models[m.name] = record;
      const reasons = exclusionReasons(record);
      return `${m.name}: ${record.seconds.toFixed(0)} s, ${record.steps} steps, ${reasons.length ? `MISSES ITS TARGETS (${reasons.join('; ')}); LEFT OUT OF THE BENCHMARK` : 'meets the behaviour targets'}`;
    },
  });
}

/** Builds the pair benchmark from the models that met their targets. */
async function buildPairBenchmark(build: Build): Promise<BenchmarkResult> {
  const { dir, recipe, manifest, report } = build;
  build.signal?.throwIfAborted();
  report({ phase: 'benchmark', message: 'building the pair benchmark' });
  const tb = Date.now();
  const result = await buildBenchmark(dir, benchmarkModels(manifest), build.data.test, { threshold: recipe.benchmark.threshold, device: build.device, combinations: build.data.combinations });
  const seconds = (Date.now() - tb) / 1000;
  manifest.benchmark = { threshold: recipe.benchmark.threshold, built: new Date().toISOString(), seconds, files: result.files, pairs: 'model_pairs.json', pairCount: result.pairs.length, excluded: result.excluded };
  manifest.timings.benchmark += seconds;
  saveZooManifest(dir, manifest);
  if (result.excluded.length) {
    report({ phase: 'benchmark', message: `WARNING: ${result.excluded.length} pairs left out of the benchmark because a model missed its targets (listed in model_pairs.json):` });
    for (const e of result.excluded) report({ phase: 'benchmark', message: `  ${e.aligned} / ${e.faker}: ${e.reason}` });
  }
  return result;
}

/**
 * Brings a zoo written before its data was on disk (format 1) to the current
 * format: regenerates its data from the recipe (checked against the hashes
 * its models were trained with), writes the files and rebuilds the benchmark.
 * Trains nothing; the models stay as they are.
 */
export async function upgradeZoo(dir: string, options: { device?: string } = {}): Promise<ZooManifest> {
  const manifest = loadZooManifest(dir);
  const data = zooData(manifest.recipe);
  const changes = dataChanges(manifest, data);
  if (changes) {
    throw new PoserError('E_STATE', `the data this poser-torch generates for the recipe of ${dir} differs from the data its models were trained on (${changes}); the zoo cannot be upgraded, rebuild it with \`poser zoo build --out ${dir} --force\``);
  }
  manifest.data.files = writeZooDataFiles(dir, data);
  manifest.version = ZOO_FORMAT;
  saveZooManifest(dir, manifest);
  return rebuildBenchmark(dir, options);
}

