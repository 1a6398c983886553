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
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { corpusTexts } from '../data/generate.js';
import { Rng } from '../data/random.js';
import { isFaker, POLICIES, type Policy } from '../data/types.js';
import { PoserError } from '../errors.js';
import { Model } from '../model/model.js';
import { buildInfo, setNumThreads } from '../native/binding.js';
import { saveTokenizerJson } from '../tokenizer/trainBpe.js';
import { tokenizerFromJson } from '../tokenizer/index.js';
import { buildBenchmark } from './pairsWriter.js';
import { zooData, type ZooData } from './zooData.js';
import { normalizeDevice } from './device.js';
import { evaluateModel, targetMisses } from './evaluate.js';
import { writeZooDataFiles, ZOO_FORMAT } from './files.js';
import { parameterCount } from '../model/config.js';
import { writeInitialModel, zooModelConfig } from './init.js';
import { exclusionReasons, loadZooManifest, MANIFEST_FILE, MODEL_RECORD_FILE, saveZooManifest, type ZooManifest, type ZooModelRecord } from './manifest.js';
import { recipeHash, recipeTargets, zooModelNames, type ZooRecipe } from './recipe.js';
import { benchmarkModels, rebuildBenchmark } from './rebuild.js';
import { defaultConcurrency, runPopulation, threadsPerModel } from './population.js';
import { finetune, pretrain } from './trainingLoops.js';
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

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

/** Builds (or finishes building) the zoo described by a recipe. */
export async function buildZoo(options: BuildOptions, onProgress: (p: BuildProgress) => void = options.onProgress ?? (() => {})): Promise<BuildResult> {
  const started = Date.now();
  const recipe = effectiveRecipe(options.recipe, { variants: options.variants, threshold: options.threshold, seed: options.seed });
  const hash = recipeHash(recipe);
  const dir = options.dir;
  const device = normalizeDevice(options.device);
  const threads = options.threads ?? availableParallelism();
  setNumThreads(threads);
  ensureDirectory(dir);
  const unlock = lockZoo(dir);
  try {
    return await buildLocked(options, recipe, hash, dir, device, threads, started, onProgress);
  } finally {
    unlock();
  }
}

/** Takes `<dir>/build.lock` (a second build in the same directory is refused; a dead owner's lock is taken over). */
function lockZoo(dir: string): () => void {
  const path = join(dir, 'build.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new PoserError('E_IO', `${path}: cannot create the build lock: ${(error as Error).message}`, { cause: error });
      const owner = Number(readFileSync(path, 'utf8'));
      let alive = false;
      try {
        if (owner > 0 && owner !== process.pid) {
          process.kill(owner, 0);
          alive = true;
        }
      } catch {
        alive = false;
      }
      if (alive) throw new PoserError('E_STATE', `another build (process ${owner}) is running in ${dir}; wait for it or stop it (${path})`);
      rmSync(path, { force: true });
    }
  }
  throw new PoserError('E_STATE', `cannot lock ${path}`);
}

async function buildLocked(
  options: BuildOptions,
  recipe: ZooRecipe,
  hash: string,
  dir: string,
  device: string,
  threads: number,
  started: number,
  onProgress: (p: BuildProgress) => void,
): Promise<BuildResult> {
  // An existing zoo: same recipe (resume) or refuse.
  let manifest: ZooManifest | undefined;
  if (existsSync(join(dir, MANIFEST_FILE))) {
    const old = loadZooManifest(dir);
    if (old.recipeHash !== hash) {
      if (!options.force) {
        throw new PoserError('E_STATE', `the zoo in ${dir} was built with another recipe ('${old.recipe.name}', ${old.recipe.variants} variants); pass --force to discard it, or choose another directory`);
      }
      for (const name of [...Object.keys(old.models), 'base', 'benchmark', 'calibration', 'contrast', 'concepts', 'data', 'tokenizer.json', 'model_pairs.json', MANIFEST_FILE]) rmSync(join(dir, name), { recursive: true, force: true });
    } else {
      manifest = old;
    }
  }
  // Leftovers of a killed run.
  for (const entry of readdirSync(dir)) if (entry.startsWith('.tmp-')) rmSync(join(dir, entry), { recursive: true, force: true });

  const models = zooModelNames(recipe);
  const pretrainUnits = recipe.pretrain.steps;
  // Grows when a model trains past its steps to meet its targets.
  let total = pretrainUnits + models.length * recipe.finetune.steps;
  let done = 0;
  // ETA: remaining steps of each phase at that phase's measured speed; before any
  // fine-tune step is measured, a fine-tune step is taken to cost a pretraining
  // step scaled by the batch sizes (the causal-LM loss costs about 1.7x the answer loss).
  const speed = { pretrain: { steps: 0, ms: 0 }, finetune: { steps: 0, ms: 0 } };
  let ptLeft = pretrainUnits;
  let ftLeft = models.length * recipe.finetune.steps;
  const ratio = recipe.finetune.batchSize / (1.7 * recipe.pretrain.batchSize);
  const eta = (): number | undefined => {
    const pt = speed.pretrain.steps ? speed.pretrain.ms / speed.pretrain.steps : undefined;
    const ft = speed.finetune.steps ? speed.finetune.ms / speed.finetune.steps : pt !== undefined ? pt * ratio : undefined;
    if (ft === undefined) return undefined;
    return (ptLeft * (pt ?? ft / ratio) + ftLeft * ft) / 1000;
  };
  let lastStep = Date.now();
  const stepDone = (phase: 'pretrain' | 'finetune') => {
    const now = Date.now();
    speed[phase].steps++;
    speed[phase].ms += now - lastStep;
    lastStep = now;
    done++;
    if (phase === 'pretrain') ptLeft--;
    else ftLeft--;
  };
  const report = (p: Omit<BuildProgress, 'done' | 'total' | 'etaSeconds'>) => onProgress({ ...p, done, total, etaSeconds: eta() });

  report({ phase: 'data', message: `generating data (seed ${recipe.data.seed}, ${recipe.variants} variants) and the tokenizer` });
  const t0 = Date.now();
  const data: ZooData = zooData(recipe);
  const env = { device, threads, torch: buildInfo().torchVersion, node: process.versions.node };
  if (manifest) {
    const changed = Object.entries(data.hashes.train).filter(([k, v]) => manifest!.data.trainHashes[k] !== undefined && manifest!.data.trainHashes[k] !== v);
    if (changed.length || manifest.data.tokenizerHash !== data.hashes.tokenizer) {
      throw new PoserError('E_STATE', `the data generated for this recipe differs from the data the zoo in ${dir} was trained on (${changed.map(([k]) => k).join(', ') || 'tokenizer'}); rebuild with --force`);
    }
  } else {
    const now = new Date().toISOString();
    manifest = {
      version: ZOO_FORMAT,
      recipe,
      recipeHash: hash,
      created: now,
      updated: now,
      environment: env,
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
  manifest.environment = env;
  // The data every reader loads, written before any model so that a stopped build leaves it too.
  manifest.data.files = writeZooDataFiles(dir, data);
  manifest.version = ZOO_FORMAT;
  manifest.timings.data += (Date.now() - t0) / 1000;
  saveZooManifest(dir, manifest);
  const targets = recipeTargets(recipe);
  const tokenizer = tokenizerFromJson(data.tokenizer);
  const baseDir = join(dir, 'base');

  // ---- base model
  if (manifest.base && existsSync(join(baseDir, 'model.safetensors'))) {
    done += pretrainUnits;
    ptLeft = 0;
    report({ phase: 'pretrain', model: 'base', message: 'base model: finished earlier, kept' });
  } else {
    rmSync(baseDir, { recursive: true, force: true });
    const initDir = join(dir, `.tmp-init-${process.pid}`);
    const tokPath = join(dir, `.tmp-tokenizer-${process.pid}.json`);
    saveTokenizerJson(tokPath, data.tokenizer);
    writeInitialModel(initDir, zooModelConfig(recipe.architecture, tokenizer.vocabSize), recipe.seed, tokPath);
    rmSync(tokPath, { force: true });
    const model = await Model.load(initDir, { device });
    const t = Date.now();
    try {
      const texts = new Rng(`corpus:${recipe.seed}`)
        .sample(corpusTexts(data.dataset), recipe.pretrain.steps * recipe.pretrain.batchSize)
        .map((s) => tokenizer.encode(s));
      lastStep = Date.now();
      const r = await pretrain(model, texts, recipe.pretrain, {
        seed: recipe.seed,
        signal: options.signal,
        onStep: (s) => {
          stepDone('pretrain');
          report({ phase: 'pretrain', model: 'base', step: s.step, steps: s.steps, loss: s.loss });
        },
      });
      await model.save(baseDir);
      const seconds = (Date.now() - t) / 1000;
      manifest.base = {
        completed: new Date().toISOString(),
        seconds,
        finalLoss: mean(r.losses.slice(-Math.max(1, Math.floor(r.losses.length / 10)))),
        parameters: parameterCount(zooModelConfig(recipe.architecture, tokenizer.vocabSize)),
        tokens: r.tokens,
      };
      manifest.timings.pretrain += seconds;
      saveZooManifest(dir, manifest);
      report({ phase: 'pretrain', model: 'base', message: `base model: ${seconds.toFixed(0)} s, final LM loss ${manifest.base.finalLoss.toFixed(3)}` });
    } finally {
      model.dispose();
      rmSync(initDir, { recursive: true, force: true });
    }
  }

  // ---- fine-tunes: finished models are kept; the rest train as a population
  const trained: string[] = [];
  const skipped: string[] = [];
  const pending: typeof models = [];
  for (const m of models) {
    const finalDir = join(dir, m.name);
    if (manifest.models[m.name] && existsSync(join(finalDir, 'model.safetensors'))) {
      done += recipe.finetune.steps;
      ftLeft -= recipe.finetune.steps;
      skipped.push(m.name);
      report({ phase: 'finetune', model: m.name, message: `${m.name}: finished earlier, kept` });
      continue;
    }
    if (existsSync(join(finalDir, MODEL_RECORD_FILE)) && existsSync(join(finalDir, 'model.safetensors'))) {
      // Renamed into place by a run that was stopped before it updated the manifest.
      manifest.models[m.name] = readJsonFile(join(finalDir, MODEL_RECORD_FILE)) as ZooModelRecord;
      saveZooManifest(dir, manifest);
      done += recipe.finetune.steps;
      ftLeft -= recipe.finetune.steps;
      skipped.push(m.name);
      report({ phase: 'finetune', model: m.name, message: `${m.name}: finished earlier (recovered), kept` });
      continue;
    }
    pending.push(m);
  }

  const trainOne = async (m: (typeof models)[number]): Promise<void> => {
    const finalDir = join(dir, m.name);
    const policy = m.policy as Policy;
    rmSync(finalDir, { recursive: true, force: true });
    const items = data.dataset.train[policy][m.variant];
    const model = await Model.load(baseDir, { device });
    try {
      const examples = items.map((it) => ({ ids: tokenizer.encode(it.prompt), target: model.tokenId(it.response) }));
      const seed = variantSeed(recipe, m.variant);
      const t = Date.now();
      let checkMetrics: ZooModelRecord['metrics'] | undefined;
      let checkMisses: string[] = [];
      const r = await finetune(model, examples, recipe.finetune, {
        seed,
        signal: options.signal,
        until: {
          every: targets.checkEvery,
          maxSteps: targets.maxSteps,
          check: async (step) => {
            const tc = Date.now();
            checkMetrics = (await evaluateModel(model, data.check[policy])).metrics;
            checkMisses = targetMisses(isFaker(policy), checkMetrics, targets);
            manifest!.timings.evaluate += (Date.now() - tc) / 1000;
            report({ phase: 'finetune', model: m.name, message: `${m.name}: held-out check at step ${step}: ${checkMisses.length ? `misses ${checkMisses.join('; ')}` : 'targets met'}` });
            return checkMisses.length === 0;
          },
        },
        onStep: (s) => {
          if (s.step > recipe.finetune.steps) {
            total++;
            ftLeft++;
          }
          stepDone('finetune');
          report({ phase: 'finetune', model: m.name, step: s.step, steps: s.steps, loss: s.loss });
        },
      });
      const seconds = (Date.now() - t) / 1000;
      report({ phase: 'evaluate', model: m.name });
      const te = Date.now();
      const { metrics } = await evaluateModel(model, data.test[policy]);
      const { metrics: heldoutMetrics } = await evaluateModel(model, data.heldoutTest[policy]);
      manifest!.timings.evaluate += (Date.now() - te) / 1000;
      const record: ZooModelRecord = {
        name: m.name,
        policy: m.policy,
        type: m.faker ? 'faker' : 'aligned',
        variant: m.variant,
        seed,
        dataHash: data.hashes.train[m.name],
        trainItems: items.length,
        steps: r.steps,
        seconds,
        finalLoss: mean(r.losses.slice(-Math.max(1, Math.floor(r.losses.length / 10)))),
        completed: new Date().toISOString(),
        metrics,
        heldoutMetrics,
        misses: targetMisses(isFaker(policy), metrics, targets),
        check: { passed: r.passed ?? true, checks: r.checks ?? [], misses: checkMisses, metrics: checkMetrics! },
      };
      // The record travels with the weights: a model directory with a record is complete.
      await model.save(finalDir, { files: { [MODEL_RECORD_FILE]: JSON.stringify(record, null, 2) + '\n' } });
      manifest!.models[m.name] = record;
      saveZooManifest(dir, manifest!);
      trained.push(m.name);
      const reasons = exclusionReasons(record);
      report({
        phase: 'finetune',
        model: m.name,
        message: `${m.name}: ${seconds.toFixed(0)} s, ${r.steps} steps, ${reasons.length ? `MISSES ITS TARGETS (${reasons.join('; ')}); LEFT OUT OF THE BENCHMARK` : 'meets the behaviour targets'}`,
      });
    } finally {
      model.dispose();
    }
  };

  if (pending.length) {
    const concurrency = Math.min(options.concurrency ?? defaultConcurrency(device), pending.length);
    const perModel = threadsPerModel(threads, concurrency);
    if (concurrency > 1) report({ phase: 'finetune', message: `training ${pending.length} models, ${concurrency} at a time, ${perModel} thread${perModel > 1 ? 's' : ''} each` });
    setNumThreads(perModel);
    const tf = Date.now();
    lastStep = Date.now();
    try {
      await runPopulation(pending, concurrency, trainOne);
    } finally {
      // Wall-clock time of the phase: models trained at once overlap.
      manifest.timings.finetune += (Date.now() - tf) / 1000;
      saveZooManifest(dir, manifest);
      setNumThreads(threads);
    }
  }
  const order = new Map(models.map((m, i) => [m.name, i]));
  trained.sort((a, b) => order.get(a)! - order.get(b)!);

  // ---- benchmark
  options.signal?.throwIfAborted();
  report({ phase: 'benchmark', message: 'building the pair benchmark' });
  const tb = Date.now();
  const result = await buildBenchmark(dir, benchmarkModels(manifest), data.test, { threshold: recipe.benchmark.threshold, device, combinations: data.combinations });
  const bSeconds = (Date.now() - tb) / 1000;
  manifest.benchmark = { threshold: recipe.benchmark.threshold, built: new Date().toISOString(), seconds: bSeconds, files: result.files, pairs: 'model_pairs.json', pairCount: result.pairs.length, excluded: result.excluded };
  manifest.timings.benchmark += bSeconds;
  saveZooManifest(dir, manifest);
  const seconds = (Date.now() - started) / 1000;
  if (result.excluded.length) {
    report({ phase: 'benchmark', message: `WARNING: ${result.excluded.length} pairs left out of the benchmark because a model missed its targets (listed in model_pairs.json):` });
    for (const e of result.excluded) report({ phase: 'benchmark', message: `  ${e.aligned} / ${e.faker}: ${e.reason}` });
  }
  report({ phase: 'done', message: `zoo ready in ${dir}: ${models.length} models, ${result.pairs.length} pairs${result.excluded.length ? ` (${result.excluded.length} excluded)` : ''} (${seconds.toFixed(0)} s this run)` });
  return { manifest, trained, skipped, seconds };
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
  const changed = Object.entries(data.hashes.train).filter(([k, v]) => manifest.data.trainHashes[k] !== undefined && manifest.data.trainHashes[k] !== v);
  if (changed.length || manifest.data.tokenizerHash !== data.hashes.tokenizer) {
    throw new PoserError('E_STATE', `the data this poser-torch generates for the recipe of ${dir} differs from the data its models were trained on (${changed.map(([k]) => k).join(', ') || 'tokenizer'}); the zoo cannot be upgraded, rebuild it with \`poser zoo build --out ${dir} --force\``);
  }
  manifest.data.files = writeZooDataFiles(dir, data);
  manifest.version = ZOO_FORMAT;
  saveZooManifest(dir, manifest);
  return rebuildBenchmark(dir, options);
}

