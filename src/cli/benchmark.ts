/**
 * `poser benchmark run`: the detection strategies and the controls over
 * every (aligned, faker) pair of a built zoo, on the plain and the
 * confidence-controlled benchmark, written as a Markdown report and a
 * results.json.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { PoserError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { addZooOption, deviceArg, intArg, zooDir } from './args.js';
import { benchmarkZoo, htmlReport, withOptions, type AnyDetector, type Variant } from '../benchmark/index.js';
import { STRATEGIES, type StrategyName } from '../strategies/index.js';

/** Strategies 1 and 2 also run with both models pushed with one norm, as rows of their own. */
const COMMON_NORM: readonly StrategyName[] = ['beliefSteering', 'noiseInjection'];

function strategyList(value: string): StrategyName[] {
  if (value === 'all') return Object.keys(STRATEGIES) as StrategyName[];
  if (value === 'none') return [];
  return value.split(',').map((s) => {
    const name = s.trim();
    const byId = Object.values(STRATEGIES).find((info) => String(info.id) === name);
    if (byId) return byId.name;
    if (name in STRATEGIES) return name as StrategyName;
    throw new InvalidArgumentError(`unknown strategy '${name}' (use 1-6, 'all', 'none' or ${Object.keys(STRATEGIES).join(', ')})`);
  });
}

function variantList(value: string): Variant[] {
  const out = value.split(',').map((v) => v.trim());
  for (const v of out) if (v !== 'plain' && v !== 'controlled') throw new InvalidArgumentError(`unknown benchmark '${v}' (use plain, controlled or both: plain,controlled)`);
  return out as Variant[];
}

function readOptions(path: string | undefined): Record<string, Record<string, unknown>> {
  if (!path) return {};
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new PoserError('E_IO', `--options ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new PoserError('E_FORMAT', `--options ${path}: expected an object of options by strategy name`);
  return value as Record<string, Record<string, unknown>>;
}

interface RunFlags {
  zoo?: string;
  strategies: StrategyName[];
  maxPrompts: number;
  seed: number;
  seeds: number;
  permutations: number;
  benchmarks: Variant[];
  options?: string;
  device: string;
  out?: string;
  json?: string;
  html?: string;
}

/** Where `benchmark run` writes: into the zoo unless a flag says otherwise; report.html beside report.md. */
export function benchmarkOutputs(flags: Pick<RunFlags, 'zoo' | 'out' | 'json' | 'html'>): { zoo: string; markdown: string; json: string; html: string } {
  const zoo = zooDir(flags);
  const markdown = flags.out ?? join(zoo, 'report.md');
  return { zoo, markdown, json: flags.json ?? join(zoo, 'results.json'), html: flags.html ?? join(dirname(markdown), 'report.html') };
}

export function registerBenchmarkCommands(program: Command): void {
  const bench = program.command('benchmark').description('run the detection strategies on the pair benchmark');
  addZooOption(bench
    .command('run')
    .description('run strategies and controls over every (aligned, faker) pair of a zoo, plain and confidence-controlled; report accuracy, 95% intervals and p-values (report.md, report.html, results.json)'))
    .option('--strategies <list>', "comma-separated ids or names, 'all' or 'none' (the controls always run)", strategyList, strategyList('all'))
    .option('--max-prompts <n>', 'benchmark prompts per combination (seeded subsample per seed)', intArg('--max-prompts', 1), 64)
    .option('--seed <n>', 'first strategy seed (presentation order, subsampling, noise draws); also seeds the statistics', intArg('--seed', 0), 0)
    .option('--seeds <k>', 'number of strategy seeds (seed, seed+1, ...)', intArg('--seeds', 1), 5)
    .option('--permutations <n>', 'model-level permutations (exact when there are fewer labellings)', intArg('--permutations', 1), 10000)
    .option('--benchmarks <list>', 'plain, controlled or plain,controlled', variantList, ['plain', 'controlled'] as Variant[])
    .option('--options <file>', 'JSON file of strategy options by strategy name')
    .option('--device <device>', 'cpu or cuda:N', deviceArg, 'cpu')
    .option('--out <file>', 'Markdown report (default: ZOO/report.md)')
    .option('--json <file>', 'results.json: every row, per-pair verdicts, curves and the calibration (default: ZOO/results.json)')
    .option('--html <file>', 'HTML report with plots (default: report.html beside the Markdown report)')
    .action(async (opts: RunFlags) => {
      const out = benchmarkOutputs(opts);
      const info: Record<string, { title: string; paper?: string }> = {};
      const strategies: AnyDetector[] = [];
      for (const name of opts.strategies) {
        const s = STRATEGIES[name];
        strategies.push(s);
        info[name] = { title: `${s.id}. ${s.title}`, paper: s.paperResult };
        if (COMMON_NORM.includes(name)) {
          const common = withOptions(s, 'common', { normalization: 'common' }, `${s.id}. ${s.title} (common norm)`);
          strategies.push(common);
          info[common.name] = { title: common.title };
        }
      }
      let last = 0;
      const { results, report } = await benchmarkZoo(out.zoo, {
        strategies,
        ensemble: opts.strategies.length >= 2 ? opts.strategies : false,
        info,
        seed: opts.seed,
        seeds: Array.from({ length: opts.seeds }, (_, k) => opts.seed + k),
        maxPrompts: opts.maxPrompts,
        permutations: opts.permutations,
        variants: opts.benchmarks,
        detectorOptions: readOptions(opts.options),
        load: { device: opts.device },
        onProgress: (e) => {
          const now = performance.now();
          if (now - last < 5000 && e.done < e.total) return;
          last = now;
          console.error(`${e.stage}${e.variant ? ` (${e.variant})` : ''}${e.detector ? ` ${e.detector}` : ''}: ${e.done}/${e.total}`);
        },
      });
      writeFileAtomic(out.markdown, report);
      writeFileAtomic(out.json, JSON.stringify(results, null, 1) + '\n');
      writeFileAtomic(out.html, await htmlReport(results));
      console.log(report);
      console.log(`report: ${out.markdown}; plots: ${out.html}; results: ${out.json}`);
    });
}
