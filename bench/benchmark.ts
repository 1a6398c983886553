// The pair benchmark's cost: the runner (each model measured once per
// combination, pairs compared from cached measurements) against the pairwise
// path (every strategy run on every pair, both models measured each time),
// on a built zoo, one seed, the plain benchmark. Both must give the same verdicts.
// From the per-measurement costs of both paths it estimates the default recipe's
// 12-model zoo (36 pairs) and 36-model zoo (324 pairs): the runner measures each
// model once per combination it is in (3), the pairwise path both models of every pair.
//
//   npx tsx bench/benchmark.ts --zoo models/zoo [--strategies 2,6|all] [--max-prompts 64] [--threads N]
import { Model } from '../src/model/model.js';
import { getNumThreads, setNumThreads } from '../src/native/binding.js';
import { dataForSeed, runBenchmark, zooBenchmarkSpec } from '../src/benchmark/index.js';
import { STRATEGIES, subject, type StrategyName } from '../src/strategies/index.js';
import { DEFAULT_RECIPE, zooCombinations, zooModelNames } from '../src/zoo/recipe.js';
import { applyThreadEnv, fmt, loadNote, parseArgs, table } from './common.js';

const args = parseArgs();
applyThreadEnv(args);
setNumThreads(args.threads);
const zoo = args.values.get('zoo') ?? 'models/zoo';
const list = args.values.get('strategies') ?? 'all';
const maxPrompts = Number(args.values.get('max-prompts') ?? 64);
const names = (list === 'all' ? Object.keys(STRATEGIES) : list.split(',').map((s) => Object.values(STRATEGIES).find((x) => String(x.id) === s)?.name ?? s)) as StrategyName[];
const strategies = names.map((n) => STRATEGIES[n]);
console.log(`threads ${getNumThreads()}; ${await loadNote(args.threads)}`);

const spec = zooBenchmarkSpec(zoo);
const seed = 0;
let t = performance.now();
const run = await runBenchmark(spec, { detectors: strategies, seeds: [seed], maxPrompts, variants: ['plain'] });
const cached = (performance.now() - t) / 1000;
const result = run.variants.plain!;

// The pairwise path: load the two models of each pair, run every strategy on them.
t = performance.now();
let mismatches = 0;
for (const [index, pair] of spec.pairs.entries()) {
  const dirOf = (name: string) => spec.models.find((m) => m.name === name)!.dir;
  const order = result.pairs[index].verdicts[strategies[0].name][0].order;
  const combo = spec.combinations.find((c) => c.name === pair.combination)!;
  const models = [await Model.load(dirOf(order[0])), await Model.load(dirOf(order[1]))];
  const data = dataForSeed(combo.data, maxPrompts, seed);
  for (const s of strategies) {
    const v = await s.run([subject(models[0]), subject(models[1])], data, { seed });
    const named = v.faker === null ? null : order[v.faker];
    if (named !== result.pairs[index].verdicts[s.name][0].named) mismatches++;
  }
  models.forEach((m) => m.dispose());
}
const pairwise = (performance.now() - t) / 1000;
console.log(`${zoo}: ${spec.models.length} models, ${spec.combinations.length} combinations, ${spec.pairs.length} pairs; strategies ${names.join(', ')}; ${maxPrompts} prompts`);
console.log(`runner (cached per model): ${cached.toFixed(1)} s, ${result.measured} measurements`);
console.log(`pairwise: ${pairwise.toFixed(1)} s, ${2 * spec.pairs.length * strategies.length} measurements`);
console.log(`ratio pairwise / runner: ${(pairwise / cached).toFixed(2)}x; verdicts that differ: ${mismatches}`);

// Estimates for the default recipe's zoos at the per-measurement costs measured here.
const runnerEach = cached / result.measured;
const pairwiseEach = pairwise / (2 * spec.pairs.length * strategies.length);
const rows: (string | number)[][] = [];
for (const variants of [DEFAULT_RECIPE.variants, 6]) {
  const recipe = { ...DEFAULT_RECIPE, variants };
  const models = zooModelNames(recipe).length;
  const combinations = zooCombinations(recipe).length;
  const pairs = combinations * variants * variants;
  const perModel = DEFAULT_RECIPE.policies.faker.length; // an aligned policy meets every faking policy, and vice versa
  const runnerCount = models * perModel * strategies.length;
  const pairwiseCount = 2 * pairs * strategies.length;
  const r = runnerCount * runnerEach, p = pairwiseCount * pairwiseEach;
  rows.push([`${models} models, ${pairs} pairs`, runnerCount, fmt(r / 60, 1), pairwiseCount, fmt(p / 60, 1), fmt(p / r, 2)]);
}
console.log(`\nestimated benchmark of the default recipe's zoos (one seed, plain), at this run's cost per measurement ` +
  `(runner ${fmt(runnerEach, 2)} s, pairwise ${fmt(pairwiseEach, 2)} s, on this zoo's models; ` +
  'the default models are larger than the micro zoo\'s, so minutes scale, ratios hold):');
console.log(table(['zoo', 'runner measurements', 'runner min', 'pairwise measurements', 'pairwise min', 'ratio'], rows));
console.log(await loadNote(args.threads));
if (mismatches) process.exitCode = 1;
