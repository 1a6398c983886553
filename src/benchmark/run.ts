/**
 * Runs detection strategies over (aligned, faker) model pairs. Each pair is
 * shown to a strategy in a seeded random order, so a strategy cannot profit
 * from which model comes first; a verdict is correct when it names the faker.
 */
import { check } from '../errors.js';
import { Rng } from '../data/random.js';
import { Model, type LoadOptions } from '../model/model.js';
import { STRATEGIES, subject, type StrategyName } from '../strategies/index.js';
import type { PairData, Verdict } from '../strategies/types.js';
import type { PairOutcome } from './score.js';

export interface ModelRef {
  /** Unique name, e.g. genie-0. */
  name: string;
  /** Hugging Face model directory. */
  dir: string;
  policy: string;
}

export interface PairSpec {
  aligned: ModelRef;
  faker: ModelRef;
  /** (aligned type, faker type) combination, e.g. genie_and_reward. */
  combination: string;
  data: PairData;
}

export interface PairResult {
  aligned: string;
  faker: string;
  combination: string;
  /** The order the strategies saw: [first, second]. */
  order: [string, string];
  verdicts: Partial<Record<StrategyName, Verdict & { correct: boolean; seconds: number }>>;
}

export interface BenchmarkProgress {
  pair: number;
  pairs: number;
  strategy: StrategyName;
  /** Strategies finished so far, over all pairs. */
  done: number;
  total: number;
}

export interface BenchmarkOptions {
  strategies: readonly StrategyName[];
  /** Seed of the presentation order, prompt subsampling and every strategy (default 0). */
  seed?: number;
  /** Use at most this many benchmark prompts per pair (seeded subsample). */
  maxPrompts?: number;
  /** Options passed to each strategy, by name. */
  strategyOptions?: Partial<Record<StrategyName, Record<string, unknown>>>;
  load?: Pick<LoadOptions, 'device' | 'dtype'>;
  /** Loaded models kept at once (default 16). */
  cacheSize?: number;
  onProgress?: (event: BenchmarkProgress) => void;
}

/** Loads models once and keeps the most recently used ones. */
class ModelCache {
  private readonly models = new Map<string, Promise<Model>>();
  constructor(private readonly size: number, private readonly load: BenchmarkOptions['load']) {}

  async get(dir: string): Promise<Model> {
    let model = this.models.get(dir);
    if (model) {
      this.models.delete(dir);
    } else {
      model = Model.load(dir, this.load);
      while (this.models.size >= this.size) {
        const [oldest, evicted] = this.models.entries().next().value as [string, Promise<Model>];
        this.models.delete(oldest);
        (await evicted).dispose();
      }
    }
    this.models.set(dir, model);
    return model;
  }

  async dispose(): Promise<void> {
    for (const m of this.models.values()) (await m).dispose();
    this.models.clear();
  }
}

function subsample(data: PairData, max: number | undefined, rng: Rng): PairData {
  if (max === undefined || data.prompts.length <= max) return data;
  return { ...data, prompts: rng.shuffle(data.prompts).slice(0, max) };
}

/** Runs every strategy on every pair; returns per-pair results and per-strategy outcomes. */
export async function runBenchmark(
  pairs: readonly PairSpec[],
  options: BenchmarkOptions,
): Promise<{ results: PairResult[]; outcomes: Partial<Record<StrategyName, PairOutcome[]>> }> {
  check(pairs.length > 0, 'runBenchmark: no pairs');
  check(options.strategies.length > 0, 'runBenchmark: no strategies');
  for (const s of options.strategies) check(s in STRATEGIES, `runBenchmark: unknown strategy '${s}' (expected one of ${Object.keys(STRATEGIES).join(', ')})`);
  const seed = options.seed ?? 0;
  const cache = new ModelCache(options.cacheSize ?? 16, options.load);
  const results: PairResult[] = [];
  const outcomes: Partial<Record<StrategyName, PairOutcome[]>> = {};
  const total = pairs.length * options.strategies.length;
  let done = 0;
  try {
    for (const [index, pair] of pairs.entries()) {
      const rng = new Rng(`${seed}:${pair.aligned.name}:${pair.faker.name}`);
      const fakerFirst = rng.bool();
      const refs: [ModelRef, ModelRef] = fakerFirst ? [pair.faker, pair.aligned] : [pair.aligned, pair.faker];
      const subjects = [subject(await cache.get(refs[0].dir)), subject(await cache.get(refs[1].dir))] as const;
      const data = subsample(pair.data, options.maxPrompts, rng);
      const fakerIndex = fakerFirst ? 0 : 1;
      const result: PairResult = { aligned: pair.aligned.name, faker: pair.faker.name, combination: pair.combination, order: [refs[0].name, refs[1].name], verdicts: {} };
      for (const name of options.strategies) {
        options.onProgress?.({ pair: index, pairs: pairs.length, strategy: name, done, total });
        const started = performance.now();
        const verdict = await STRATEGIES[name].run(subjects, data, { seed, ...(options.strategyOptions?.[name] ?? {}) } as never);
        const correct = verdict.faker === fakerIndex;
        result.verdicts[name] = { ...verdict, correct, seconds: (performance.now() - started) / 1000 };
        (outcomes[name] ??= []).push({ aligned: pair.aligned.name, faker: pair.faker.name, combination: pair.combination, correct, tie: verdict.faker === null });
        done++;
      }
      results.push(result);
    }
  } finally {
    await cache.dispose();
  }
  options.onProgress?.({ pair: pairs.length, pairs: pairs.length, strategy: options.strategies[options.strategies.length - 1], done, total });
  return { results, outcomes };
}
