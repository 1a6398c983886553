/**
 * `poser benchmark run`: the detection strategies over every (aligned, faker)
 * pair of a built zoo, scored with intervals, written as a report.
 */
import { SingleBar } from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { writeFileAtomic } from '../io/atomic.js';
import { deviceArg, intArg } from './args.js';
import { benchmarkReport, runBenchmark, zooPairSpecs } from '../benchmark/index.js';
import { STRATEGIES, type StrategyName } from '../strategies/index.js';

function strategyList(value: string): StrategyName[] {
  if (value === 'all') return Object.keys(STRATEGIES) as StrategyName[];
  return value.split(',').map((s) => {
    const name = s.trim();
    const byId = Object.values(STRATEGIES).find((info) => String(info.id) === name);
    if (byId) return byId.name;
    if (name in STRATEGIES) return name as StrategyName;
    throw new InvalidArgumentError(`unknown strategy '${name}' (use 1-6, 'all' or ${Object.keys(STRATEGIES).join(', ')})`);
  });
}


export function registerBenchmarkCommands(program: Command): void {
  const bench = program.command('benchmark').description('run the detection strategies on the pair benchmark');
  bench
    .command('run')
    .description('run strategies over every (aligned, faker) pair of a zoo and report accuracy with 95% intervals')
    .option('--zoo <dir>', 'the zoo directory', 'models/zoo')
    .option('--strategies <list>', "comma-separated ids or names, or 'all'", strategyList, strategyList('all'))
    .option('--max-prompts <n>', 'benchmark prompts per pair (seeded subsample)', intArg('--max-prompts', 1), 64)
    .option('--seed <n>', 'seed of presentation order, subsampling and strategies', intArg('--seed', 0), 0)
    .option('--device <device>', 'cpu or cuda:N', deviceArg, 'cpu')
    .option('--out <file>', 'Markdown report', 'models/zoo/report.md')
    .option('--json <file>', 'per-pair verdicts and evidence', 'models/zoo/results.json')
    .action(async (opts: { zoo: string; strategies: StrategyName[]; maxPrompts: number; seed: number; device: string; out: string; json: string }) => {
      const pairs = zooPairSpecs(opts.zoo, { seed: opts.seed });
      const bar = process.stderr.isTTY ? new SingleBar({ format: '{bar} {percentage}% | pair {pair}/{pairs} {strategy} | elapsed {duration_formatted} | ETA {eta_formatted}', hideCursor: true }) : undefined;
      bar?.start(pairs.length * opts.strategies.length, 0, { pair: 0, pairs: pairs.length, strategy: '' });
      const started = performance.now();
      const { results, outcomes } = await runBenchmark(pairs, {
        strategies: opts.strategies,
        seed: opts.seed,
        maxPrompts: opts.maxPrompts,
        load: { device: opts.device },
        onProgress: (e) => {
          if (bar) bar.update(e.done, { pair: Math.min(e.pair + 1, e.pairs), pairs: e.pairs, strategy: e.strategy });
          else if (e.done % opts.strategies.length === 0 && e.done < e.total) console.error(`pair ${e.pair + 1}/${e.pairs}`);
        },
      });
      bar?.stop();
      const seconds = (performance.now() - started) / 1000;
      const report = benchmarkReport({
        outcomes,
        seed: opts.seed,
        context: [`zoo: ${opts.zoo}, ${pairs.length} pairs`, `up to ${opts.maxPrompts} benchmark prompts per pair, seed ${opts.seed}`, `run time ${seconds.toFixed(0)} s on ${opts.device}`],
      });
      writeFileAtomic(opts.out, report);
      writeFileAtomic(opts.json, JSON.stringify(results, null, 1) + '\n');
      console.log(report);
      console.log(`report: ${opts.out}; verdicts and evidence: ${opts.json}`);
    });
}
