// Strategy 2's noise sweep: Model.sweep against the naive loop of forwards.
//
//   npx tsx bench/sweep.ts [--threads N] [--quick]
//
// Nine settings, noise scaled by c in {0, 1, 3, ..., 15} at
// blocks.{L}.hook_resid_post, last position, L = round(numLayers * 15 / 40).
// Model.sweep computes the shared prefix once and reruns only the last token
// from layer L on; the naive loop runs nine full forwards with the same
// interventions. Both must give the same last-position logits. It prints the
// achieved fraction of the prefix-reuse bound n*T/(T+n) (n settings, prompts
// of T tokens: n*T token passes naively, T + n with the prefix shared).
import { parameterCount } from '../src/model/config.js';
import { Model } from '../src/model/model.js';
import { residPost } from '../src/model/hooks.js';
import type { Intervention } from '../src/model/interventions.js';
import { getNumThreads, setNumThreads } from '../src/native/binding.js';
import {
  BIG_CONFIG, ZOO_CONFIG, applyThreadEnv, fmt, loadNote, maxAbsDiff, median, parseArgs, randomModel,
  randomRows, sleep, table, type RandomConfig,
} from './common.js';

const args = parseArgs();
applyThreadEnv(args); // before the addon (and OpenBLAS) load
setNumThreads(args.threads);
console.log(`threads: getNumThreads() = ${getNumThreads()} (requested ${args.threads})`);
console.log(await loadNote(args.threads));

const COEFFICIENTS = [0, 1, 3, 5, 7, 9, 11, 13, 15];
const BATCH = 16;
const TOLERANCE = 1e-4;

const cases: { name: string; config: RandomConfig; rounds: number }[] = [
  { name: 'llama-zoo', config: ZOO_CONFIG, rounds: args.quick ? 3 : 9 },
  { name: 'llama-100m', config: BIG_CONFIG, rounds: args.quick ? 1 : 3 },
];

const ms = (s: number) => fmt(s * 1000, s < 0.1 ? 2 : 1);
const summary: string[] = [];

for (const c of cases) {
  const dir = randomModel(c.name, c.config);
  const model = await Model.load(dir, { tokenizer: false });
  const L = Math.round((model.numLayers * 15) / 40);
  const rows = randomRows(BATCH, 55, 65, model.vocabSize, 99); // ~60-token prompts, left-padded
  const batch = model.encode(rows);
  const settings: Intervention[][] = COEFFICIENTS.map((scale) => [
    { hook: residPost(L), op: 'noise', positions: 'last', noise: { seed: 7, distribution: 'gaussian', norm: 1 }, scale },
  ]);
  console.log(`\n=== ${c.name} (${(parameterCount(c.config) / 1e6).toFixed(1)}M parameters, ${model.numLayers} layers): ` +
    `B=${BATCH}, prompts of ${Math.min(...batch.lengths)}-${Math.max(...batch.lengths)} tokens (padded to ${batch.length}), ` +
    `${settings.length} settings, noise at ${residPost(L)} ===`);

  const sweep = () => model.sweep(batch, settings);
  const sweepOne = () => model.sweep(batch, settings.slice(0, 1));
  const naive = async () => {
    const out = [];
    for (const ivs of settings) out.push(await model.forward(batch, { logits: 'last', interventions: ivs }));
    return out;
  };
  const single = () => model.forward(batch, { logits: 'last' });
  // What one rerun roughly costs: B single-token rows through every layer, scaled to layers L..n-1.
  const oneToken = model.encode(batch.lengths.map(() => [1]));
  const tokenStep = () => model.forward(oneToken, { logits: 'last' });

  // Agreement (also the warm-up).
  const a = await sweep();
  const b = await naive();
  await single();
  await tokenStep();
  const diffs = a.map((r, s) => maxAbsDiff(r.logits.data, b[s].logits!.data));
  const maxDiff = Math.max(...diffs);
  const spread = maxAbsDiff(a[0].logits.data, a[a.length - 1].logits.data);

  const times = { sweep: [] as number[], sweepOne: [] as number[], naive: [] as number[], single: [] as number[], token: [] as number[] };
  const time = async (key: keyof typeof times, fn: () => Promise<unknown>) => {
    const start = performance.now();
    await fn();
    times[key].push((performance.now() - start) / 1000);
  };
  for (let r = 0; r < c.rounds; r++) {
    await time('sweep', sweep);
    await time('sweepOne', sweepOne);
    await time('naive', naive);
    await time('single', single);
    for (let k = 0; k < 3; k++) await time('token', tokenStep);
    await sleep(50);
  }
  const tSweep = median(times.sweep), tNaive = median(times.naive), tSingle = median(times.single);
  const speedup = tNaive / tSweep;
  const bound = settings.length; // the base pass alone costs about one forward
  // Prefix-reuse bound: n settings over T-token prompts cost n*T token passes
  // naively and T + n with the prefix shared (one full pass, n one-token reruns).
  const n = settings.length, T = batch.length;
  const reuseBound = (n * T) / (T + n);
  const fraction = speedup / reuseBound;
  const tSweepOne = median(times.sweepOne);
  const rerun = (tSweep - tSweepOne) / (settings.length - 1);
  const layersRerun = model.numLayers - L; // the rerun starts at the hooked block itself
  const rerunEst = median(times.token) * (layersRerun + 1) / (model.numLayers + 1); // + lm_head, counted as one layer
  const bound2 = (settings.length * tSingle) / (tSingle + settings.length * rerunEst);
  console.log(table(['method', 'median ms', 'runs'], [
    [`model.sweep (${settings.length} settings)`, ms(tSweep), times.sweep.length],
    ['model.sweep (1 setting)', ms(tSweepOne), times.sweepOne.length],
    [`naive loop: ${settings.length} x model.forward`, ms(tNaive), times.naive.length],
    ['one model.forward (logits last)', ms(tSingle), times.single.length],
    [`one model.forward of ${BATCH} one-token rows`, ms(median(times.token)), times.token.length],
  ]));
  console.log(`agreement: max |sweep - naive| over last-position logits = ${maxDiff.toExponential(2)} ` +
    `(${maxDiff < TOLERANCE ? 'OK' : 'FAIL'}, tolerance ${TOLERANCE}); settings differ from each other by up to ${spread.toExponential(2)}`);
  console.log(`speedup sweep vs naive: ${fmt(speedup, 2)}x; bound ~${settings.length}x (${settings.length} forwards vs one base pass); ` +
    `one rerun (last token, layers ${L}-${model.numLayers - 1} + lm_head) costs ~${ms(rerun)} ms: (sweep of ${settings.length} - sweep of 1) / ${settings.length - 1}`);
  console.log(`a rerun is ${BATCH} one-token rows through ${layersRerun} layers + lm_head, about ${ms(rerunEst)} ms judging by a one-token forward ` +
    `(matrix products with ${BATCH} rows stream every weight for little arithmetic); at that cost the bound is ~${fmt(bound2, 1)}x`);
  console.log(`prefix-reuse bound n*T/(T+n) with n = ${n} settings, T = ${T} tokens (padded prompt length): ${fmt(reuseBound, 2)}x; ` +
    `achieved ${fmt(100 * fraction, 0)}% of it (goal 90%)`);
  summary.push(`${c.name}: sweep ${ms(tSweep)} ms, naive ${ms(tNaive)} ms, speedup ${fmt(speedup, 2)}x = ${fmt(100 * fraction, 0)}% of the prefix-reuse bound ${fmt(reuseBound, 2)}x (n=${n}, T=${T}; ~${fmt(bound2, 1)}x given the rerun cost), max diff ${maxDiff.toExponential(2)}`);
  model.dispose();
}

console.log(`\n=== summary (threads ${args.threads}) ===\n${summary.join('\n')}`);
console.log(await loadNote(args.threads));
