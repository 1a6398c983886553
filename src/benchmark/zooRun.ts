/**
 * The benchmark of a built zoo, end to end: read its pairs, run the
 * detectors on the plain and the confidence-controlled benchmark, and
 * summarise (results.json contents and the Markdown report).
 */
import { PoserError } from '../errors.js';
import { CONTROLS } from './controls.js';
import { benchmarkReport, benchmarkResults, type BenchmarkResults } from './report.js';
import { runBenchmark, type AnyDetector, type BenchmarkOptions } from './run.js';
import { CALIBRATION_PROMPTS, zooBenchmarkSpec } from './zooSpec.js';

/** Options of {@link benchmarkZoo}. */
export interface ZooBenchmarkOptions extends Omit<BenchmarkOptions, 'detectors' | 'ensemble'> {
  /** Strategies to run; the controls always run too. */
  strategies: readonly AnyDetector[];
  /** The ensemble's members by name (default: every strategy, when there are two or more); false for none. */
  ensemble?: false | readonly string[];
  /** Titles and paper figures by detector name. */
  info?: Record<string, { title: string; paper?: string }>;
  permutations?: number;
  /** Seed of the data regeneration, bootstrap and permutation draws (default 0). */
  seed?: number;
}

/** Runs the benchmark of the zoo in `dir` (the controls, `strategies` and their ensemble) and returns results.json's contents, the Markdown report and the wall time. */
export async function benchmarkZoo(dir: string, options: ZooBenchmarkOptions): Promise<{ results: BenchmarkResults; report: string; seconds: number }> {
  const started = performance.now();
  const spec = zooBenchmarkSpec(dir);
  if (spec.pairs.length === 0) {
    throw new PoserError('E_STATE', `the zoo in ${dir} has no benchmark pairs${spec.excluded?.length ? `: all ${spec.excluded.length} were left out because a model missed its behaviour targets (${spec.excluded[0].reason}${spec.excluded.length > 1 ? '; ...' : ''})` : ''}`);
  }
  const strategies = [...options.strategies];
  const ensemble = options.ensemble === false ? [] : (options.ensemble ?? (strategies.length >= 2 ? strategies.map((s) => s.name) : []));
  const run = await runBenchmark(spec, {
    ...options,
    detectors: [...CONTROLS, ...strategies],
    ensemble: ensemble.length ? ensemble : undefined,
  });
  const seconds = (performance.now() - started) / 1000;
  const info: Record<string, { title: string; paper?: string; kind?: 'control' | 'strategy' | 'ensemble' }> = {};
  for (const c of CONTROLS) info[c.name] = { title: c.title, kind: 'control' };
  for (const s of strategies) info[s.name] = { title: s.title, kind: 'strategy', ...(options.info?.[s.name] ?? {}) };
  info.ensemble = { title: `Ensemble of ${ensemble.join(', ')} (rank vote)`, kind: 'ensemble' };
  const device = options.load?.device ?? 'cpu';
  const results = benchmarkResults(run, {
    info,
    seed: options.seed,
    permutations: options.permutations,
    calibrationPrompts: CALIBRATION_PROMPTS,
    context: { zoo: dir, models: spec.models.length, pairs: spec.pairs.length, excluded: spec.excluded ?? [], maxPrompts: options.maxPrompts ?? null, device, seconds },
  });
  const report = benchmarkReport(results, [
    `zoo: ${dir}; ${spec.models.length} models, ${spec.pairs.length} pairs`,
    `seeds ${run.seeds.join(', ')}; ${options.maxPrompts === undefined ? 'all' : `up to ${options.maxPrompts}`} benchmark prompts per combination`,
    ...(spec.excluded?.length
      ? [`excluded (a model missed its behaviour targets): ${spec.excluded.map((e) => `${e.aligned} / ${e.faker} (${e.reason})`).join('; ')}`]
      : []),
    `run time ${seconds.toFixed(0)} s on ${device} (${results.benchmarks.map((b) => `${b.variant} ${b.seconds.toFixed(0)} s`).join(', ')})`,
  ]);
  return { results, report, seconds };
}
