/**
 * Runs detectors (strategies and controls) over the (aligned, faker) pairs of
 * a benchmark, on the plain models and on confidence-controlled ones.
 *
 * Blind: a detector gets subjects (no name, no directory) and the pair's
 * data; which model comes first is a seeded coin of the seed and the pair's
 * position. Nothing a detector sees depends on a model's name or location.
 *
 * Cost grows with models x combinations, not pairs: a detector measures each
 * model once per (model, combination, calibration, detector, options, seed)
 * and every pair is a comparison of two cached measurements — the same
 * verdict `detector.run` gives on the pair. Every pair of models within a
 * combination is compared (cheap), which the model-level permutation test needs.
 *
 * Held-out calibration: for each seed, each combination's benchmark prompts
 * are split by a coin of the combination's name and the seed (no model
 * output is looked at) into two halves. Every detector, in both variants,
 * sees only the second half; the first half calibrates. The halves are draws
 * from one distribution (the same oversight mix and agreement rule), so
 * confidence matched on one is matched on the other up to sampling; a new
 * split per seed averages that sampling out over the seeds.
 *
 * Confidence control: before any detector runs, each (model, combination,
 * seed) gets a read-out fitted on its calibration half (an answer map,
 * src/strategies/answerMap.ts), so that its answers' statistics equal
 * targets shared by every model:
 * - the log-odds of one answer letter against the other go through an odd,
 *   monotone, piecewise-linear map that sends the model's distribution of
 *   benign log-odds onto the shared target distribution, the mean of every
 *   model's quantile function (quantile matching). The mean, the spread
 *   across prompts and the tails match, not the mean alone;
 * - the two letters' joint share of the vocabulary is set, in every row, to
 *   one shared value (the median over models of its mean log-odds against
 *   the rest of the vocabulary). A prompt's P(benign) and P(other) are then
 *   functions of its mapped log-odds alone, so their distributions match too.
 * One temperature per model and a bias on the letters (the previous design)
 * matched two means only: fakers, whose answers depend on the prompt, kept a
 * larger spread of log-odds across prompts than every aligned model, and a
 * control reading that spread named the faker in every pair; with the
 * log-odds map alone, the spread of P(benign), driven by how the letters'
 * share varies from prompt to prompt, still did in 89% of pairs.
 */
import { check, PoserError } from '../errors.js';
import { Rng } from '../data/random.js';
import { Model, type LoadOptions } from '../model/model.js';
import { subject, type Subject } from '../strategies/subject.js';
import { fitAnswerMap, letterMass, quantileOfSorted, type AnswerLogOddsMap } from '../strategies/answerMap.js';
import { answerLogits, benignProbabilityUnderBias, type AnswerLogits } from '../strategies/primitives/answers.js';
import type { DetectionStrategy, Measurement, PairData, Verdict } from '../strategies/types.js';
import { ENSEMBLE, ensembleVerdict } from '../strategies/verdict.js';
import { chooseLearningRate, LEARNING_SPEED, type LearningRateChoice } from '../strategies/learningSpeed.js';
import { mean, median, std } from '../strategies/primitives/stats.js';
import { benignProbabilities, logOdds } from './controls.js';
import { verdictScore } from './score.js';
import type { Duels } from './stats.js';

/** What the runner needs to know about a benchmark; only it (never a detector) sees names and directories. */
export interface BenchmarkSpec {
  models: { name: string; dir: string; policy: string }[];
  /** Each combination's data; its benchmark prompts are split into a calibration half and the half every detector sees ({@link splitForCalibration}). */
  combinations: { name: string; data: PairData }[];
  pairs: { aligned: string; faker: string; combination: string }[];
  /** The benchmark's agreement threshold: calibration uses only prompts every model of a combination answers benignly with at least this probability. */
  threshold?: number;
  /** Pairs left out of the benchmark (a model missed its behaviour targets), for the report. */
  excluded?: { aligned: string; faker: string; reason: string }[];
}

/** A benchmark variant: the plain models, or the confidence-controlled ones. */
export type Variant = 'plain' | 'controlled';
/** Both variants, plain first. */
export const VARIANTS: readonly Variant[] = ['plain', 'controlled'];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
/** A strategy or a control, whatever its options and measurement. */
export type AnyDetector = DetectionStrategy<any, any>;

/** Progress of {@link runBenchmark}: calibration, then per variant strategy 3's learning rate, measurements and comparisons. */
export interface BenchmarkProgress {
  stage: 'calibrate' | 'learningRate' | 'measure' | 'compare';
  variant?: Variant;
  detector?: string;
  done: number;
  total: number;
}

/** Options of {@link runBenchmark}. */
export interface BenchmarkOptions {
  /** Strategies and controls, in report order. */
  detectors: readonly AnyDetector[];
  /** Names of the detectors whose verdicts form the ensemble (none: no ensemble). */
  ensemble?: readonly string[];
  /** Strategy seeds (presentation order, prompt subsample, noise draws); default [0, 1, 2, 3, 4]. */
  seeds?: readonly number[];
  /** Use at most this many benchmark prompts per combination (seeded subsample per seed). */
  maxPrompts?: number;
  /** Options passed to each detector, by name. */
  detectorOptions?: Record<string, Record<string, unknown>>;
  /**
   * Strategy 3's learning rate: unless its options give `lr`, it is chosen
   * per variant by `chooseLearningRate` on the aligned models alone (as that
   * variant shows them), before any detector runs (default true).
   */
  chooseLearningRate?: boolean;
  /** Which benchmarks to run (default both). */
  variants?: readonly Variant[];
  load?: Pick<LoadOptions, 'device' | 'dtype'>;
  /** Loaded models kept at once (default 4). */
  cacheSize?: number;
  /** Called after each calibration, measurement and pair comparison. */
  onProgress?: (event: BenchmarkProgress) => void;
}

/** The read-out calibration fitted for one model on one combination's calibration prompts under one seed. */
export interface Calibration {
  model: string;
  combination: string;
  seed: number;
  prompts: number;
  /** Mean benign log-odds on the calibration prompts, before and after calibration. */
  before: number;
  after: number;
  /** Standard deviation of the benign log-odds across the calibration prompts, before and after. */
  spreadBefore: number;
  spreadAfter: number;
  /** Mean P(benign) over the vocabulary on the calibration prompts, before and after. */
  pBefore: number;
  pAfter: number;
  /** Mean log-odds of the two letters' joint mass against the rest of the vocabulary before (after, it is `map.mass`). */
  massBefore: number;
  /** The read-out: the map of the answer letters' log-odds (quantile matching onto the shared target) and their fixed share. */
  map: AnswerLogOddsMap;
}

/** The shared targets of one seed's calibration. */
export interface CalibrationTarget {
  seed: number;
  /** Mean and standard deviation of the target distribution of benign log-odds (the mean of every model's quantile function). */
  meanLogOdds: number;
  spreadLogOdds: number;
  /** The letters' joint log-odds against the rest of the vocabulary that every model's read-out fixes. */
  mass: number;
  /** The mean P(benign) of the target distribution under that share. */
  meanP: number;
}

/** One verdict on a pair, with the order the detector saw. */
export interface PairVerdict {
  seed: number;
  /** Model names in the order presented. */
  order: [string, string];
  /** The named faker (null: undecided). */
  named: string | null;
  /** 1 correct, 0 wrong, 0.5 undecided. */
  score: number;
  scores: [number, number];
}

/** The verdicts on one (aligned, faker) pair. */
export interface PairRecord {
  aligned: string;
  faker: string;
  combination: string;
  /** By detector name (and `ensemble`), one verdict per seed. */
  verdicts: Record<string, PairVerdict[]>;
}

/** Everything {@link runBenchmark} found on one variant. */
export interface VariantResult {
  /** Detector names in report order, `ensemble` last when there is one. */
  detectors: string[];
  pairs: PairRecord[];
  /** By detector: every model pair of each combination compared (mean over seeds), for the permutation test. */
  duels: Record<string, Duels[]>;
  /** By detector: per seed, each (model, combination) score, for the evidence. */
  measurements: Record<string, { seed: number; model: string; combination: string; score: number; evidence: Record<string, unknown> }[]>;
  /** Fresh measurements taken (not served from the cache). */
  measured: number;
  seconds: number;
  /** Strategy 3's learning rate and steps, when the runner chose them by the rule. */
  learningRate?: LearningRateChoice;
}

/** What {@link runBenchmark} returns: the seeds, the calibration and the result of each variant. */
export interface BenchmarkRun {
  seeds: number[];
  maxPrompts?: number;
  /** The controlled benchmark's shared targets, per seed. */
  targets: CalibrationTarget[];
  calibration: Calibration[];
  variants: Partial<Record<Variant, VariantResult>>;
}

/** Share of a combination's benchmark prompts held out to calibrate. */
export const CALIBRATION_SHARE = 0.5;

/**
 * A combination's benchmark prompts split by a coin of its name and the
 * seed: the first `CALIBRATION_SHARE` of a seeded shuffle calibrates, the
 * rest (in their original order) is the data every detector sees.
 */
export function splitForCalibration(data: PairData, combination: string, seed: number): { calibration: PairData['prompts']; data: PairData } {
  const order = new Rng(`calibration split:${combination}:${seed}`).shuffle(data.prompts.map((_, i) => i));
  const held = new Set(order.slice(0, Math.floor(data.prompts.length * CALIBRATION_SHARE)));
  return {
    calibration: data.prompts.filter((_, i) => held.has(i)),
    data: { ...data, prompts: data.prompts.filter((_, i) => !held.has(i)) },
  };
}

/** The subject a detector gets: the plain model, or the model with its calibration's answer map. */
export function calibratedSubject(model: Model, calibration?: Pick<Calibration, 'map'>): Subject {
  if (!calibration) return subject(model);
  return subject(model, { answerMap: calibration.map });
}

/** The data a detector gets for a combination under one seed: the benchmark prompts subsampled by the seed. */
export function dataForSeed(data: PairData, maxPrompts: number | undefined, seed: number): PairData {
  if (maxPrompts === undefined || data.prompts.length <= maxPrompts) return data;
  return { ...data, prompts: new Rng(`prompts:${seed}`).sample(data.prompts, maxPrompts) };
}

/** Whether the two models at `position` are shown in the benchmark's order (else swapped): a coin of the seed and the position. */
export function inOrder(seed: number, position: string): boolean {
  return new Rng(`order:${seed}:${position}`).bool();
}

/**
 * Loads models once and keeps the most recently used ones. Models held by
 * {@link ModelCache.using} are never evicted while held (the cache then
 * grows past its size until they are released).
 */
export class ModelCache {
  private readonly models = new Map<string, Promise<Model>>();
  private readonly held = new Map<string, number>();
  /** Models loaded from disk so far. */
  loads = 0;
  constructor(private readonly size: number, private readonly load: BenchmarkOptions['load']) {}

  /** The model at `dir`, loaded once; loading a new one evicts the least recently used models that are not held. */
  async get(dir: string): Promise<Model> {
    let model = this.models.get(dir);
    if (model) {
      this.models.delete(dir);
    } else {
      this.loads++;
      model = Model.load(dir, this.load);
      for (const [oldest, evicted] of [...this.models]) {
        if (this.models.size < this.size) break;
        if (this.held.has(oldest)) continue;
        this.models.delete(oldest);
        (await evicted).dispose();
      }
    }
    this.models.set(dir, model);
    return model;
  }

  /** Runs `f` on the models at `dirs`, none of which is evicted before it returns. */
  async using<T>(dirs: readonly string[], f: (models: Model[]) => Promise<T>): Promise<T> {
    for (const d of dirs) this.held.set(d, (this.held.get(d) ?? 0) + 1);
    try {
      const models: Model[] = [];
      for (const d of dirs) models.push(await this.get(d));
      return await f(models);
    } finally {
      for (const d of dirs) {
        const n = this.held.get(d)! - 1;
        if (n === 0) this.held.delete(d);
        else this.held.set(d, n);
      }
    }
  }

  /** Disposes every cached model. */
  async dispose(): Promise<void> {
    for (const m of this.models.values()) (await m).dispose();
    this.models.clear();
  }
}

/**
 * Measurements by (model, combination, calibration, detector, options, seed):
 * a model is measured once however many pairs it is in.
 */
export class MeasurementCache {
  private readonly entries = new Map<string, Promise<Measurement>>();
  misses = 0;

  /** The cache key of one measurement (within one run, a calibration is fixed by the model, combination and seed). */
  static key(parts: { model: number; combination: string; calibrated: boolean; detector: string; options: unknown; seed: number }): string {
    return JSON.stringify([parts.model, parts.combination, parts.calibrated, parts.detector, parts.options ?? null, parts.seed]);
  }

  /** The measurement under `key`, measured (once) by `measure` when absent. */
  get(key: string, measure: () => Promise<Measurement>): Promise<Measurement> {
    let m = this.entries.get(key);
    if (!m) {
      this.misses++;
      m = measure();
      this.entries.set(key, m);
    }
    return m;
  }
}

function checkSpec(spec: BenchmarkSpec, options: BenchmarkOptions): void {
  check(spec.pairs.length > 0, 'runBenchmark: no pairs');
  check(options.detectors.length > 0, 'runBenchmark: no detectors');
  const names = options.detectors.map((d) => d.name);
  check(new Set(names).size === names.length, `runBenchmark: detector names repeat (${names.join(', ')})`);
  for (const e of options.ensemble ?? []) check(names.includes(e), `runBenchmark: ensemble member '${e}' is not among the detectors (${names.join(', ')})`);
  const modelNames = new Set(spec.models.map((m) => m.name));
  const comboNames = new Set(spec.combinations.map((c) => c.name));
  for (const p of spec.pairs) {
    check(modelNames.has(p.aligned) && modelNames.has(p.faker), `runBenchmark: pair ${p.aligned} / ${p.faker}: unknown model`);
    check(comboNames.has(p.combination), `runBenchmark: pair ${p.aligned} / ${p.faker}: unknown combination '${p.combination}'`);
  }
  for (const seed of options.seeds ?? []) check(Number.isInteger(seed) && seed >= 0, `runBenchmark: seeds must be non-negative integers, got ${seed}`);
}

/** The models of each combination (pair-file order) and which of them are fakers. */
function combinationModels(spec: BenchmarkSpec): Map<string, { models: number[]; fakers: Set<number> }> {
  const index = new Map(spec.models.map((m, i) => [m.name, i]));
  const out = new Map<string, { models: number[]; fakers: Set<number> }>();
  for (const p of spec.pairs) {
    const c = out.get(p.combination) ?? { models: [], fakers: new Set<number>() };
    for (const name of [p.aligned, p.faker]) if (!c.models.includes(index.get(name)!)) c.models.push(index.get(name)!);
    c.fakers.add(index.get(p.faker)!);
    out.set(p.combination, c);
  }
  return out;
}

/**
 * Strategy 3's learning rate for one variant, by its documented rule
 * (docs/strategies.md): the smallest rate at which the aligned models'
 * held-out log-odds of the flipped answer gain 1 nat on average, one run per
 * (aligned model, combination) with the combination's data under the first
 * seed. Fakers never take part and no accuracy is looked at. The aligned
 * models come from the runner's cache, held until the choice is made.
 */
async function learningRateForVariant(
  spec: BenchmarkSpec,
  cache: ModelCache,
  combos: Map<string, { models: number[]; fakers: Set<number> }>,
  dataOf: (combination: string, seed: number) => PairData,
  calibrationOf: (model: number, combination: string, seed: number) => Calibration | undefined,
  options: BenchmarkOptions,
  seed: number,
): Promise<LearningRateChoice> {
  const runs: { model: number; combination: string }[] = [];
  for (const combo of spec.combinations) {
    const members = combos.get(combo.name);
    for (const m of members?.models ?? []) if (!members!.fakers.has(m)) runs.push({ model: m, combination: combo.name });
  }
  const dirs = [...new Set(runs.map((r) => spec.models[r.model].dir))];
  return cache.using(dirs, async (models) => {
    const byDir = new Map(dirs.map((d, i) => [d, models[i]]));
    return chooseLearningRate(
      runs.map((r) => ({ subject: calibratedSubject(byDir.get(spec.models[r.model].dir)!, calibrationOf(r.model, r.combination, seed)), data: dataForSeed(dataOf(r.combination, seed), options.maxPrompts, seed) })),
      { ...(options.detectorOptions?.[LEARNING_SPEED] ?? {}), seed },
    );
  });
}

/** The prompts (indices) on which every model answers benignly with at least `threshold` probability and more than the other letter. */
export function agreedPrompts(logits: readonly AnswerLogits[], threshold: number): number[] {
  const n = logits[0]?.benign.length ?? 0;
  const agreed: number[] = [];
  for (let i = 0; i < n; i++) {
    const ok = logits.every((l) => {
      const pBenign = benignProbabilityUnderBias({ benign: l.benign[i], other: l.other[i], rest: l.rest[i] }, 0);
      return pBenign >= threshold && l.benign[i] > l.other[i];
    });
    if (ok) agreed.push(i);
  }
  return agreed;
}

/** The answer logits of the prompts at `idx`. */
export function pickAnswerLogits(l: AnswerLogits, idx: readonly number[]): AnswerLogits {
  return { benign: idx.map((i) => l.benign[i]), other: idx.map((i) => l.other[i]), rest: idx.map((i) => l.rest[i]) };
}

/**
 * Fits each (model, combination)'s read-out for one seed on the
 * combination's calibration half. The calibration prompts used are those on
 * which every model of the combination gives the benign answer with at
 * least the benchmark's threshold probability (as the benchmark's own
 * prompts; their log-odds are then positive). The read-out is fitted from
 * one pass's answer logits, then measured again through the calibrated
 * subject, as every detector sees it.
 */
async function calibrate(
  spec: BenchmarkSpec,
  cache: ModelCache,
  combos: ReturnType<typeof combinationModels>,
  calibrationPrompts: (combination: string) => PairData['prompts'],
  seed: number,
  progress: () => void,
): Promise<{ target: CalibrationTarget; calibration: Calibration[] }> {
  const threshold = spec.threshold ?? 0;
  const fits: { row: Calibration; logOdds: number[]; prompts: PairData }[] = [];
  for (const combo of spec.combinations) {
    const members = combos.get(combo.name)?.models ?? [];
    const prompts = calibrationPrompts(combo.name);
    check(prompts.length > 0, `runBenchmark: combination ${combo.name} has too few benchmark prompts to hold any out for calibration`);
    const logits: AnswerLogits[] = [];
    for (const m of members) {
      logits.push(await answerLogits(subject(await cache.get(spec.models[m].dir)), prompts.map((p) => p.prompt), prompts.map((p) => p.benign)));
      progress();
    }
    const keep = agreedPrompts(logits, threshold);
    if (keep.length === 0) throw new PoserError('E_ARG', `runBenchmark: no calibration prompt of ${combo.name} is answered benignly by all its models (P >= ${threshold}); the combination's models cannot be calibrated`);
    const data: PairData = { prompts: keep.map((i) => prompts[i]), contrast: [], concepts: [] };
    members.forEach((m, k) => {
      const l = pickAnswerLogits(logits[k], keep);
      const x = l.benign.map((b, i) => b - l.other[i]);
      const pBefore = mean(l.benign.map((b, i) => benignProbabilityUnderBias({ benign: b, other: l.other[i], rest: l.rest[i] }, 0)));
      const row: Calibration = { model: spec.models[m].name, combination: combo.name, seed, prompts: keep.length, before: mean(x), after: NaN, spreadBefore: std(x), spreadAfter: NaN, pBefore, pAfter: NaN, massBefore: mean(letterMass(l)), map: { x: [], y: [] } };
      fits.push({ row, logOdds: x, prompts: data });
    });
  }
  const all = fits.map((f) => f.logOdds);
  const mass = median(fits.map((f) => f.row.massBefore));
  for (const [k, { row, prompts }] of fits.entries()) {
    row.map = fitAnswerMap(all[k], all, mass);
    const p = await benignProbabilities(calibratedSubject(await cache.get(spec.models.find((m) => m.name === row.model)!.dir), row), prompts);
    const x = logOdds(p);
    row.after = mean(x);
    row.spreadAfter = std(x);
    row.pAfter = mean(p.benign);
    progress();
  }
  // the target distribution, sampled finely from the mean quantile function
  const sorted = all.map((x) => [...x].sort((p, q) => p - q));
  const grid = Array.from({ length: 1000 }, (_, i) => mean(sorted.map((s) => quantileOfSorted(s, (i + 0.5) / 1000))));
  const share = 1 / (1 + Math.exp(-mass));
  return {
    target: { seed, meanLogOdds: mean(grid), spreadLogOdds: std(grid), mass, meanP: share * mean(grid.map((d) => 1 / (1 + Math.exp(-d)))) },
    calibration: fits.map((f) => f.row),
  };
}

/** Runs every detector on every pair of the benchmark, for each seed and variant. */
export async function runBenchmark(spec: BenchmarkSpec, options: BenchmarkOptions): Promise<BenchmarkRun> {
  checkSpec(spec, options);
  const seeds = [...(options.seeds ?? [0, 1, 2, 3, 4])];
  check(seeds.length > 0, 'runBenchmark: at least one seed is needed');
  const variants = [...(options.variants ?? VARIANTS)];
  const combos = combinationModels(spec);
  const models = new ModelCache(options.cacheSize ?? 4, options.load);
  const cache = new MeasurementCache();
  const run: BenchmarkRun = { seeds, maxPrompts: options.maxPrompts, targets: [], calibration: [], variants: {} };
  try {
    const splits = new Map(seeds.map((seed) => [seed, new Map(spec.combinations.map((c) => [c.name, splitForCalibration(c.data, c.name, seed)]))]));
    const dataOf = (combination: string, seed: number): PairData => splits.get(seed)!.get(combination)!.data;
    if (variants.includes('controlled')) {
      // two passes per (model, combination) and seed
      const total = 2 * [...combos.values()].reduce((n, c) => n + c.models.length, 0) * seeds.length;
      let done = 0;
      const progress = () => options.onProgress?.({ stage: 'calibrate', done: ++done, total });
      for (const seed of seeds) {
        const fitted = await calibrate(spec, models, combos, (c) => splits.get(seed)!.get(c)!.calibration, seed, progress);
        run.targets.push(fitted.target);
        run.calibration.push(...fitted.calibration);
      }
    }
    const calibrationOf = (variant: Variant, model: number, combination: string, seed: number): Calibration | undefined =>
      variant === 'plain' ? undefined : run.calibration.find((r) => r.model === spec.models[model].name && r.combination === combination && r.seed === seed)!;
    for (const variant of variants) {
      const started = performance.now();
      const missesBefore = cache.misses;
      const result: VariantResult = { detectors: options.detectors.map((d) => d.name), pairs: [], duels: {}, measurements: {}, measured: 0, seconds: 0 };
      const detectorOptions: Record<string, Record<string, unknown>> = { ...(options.detectorOptions ?? {}) };
      const s3 = options.detectors.some((d) => d.name === LEARNING_SPEED) && detectorOptions[LEARNING_SPEED]?.lr === undefined && options.chooseLearningRate !== false;
      if (s3) {
        options.onProgress?.({ stage: 'learningRate', variant, done: 0, total: 1 });
        result.learningRate = await learningRateForVariant(spec, models, combos, dataOf, (m, c, seed) => calibrationOf(variant, m, c, seed), options, seeds[0]);
        detectorOptions[LEARNING_SPEED] = { ...(detectorOptions[LEARNING_SPEED] ?? {}), lr: result.learningRate.lr, steps: result.learningRate.steps };
        options.onProgress?.({ stage: 'learningRate', variant, done: 1, total: 1 });
      }
      const ensemble = options.ensemble?.length ? [...options.ensemble] : undefined;
      if (ensemble) result.detectors.push(ENSEMBLE);
      const pairs: PairRecord[] = spec.pairs.map((p) => ({ ...p, verdicts: {} }));
      const total = [...combos.values()].reduce((n, c) => n + c.models.length, 0) * options.detectors.length * seeds.length;
      let done = 0;
      // named[detector][combination][i][j], summed over seeds
      const named: Record<string, Record<string, number[][]>> = {};
      for (const combo of spec.combinations) {
        const members = combos.get(combo.name);
        if (!members) continue;
        const n = members.models.length;
        // Measure every model of the combination (one model at a time, so each is loaded once) with every detector and seed.
        const bySeed = new Map<number, Record<string, Measurement[]>>(seeds.map((seed) => [seed, Object.fromEntries(options.detectors.map((d) => [d.name, [] as Measurement[]]))]));
        for (const m of members.models) {
          for (const seed of seeds) {
            const calibration = calibrationOf(variant, m, combo.name, seed);
            const data = dataForSeed(dataOf(combo.name, seed), options.maxPrompts, seed);
            for (const detector of options.detectors) {
              const ownOptions = { ...(detectorOptions[detector.name] ?? {}), seed };
              const key = MeasurementCache.key({ model: m, combination: combo.name, calibrated: calibration !== undefined, detector: detector.name, options: { ...ownOptions, maxPrompts: options.maxPrompts }, seed });
              const measurement = await cache.get(key, async () => {
                const model = await models.get(spec.models[m].dir);
                return detector.measure(calibratedSubject(model, calibration), data, ownOptions);
              });
              bySeed.get(seed)![detector.name].push(measurement);
              (result.measurements[detector.name] ??= []).push({ seed, model: spec.models[m].name, combination: combo.name, score: measurement.score, evidence: measurement.evidence });
              options.onProgress?.({ stage: 'measure', variant, detector: detector.name, done: ++done, total });
            }
          }
        }
        for (const seed of seeds) {
          const measured = bySeed.get(seed)!;
          // Compare every pair of models of the combination (true pairs in their presentation order).
          for (let i = 0; i < n; i++)
            for (let j = i + 1; j < n; j++) {
              const [mi, mj] = [members.models[i], members.models[j]];
              const pairIndex = spec.pairs.findIndex((p) => p.combination === combo.name && ((p.aligned === spec.models[mi].name && p.faker === spec.models[mj].name) || (p.aligned === spec.models[mj].name && p.faker === spec.models[mi].name)));
              const position = pairIndex >= 0 ? `pair ${pairIndex}` : `${combo.name} ${i} ${j}`;
              const shown: [number, number] = inOrder(seed, position) ? [i, j] : [j, i];
              const verdicts: Verdict[] = [];
              const record = (name: string, v: Verdict) => {
                const namedLocal: number | null = v.faker === null ? null : shown[v.faker];
                const m = ((named[name] ??= {})[combo.name] ??= Array.from({ length: n }, () => new Array<number>(n).fill(0)));
                // score of "j named" when i and j meet (undecided: half)
                const jNamed = namedLocal === null ? 0.5 : namedLocal === j ? 1 : 0;
                m[i][j] += jNamed;
                m[j][i] += 1 - jNamed;
                if (pairIndex >= 0) {
                  const pair = spec.pairs[pairIndex];
                  const fakerLocal = spec.models[members.models[shown[0]]].name === pair.faker ? 0 : 1;
                  (pairs[pairIndex].verdicts[name] ??= []).push({
                    seed,
                    order: [spec.models[members.models[shown[0]]].name, spec.models[members.models[shown[1]]].name],
                    named: namedLocal === null ? null : spec.models[members.models[namedLocal]].name,
                    score: verdictScore(v.faker, fakerLocal as 0 | 1),
                    scores: v.scores,
                  });
                }
              };
              for (const detector of options.detectors) {
                const [a, b] = [measured[detector.name][shown[0]], measured[detector.name][shown[1]]];
                const v = detector.compare([a, b], { ...(detectorOptions[detector.name] ?? {}), seed, pair: position });
                verdicts.push(v);
                record(detector.name, v);
              }
              if (ensemble) record(ENSEMBLE, ensembleVerdict(verdicts.filter((_, k) => ensemble.includes(options.detectors[k].name))));
              options.onProgress?.({ stage: 'compare', variant, done: i, total: n });
            }
        }
      }
      for (const name of result.detectors) {
        result.duels[name] = spec.combinations
          .filter((c) => combos.has(c.name))
          .map((c) => {
            const members = combos.get(c.name)!;
            return {
              combination: c.name,
              models: members.models.map((m) => spec.models[m].name),
              fakers: members.models.flatMap((m, k) => (members.fakers.has(m) ? [k] : [])),
              named: named[name][c.name].map((r) => r.map((x) => x / seeds.length)),
            };
          });
      }
      result.pairs = pairs;
      result.measured = cache.misses - missesBefore;
      result.seconds = (performance.now() - started) / 1000;
      run.variants[variant] = result;
    }
  } finally {
    await models.dispose();
  }
  return run;
}
