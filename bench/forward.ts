// Forward throughput of poser-torch against Hugging Face transformers (the
// Python peer, bench/peer_forward.py), same weights, batch, dtype and threads.
//
//   npx tsx bench/forward.ts [--threads N] [--quick] [--omp-wait passive|active] [--no-perf]
//
// Two shapes, random weights generated once by the peer into bench/.cache: the
// default zoo's organism (4 layers, hidden 64) and SmolLM2-135M (30 layers,
// hidden 576, GQA 9/3, a real pretrained model's shape). `--shapes zoo,135m,88m,fixture`
// picks others. The peer is the latest transformers on PyPI's torch
// (tools/make-peer-env.sh), eager and sdpa attention, with last-position logits
// (logits_to_keep=1) as a user scoring answers would run it. The machine's fp32
// GEMM peak is measured in the same run and achieved GFLOP/s printed beside it. Both sides
// stay loaded; their measurements are interleaved in rounds so that a change
// in machine load hits both alike. Prints tokens/s, ratios ours/HF (> 1: we
// are faster), and where our forward spends its time: forwards stopped after
// hooks (logits 'none'), and, where `perf` runs, CPU-sample shares of both
// processes by library (BLAS, ATen kernels, thread-pool waiting, Python).
import { parameterCount } from '../src/model/config.js';
import { Model } from '../src/model/model.js';
import { blockHook, type BlockHookKind } from '../src/model/hooks.js';
import type { EncodedBatch } from '../src/model/batch.js';
import { buildInfo, getNumThreads, setNumThreads } from '../src/native/binding.js';
import {
  BIG_CONFIG, SMOLLM2_135M_CONFIG, ZOO_RECIPE_CONFIG, type RandomConfig, CACHE_DIR, FIXTURE_DIR, PeerServer, applyThreadEnv, blasInUse, fmt, maxAbsDiff, median,
  loadNote, parseArgs, perfAvailable, perfShares, randomModel, randomRows, readFloat32, sleep, table, writeIds,
} from './common.js';
import { join } from 'node:path';

const args = parseArgs();
applyThreadEnv(args); // before the addon (and OpenBLAS) load

interface Case {
  name: string;
  dir: string;
  batch: number;
  length: number;
  rounds: number;
  /** forwards per variant per round */
  block: number;
  warmup: number;
}

const usePerf = !args.flags.has('no-perf') && perfAvailable();
const PAUSE_MS = 250; // lets the other process's spinning BLAS/OpenMP threads go idle

const randomCase = (name: string, config: RandomConfig, batch: number, length: number, quick: boolean): Case => ({
  name: `${name} (${(parameterCount(config) / 1e6).toFixed(1)}M, random)`,
  dir: randomModel(name, config),
  batch,
  length,
  rounds: quick ? 2 : 5,
  block: parameterCount(config) < 5e6 ? 20 : 1,
  warmup: parameterCount(config) < 5e6 ? 20 : 1,
});
const SHAPES: Record<string, () => Case> = {
  zoo: () => randomCase('llama-zoo-recipe', ZOO_RECIPE_CONFIG, 32, 96, args.quick),
  '135m': () => randomCase('smollm2-135m-shape', SMOLLM2_135M_CONFIG, 8, 102, args.quick),
  '88m': () => randomCase('llama-100m', BIG_CONFIG, 8, 128, args.quick),
  fixture: () => ({ name: 'tiny-llama (fixture)', dir: FIXTURE_DIR, batch: 8, length: 64, rounds: args.quick ? 3 : 7, block: args.quick ? 10 : 30, warmup: 20 }),
};
const shapeNames = (args.values.get('shapes') ?? 'zoo,135m').split(',');
for (const s of shapeNames) if (!SHAPES[s]) throw new Error(`--shapes: unknown shape '${s}' (expected ${Object.keys(SHAPES).join(', ')})`);
const cases: Case[] = shapeNames.map((s) => SHAPES[s]());

setNumThreads(args.threads);
console.log(await loadNote(args.threads));
const info = buildInfo();
console.log(`libtorch ${info.torchVersion} (addon); BLAS: ${blasInUse()}`);
console.log(info.parallelInfo.split('\n').filter((l) => /ATen parallel backend|at::get_num_threads|OMP_NUM_THREADS/.test(l)).map((l) => `  ${l.trim()}`).join('\n'));
console.log(`threads: ours getNumThreads() = ${getNumThreads()} (requested ${args.threads}); OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = ${args.threads} for both sides`);

type Timer = () => Promise<number[]>;

async function oursTimer(model: Model, batch: EncodedBatch, logits: 'last' | 'all', n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await model.forward(batch, { logits });
    times.push((performance.now() - start) / 1000);
  }
  return times;
}

/**
 * Fastest seconds of forwards that stop right after each hook (logits 'none',
 * one capture there; null: right after the embedding) and of full forwards,
 * measured in interleaved rounds. The minimum, not the median: other load only
 * ever adds time, and differences between points are small.
 */
async function stopTimes(model: Model, batch: EncodedBatch, hooks: (string | null)[], rounds: number, perRound: number): Promise<{ stops: number[]; last: number; all: number }> {
  const runs: (() => Promise<unknown>)[] = [
    ...hooks.map((hook) => () => model.forward(batch, { logits: 'none', interventions: hook ? [{ hook, op: 'capture' as const }] : [] })),
    () => model.forward(batch, { logits: 'last' }),
    () => model.forward(batch, { logits: 'all' }),
  ];
  for (const run of runs) await run();
  const samples = runs.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++)
    for (const [i, run] of runs.entries())
      for (let k = 0; k < perRound; k++) {
        const start = performance.now();
        await run();
        samples[i].push((performance.now() - start) / 1000);
      }
  const best = samples.map((xs) => Math.min(...xs));
  return { stops: best.slice(0, hooks.length), last: best[hooks.length], all: best[hooks.length + 1] };
}

const ms = (s: number) => (Number.isFinite(s) ? fmt(s * 1000, Math.abs(s) < 0.01 ? 3 : 1) : 'n/a');
const pct = (x: number, total: number) => (Number.isFinite(x / total) ? `${fmt((100 * x) / total, 0)}%` : 'n/a');

const summary: string[] = [];
let gemmPeak = 0;
const where: string[] = [];

for (const c of cases) {
  console.log(`\n=== ${c.name}: B=${c.batch} x T=${c.length} tokens, float32, no padding ===`);
  const model = await Model.load(c.dir, { dtype: 'float32', tokenizer: false });
  const cfg = model.config;
  const rows = randomRows(c.batch, c.length, c.length, cfg.vocab_size, 1234);
  const idsPath = writeIds(`ids-${cfg.hidden_size}-${c.batch}x${c.length}`, rows);
  const batch = model.encode(rows);
  const { server, ready } = await PeerServer.start(c.dir, idsPath, c.batch, c.length, args.threads);
  if (gemmPeak === 0) {
    gemmPeak = (await server.request<{ gflops: number }>({ cmd: 'gemm', n: 1024, reps: 20 })).gflops;
    console.log(`machine fp32 GEMM peak (1024^2, PyPI torch in the peer, ${args.threads} threads): ${fmt(gemmPeak, 0)} GFLOP/s`);
  }
  console.log(`peer: torch ${ready.torch}, transformers ${ready.transformers}, torch.get_num_threads() = ${ready.threads}; ` +
    `ours: getNumThreads() = ${getNumThreads()}; ${(ready.parameters / 1e6).toFixed(2)}M parameters`);
  for (const [attn, why] of Object.entries(ready.unavailable)) console.log(`HF ${attn} attention unavailable: ${why}`);

  const hfTimer = (attn: string, last: boolean): Timer => async () =>
    (await server.request<{ times: number[] }>({ cmd: 'time', attn, n: c.block, last })).times;
  const variants: { label: string; timer: Timer; side: 'ours' | 'hf' }[] = [
    { label: "ours, logits 'last' (default)", side: 'ours', timer: () => oursTimer(model, batch, 'last', c.block) },
    { label: "ours, logits 'all'", side: 'ours', timer: () => oursTimer(model, batch, 'all', c.block) },
    ...ready.available.map((attn) => ({ label: `HF ${attn} (last logits)`, side: 'hf' as const, timer: hfTimer(attn, true) })),
    { label: 'HF eager (all logits)', side: 'hf' as const, timer: hfTimer('eager', false) },
  ];
  if (!ready.last_only) console.log('peer: this transformers has no logits_to_keep; its "last logits" rows compute every position');

  // Warm-up (excluded), then interleaved rounds.
  for (const v of variants) for (let i = 0; i < Math.ceil(c.warmup / c.block); i++) await v.timer();
  const times = new Map<string, number[]>(variants.map((v) => [v.label, []]));
  let lastSide = '';
  for (let r = 0; r < c.rounds; r++) {
    for (const v of variants) {
      if (v.side !== lastSide) await sleep(PAUSE_MS);
      lastSide = v.side;
      times.get(v.label)!.push(...(await v.timer()));
    }
  }
  const med = new Map([...times].map(([k, t]) => [k, median(t)]));
  const tokens = c.batch * c.length;
  const hfEager = med.get('HF eager (all logits)')!;
  const tableRows = variants.map((v) => {
    const t = med.get(v.label)!;
    const n = times.get(v.label)!.length;
    return [v.label, ms(t), fmt(tokens / t, 0), fmt(hfEager / t, 2), String(n)];
  });
  for (const [attn] of Object.entries(ready.unavailable)) tableRows.push([`HF ${attn}`, 'n/a', 'n/a', 'n/a', '0']);
  console.log(table(['variant', 'median ms', 'tokens/s', 'vs HF eager', 'runs'], tableRows));
  const rLast = hfEager / med.get("ours, logits 'last' (default)")!;
  const rAll = hfEager / med.get("ours, logits 'all'")!;
  const hfLast = ready.available.map((attn) => [attn, med.get(`HF ${attn} (last logits)`)!] as const).sort((a, b) => a[1] - b[1]);
  const [fastAttn, fastHf] = hfLast[0];
  const tOurs = med.get("ours, logits 'last' (default)")!;
  const rFast = fastHf / tOurs;
  // FLOPs of one forward with last-position logits: the linear layers over every
  // token, the two attention products (causal: about half the T x T square), lm_head once per row.
  const cfgD = cfg.hidden_size, hd = Number((cfg as { head_dim?: number }).head_dim ?? cfgD / cfg.num_attention_heads);
  const perTokenLinear = 2 * (cfgD * cfg.num_attention_heads * hd * 2 + 2 * cfgD * cfg.num_key_value_heads * hd + 3 * cfgD * cfg.intermediate_size);
  const attnProducts = 2 * 2 * c.batch * cfg.num_attention_heads * hd * (c.length * (c.length + 1)) / 2;
  const flops = cfg.num_hidden_layers * (tokens * perTokenLinear + attnProducts) + c.batch * 2 * cfgD * cfg.vocab_size;
  const achieved = flops / tOurs / 1e9;
  console.log(`ratio ours/HF eager all-logits (> 1 = we are faster): logits 'last' ${fmt(rLast, 2)}x, logits 'all' ${fmt(rAll, 2)}x`);
  console.log(`ratio ours 'last' / fastest HF with last logits (${fastAttn}): ${fmt(rFast, 2)}x`);
  console.log(`ours 'last': ${fmt(achieved, 1)} GFLOP/s = ${fmt((100 * achieved) / gemmPeak, 0)}% of the measured GEMM peak ${fmt(gemmPeak, 0)} GFLOP/s; HF ${fastAttn}: ${fmt(flops / fastHf / 1e9, 1)} GFLOP/s`);
  summary.push(`${c.name}: ours 'last' ${fmt(tokens / tOurs, 0)} tok/s (${fmt(achieved, 0)} GFLOP/s, ${fmt((100 * achieved) / gemmPeak, 0)}% of peak), ` +
    `HF ${fastAttn} last ${fmt(tokens / fastHf, 0)} tok/s -> ${fmt(rFast, 2)}x; vs HF eager all logits ${fmt(rLast, 2)}x`);

  // Same numbers? Last-position logits against HF's.
  const logitsPath = join(CACHE_DIR, 'hf-last-logits.f32');
  await server.request({ cmd: 'logits', attn: 'eager', path: logitsPath });
  const ours = await model.forward(batch, { logits: 'last' });
  console.log(`check: max |ours - HF| over last-position logits [${c.batch}, ${cfg.vocab_size}] = ${maxAbsDiff(ours.logits!.data, readFloat32(logitsPath)).toExponential(2)}`);

  // Where our time goes: forwards that stop right after a hook (logits 'none').
  const L = 0; // any layer costs the same; the first keeps the stopped forwards short, so their noise small
  const kinds: BlockHookKind[] = ['hook_resid_pre', 'hook_attn_out', 'ln2.hook_normalized', 'hook_mlp_out'];
  const hooks = [null, ...kinds.map((k) => blockHook(L, k)), blockHook(cfg.num_hidden_layers - 1, 'hook_resid_post')];
  const st = await stopTimes(model, batch, hooks, c.rounds, c.block > 1 ? 10 : 1);
  const [tOverhead, ...rest] = st.stops;
  const at = Object.fromEntries(kinds.map((k, i) => [k, rest[i]])) as Record<BlockHookKind, number>;
  const tStack = rest[kinds.length];
  const { last: tLast, all: tAll } = st;
  const perLayer = (tStack - tOverhead) / cfg.num_hidden_layers;
  const attn = at.hook_attn_out - at.hook_resid_pre; // input RMSNorm + q/k/v/o projections + RoPE + attention
  const mlp = at.hook_mlp_out - at['ln2.hook_normalized']; // gate/up/down projections + SiLU
  const glue = perLayer - attn - mlp; // post-attention RMSNorm, residual adds
  const d = cfg.hidden_size, kvDim = (d / cfg.num_attention_heads) * cfg.num_key_value_heads, inter = cfg.intermediate_size;
  const mlpFlops = 2 * tokens * 3 * d * inter;
  const attnLinFlops = 2 * tokens * d * (2 * d + 2 * kvDim);
  const attnCoreFlops = 2 * 2 * c.batch * cfg.num_attention_heads * c.length * c.length * (d / cfg.num_attention_heads);
  const gemmRate = mlp > 0 ? mlpFlops / mlp : NaN; // what the MLP's matrix products achieve
  const attnLin = attnLinFlops / gemmRate;
  const breakdown: [string, number][] = [
    ['fixed per call: JS->native, worker hop, embedding, RoPE tables, mask', tOverhead],
    [`${cfg.num_hidden_layers} layers x attention block (norm, q/k/v/o, RoPE, softmax(QK^T)V)`, attn * cfg.num_hidden_layers],
    [`   of which q/k/v/o projections (estimated at the MLP's ${fmt(gemmRate / 1e9, 1)} GFLOP/s)`, attnLin * cfg.num_hidden_layers],
    [`   of which attention core + RoPE + norm (rest)`, (attn - attnLin) * cfg.num_hidden_layers],
    [`${cfg.num_hidden_layers} layers x MLP (gate/up/down, SiLU)`, mlp * cfg.num_hidden_layers],
    [`${cfg.num_hidden_layers} layers x post-attn norm + residual adds`, glue * cfg.num_hidden_layers],
    ["final norm + lm_head at the last position (logits 'last')", tLast - tStack],
    ["final norm + lm_head at every position (logits 'all')", tAll - tStack],
  ];
  console.log(`\nwhere our forward spends its time (logits 'last' = ${ms(tLast)} ms at best; fastest of forwards stopped after hooks of layer ${L}, interleaved; differences, so approximate):`);
  console.log(table(['part', 'ms', "of 'last'"], breakdown.map(([k, v]) => [k, ms(v), pct(v, tLast)])));
  if (breakdown.some(([, v]) => !(v >= 0))) console.log('(a negative or n/a entry: the machine load changed between measurements; rerun when it is idle)');
  console.log(`FLOP/token: linear ${fmt((mlpFlops + attnLinFlops) * cfg.num_hidden_layers / tokens / 1e6, 1)}M, attention core ${fmt(attnCoreFlops * cfg.num_hidden_layers / tokens / 1e6, 2)}M, ` +
    `lm_head ${fmt((2 * d * cfg.vocab_size) / 1e6, 2)}M`);

  const prof = await server.request<{ groups: Record<string, number>; calls: number }>({ cmd: 'profile', attn: 'eager' });
  const profTotal = Object.values(prof.groups).reduce((a, b) => a + b, 0);
  console.log(`\nHF eager, torch.profiler self CPU time of one forward (${prof.calls} op calls; the profiler adds overhead):`);
  console.log(table(['op group', 'ms', 'share'], [
    ...Object.entries(prof.groups).map(([k, v]) => [k, ms(v), pct(v, profTotal)]),
    ['outside aten ops (Python, module calls): median - sum', ms(Math.max(0, hfEager - profTotal)), pct(Math.max(0, hfEager - profTotal), hfEager)],
  ]));

  // CPU-sample shares from perf: robust under load, where the differences above are not.
  let perfLine = '';
  if (usePerf) {
    const k = c.block > 1 ? 200 : 3;
    const ours = await perfShares(process.pid, async () => {
      for (let i = 0; i < k; i++) await model.forward(batch, { logits: 'last' });
    }, 'ours');
    const hf = await perfShares(server.pid, async () => {
      await server.request({ cmd: 'time', attn: 'eager', n: k });
    }, 'hf');
    if (ours && hf) {
      const names = [...new Set([...ours.groups.map(([g]) => g), ...hf.groups.map(([g]) => g)])];
      const get = (r: typeof ours, g: string) => r.groups.find(([x]) => x === g)?.[1] ?? 0;
      console.log(`\nperf: share of CPU samples over ${k} forwards (all threads; ours logits 'last' ${ours.samples} samples, HF eager ${hf.samples} samples):`);
      console.log(table(['group', 'ours', 'HF eager'], names.map((g) => [g, `${fmt(get(ours, g), 1)}%`, `${fmt(get(hf, g), 1)}%`])));
      const wait = 'waiting: OpenMP barriers, sched_yield, context switches';
      perfLine = ` perf: BLAS ${fmt(get(ours, names[0]), 0)}% of our CPU samples (HF ${fmt(get(hf, names[0]), 0)}%), ` +
        `thread-pool waiting ${fmt(get(ours, wait), 0)}% (HF ${fmt(get(hf, wait), 0)}%), our fused kernels ${fmt(get(ours, 'our fused kernels (attention, RMSNorm, SiLU)'), 0)}%, ATen kernels ${fmt(get(ours, 'ATen kernels (elementwise, softmax, copies)'), 0)}% ` +
        `(HF ${fmt(get(hf, 'ATen kernels (elementwise, softmax, copies)'), 0)}%), Python ${fmt(get(hf, 'Python interpreter'), 0)}% of HF's.`;
    } else console.log('\nperf: could not record (permissions?); skipped');
  }

  const n = cfg.num_hidden_layers;
  const share = (x: number) => pct(Math.max(0, x), tLast);
  const gemm = (attnLin + mlp) * n;
  const other = (attn - attnLin + glue) * n;
  const perOpFlops = (mlpFlops + attnLinFlops) / 7; // 7 projections per layer
  where.push(`${c.name}: of ${ms(tLast)} ms (logits 'last'): q/k/v/o + MLP matrix products ~${share(gemm)}, ` +
    `attention core + RoPE + norms + residual adds ~${share(other)}, fixed per call ~${share(tOverhead)}, final norm + lm_head ~${share(tLast - tStack)}; ` +
    `${ms(perLayer)} ms per layer; the MLP runs at ${fmt(gemmRate / 1e9, 1)} GFLOP/s (${fmt(perOpFlops / 1e6, 2)} MFLOP per projection); ` +
    `logits 'all' adds ${ms(Math.max(0, tAll - tLast))} ms.` + perfLine);

  await server.close();
  model.dispose();
  console.log(await loadNote(args.threads));
}

console.log(`\n=== summary (threads ${args.threads}) ===\n${summary.join('\n')}`);
console.log(`\nwhere the time goes:\n- ${where.join('\n- ')}`);
