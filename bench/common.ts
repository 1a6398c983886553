// Shared helpers for the benchmarks: arguments, thread setup, the Python peer,
// random-weight model configs cached under bench/.cache, timing and tables.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parameterCount, type LlamaConfig, type LlamaSizes } from '../src/model/config.js';
import { zooModelConfig } from '../src/zoo/init.js';
import { DEFAULT_RECIPE } from '../src/zoo/recipe.js';
import { median } from '../src/strategies/primitives/stats.js';
import { loadedBlas } from '../src/native/blas.js';

export { median };

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = dirname(BENCH_DIR);
export const CACHE_DIR = join(BENCH_DIR, '.cache');
/** The Python peer: POSER_PYTHON, else the environment tools/make-peer-env.sh creates. */
export const PYTHON = process.env.POSER_PYTHON ?? join(ROOT, '.venv-peer', 'bin', 'python');
export const PEER = join(BENCH_DIR, 'peer_forward.py');
export const FIXTURE_DIR = join(ROOT, 'test', 'fixtures', 'tiny-llama');

export interface BenchArgs {
  threads: number;
  quick: boolean;
  /** OMP_WAIT_POLICY for both sides (`--omp-wait passive|active`); unset by default. */
  ompWait?: string;
  flags: Set<string>;
  values: Map<string, string>;
}

/** `--threads N` (default: every core), `--quick`, other `--flag` / `--key value`. */
export function parseArgs(argv = process.argv.slice(2)): BenchArgs {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    const [key, inline] = a.slice(2).split('=', 2);
    if (inline !== undefined) values.set(key, inline);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) values.set(key, argv[++i]);
    else flags.add(key);
  }
  const cores = availableCores();
  const threads = values.has('threads') ? Number(values.get('threads')) : cores;
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads must be a positive integer, got ${values.get('threads')}`);
  const ompWait = values.get('omp-wait');
  if (ompWait !== undefined && ompWait !== 'passive' && ompWait !== 'active') throw new Error(`--omp-wait must be passive or active, got ${ompWait}`);
  return { threads, quick: flags.has('quick'), ompWait, flags, values };
}

/** Cores this process may run on (not OMP_NUM_THREADS, which `nproc` would honour). */
export function availableCores(): number {
  return availableParallelism();
}

/**
 * Thread settings shared by both sides. OpenBLAS keeps its own thread pool,
 * which torch's set_num_threads does not touch: pin it through the
 * environment, before the addon (and so libopenblas) is loaded.
 */
export function threadEnv(threads: number): Record<string, string> {
  return { OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads) };
}

/** Sets the thread environment (and OMP_WAIT_POLICY if asked) in this process; the peer inherits it. */
export function applyThreadEnv(args: Pick<BenchArgs, 'threads' | 'ompWait'>): void {
  Object.assign(process.env, threadEnv(args.threads));
  if (args.ompWait) process.env.OMP_WAIT_POLICY = args.ompWait.toUpperCase();
}

function cpuTimes(): { idle: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: fields[3] + (fields[4] ?? 0), total: fields.reduce((x, y) => x + y, 0) };
}

/**
 * A line about machine load: how many cores other processes keep busy during
 * one idle second of ours. On a busy machine OpenMP threads that spin at
 * barriers while a sibling is descheduled slow every parallel op, and the side
 * with more (smaller) ops suffers most, which skews the ratios.
 */
export async function loadNote(threads: number): Promise<string> {
  const before = cpuTimes();
  await sleep(1000);
  const after = cpuTimes();
  const cores = availableCores();
  const busy = cores * (1 - (after.idle - before.idle) / Math.max(1, after.total - before.total));
  const env = process.env.OMP_WAIT_POLICY ? `OMP_WAIT_POLICY=${process.env.OMP_WAIT_POLICY}` : 'OMP_WAIT_POLICY unset';
  const warn = busy + threads > cores + 0.25;
  return `other processes keep ${busy.toFixed(2)} of ${cores} cores busy (1-min load average ${loadavg()[0].toFixed(2)}); ${env}` +
    (warn ? `\nWARNING: the machine is busy; with ${threads} threads per side some run descheduled, and OpenMP spin-waiting ` +
      'then inflates times (most for many small ops). Rerun on an idle machine, or compare with --omp-wait passive.' : '');
}

/** Runs the Python peer; returns its last JSON line. */
export function peer<T = Record<string, unknown>>(args: string[], threads: number): T {
  const out = spawnSync(PYTHON, [PEER, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...threadEnv(threads), TRANSFORMERS_VERBOSITY: 'error', TOKENIZERS_PARALLELISM: 'false' },
    maxBuffer: 64 << 20,
  });
  if (out.error) throw new Error(`cannot run ${PYTHON}: ${out.error.message}`);
  if (out.status !== 0) throw new Error(`peer ${args[0]} failed (exit ${out.status}):\n${out.stderr}`);
  const lines = out.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as T;
}

/** A random-weight model's config: the sizes of a LLaMA config, its context length, tied embeddings or not (default not). */
export type RandomConfig = LlamaSizes & Pick<LlamaConfig, 'max_position_embeddings'> & Partial<Pick<LlamaConfig, 'tie_word_embeddings'>>;

/** The zoo-sized config and the ~100M-parameter config used by the benchmarks. */
export const ZOO_CONFIG: RandomConfig = {
  hidden_size: 128, num_hidden_layers: 4, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 384, vocab_size: 2048, max_position_embeddings: 256,
};
export const BIG_CONFIG: RandomConfig = {
  hidden_size: 768, num_hidden_layers: 12, num_attention_heads: 12, num_key_value_heads: 4, intermediate_size: 2048, vocab_size: 8192, max_position_embeddings: 512,
};
/** The default zoo's architecture (models/recipes/default.json), with the recipe's vocabulary size. */
export const ZOO_RECIPE_CONFIG: RandomConfig = zooModelConfig(DEFAULT_RECIPE.architecture, DEFAULT_RECIPE.tokenizer.vocabSize);
/** The shape of SmolLM2-135M (a real pretrained LLaMA-architecture model): GQA 9/3, tied embeddings. */
export const SMOLLM2_135M_CONFIG: RandomConfig = {
  hidden_size: 576, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, intermediate_size: 1536, vocab_size: 49152, max_position_embeddings: 2048,
  tie_word_embeddings: true,
};

/** A directory with random LlamaForCausalLM weights for `config`, generated once by the peer. */
export function randomModel(name: string, config: RandomConfig, seed = 0): string {
  const dir = join(CACHE_DIR, name);
  if (existsSync(join(dir, 'model.safetensors')) && existsSync(join(dir, 'config.json'))) return dir;
  console.log(`generating random weights for ${name} (${(parameterCount(config) / 1e6).toFixed(1)}M parameters) in ${dir} ...`);
  mkdirSync(CACHE_DIR, { recursive: true });
  peer(
    ['gen', '--dir', dir, '--hidden', String(config.hidden_size), '--layers', String(config.num_hidden_layers), '--heads', String(config.num_attention_heads),
      '--kv-heads', String(config.num_key_value_heads), '--intermediate', String(config.intermediate_size), '--vocab', String(config.vocab_size),
      '--max-pos', String(config.max_position_embeddings), '--seed', String(seed), ...(config.tie_word_embeddings ? ['--tied'] : [])],
    1,
  );
  return dir;
}

/** A small seeded generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Rows of random token ids; lengths in [minLen, maxLen]. */
export function randomRows(batch: number, minLen: number, maxLen: number, vocab: number, seed: number): number[][] {
  const next = rng(seed);
  return Array.from({ length: batch }, () => {
    const len = minLen + Math.floor(next() * (maxLen - minLen + 1));
    return Array.from({ length: len }, () => Math.floor(next() * vocab));
  });
}

/** Writes B*T int32 ids for the peer; returns the path. */
export function writeIds(name: string, rows: number[][]): string {
  mkdirSync(CACHE_DIR, { recursive: true });
  const path = join(CACHE_DIR, `${name}.i32`);
  writeFileSync(path, new Int32Array(rows.flat()));
  return path;
}

export function readFloat32(path: string): Float32Array {
  const buf = readFileSync(path);
  return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
}


/** Median seconds of `reps` runs of `fn` after `warmup` runs. */
export async function timeIt(fn: () => Promise<unknown>, warmup: number, reps: number): Promise<{ median: number; times: number[] }> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = performance.now();
    await fn();
    times.push((performance.now() - start) / 1000);
  }
  return { median: median(times), times };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A plain text table; numbers right-aligned. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => String(c)))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(cells[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** The BLAS file this process mapped (call after the addon loaded). */
export function blasInUse(): string {
  return loadedBlas() ?? 'unknown (no /proc/self/maps)';
}

export function fmt(x: number, digits = 1): string {
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/**
 * A long-lived Python peer (`peer_forward.py serve`): one JSON request per
 * line on stdin, one JSON answer per line on stdout.
 */
export class PeerServer {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterator<string>;
  private stderr = '';

  private constructor(args: string[], threads: number) {
    this.child = spawn(PYTHON, [PEER, 'serve', ...args], {
      env: { ...process.env, ...threadEnv(threads), TRANSFORMERS_VERBOSITY: 'error', TOKENIZERS_PARALLELISM: 'false' },
    });
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.lines = createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  /** Starts the peer on `dir` with the ids in `idsPath`; resolves with its "ready" line. */
  static async start(dir: string, idsPath: string, batch: number, length: number, threads: number) {
    const server = new PeerServer(['--dir', dir, '--ids', idsPath, '--batch', String(batch), '--length', String(length), '--threads', String(threads)], threads);
    const ready = await server.next<{ ready: boolean; last_only: boolean; torch: string; transformers: string; threads: number; available: string[]; unavailable: Record<string, string>; parameters: number }>();
    return { server, ready };
  }

  private async next<T>(): Promise<T> {
    const { value, done } = await this.lines.next();
    if (done) throw new Error(`the Python peer exited (code ${this.child.exitCode}):\n${this.stderr}`);
    return JSON.parse(value) as T;
  }

  async request<T = Record<string, unknown>>(req: Record<string, unknown>): Promise<T> {
    this.child.stdin.write(JSON.stringify(req) + '\n');
    const out = await this.next<T & { error?: string }>();
    if (out.error) throw new Error(`peer: ${out.error}`);
    return out;
  }

  get pid(): number {
    return this.child.pid!;
  }

  async close(): Promise<void> {
    this.child.stdin.write(JSON.stringify({ cmd: 'quit' }) + '\n');
    this.child.stdin.end();
    if (this.child.exitCode === null) await new Promise((resolve) => this.child.once('exit', resolve));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `perf` can sample this machine's processes. */
export function perfAvailable(): boolean {
  const r = spawnSync('perf', ['--version'], { encoding: 'utf8' });
  return r.status === 0;
}

const PERF_GROUPS: [string, (dso: string, sym: string) => boolean][] = [
  ['BLAS sgemm (linear layers, attention products)', (dso) => /blas/i.test(dso)],
  ['waiting: OpenMP barriers, sched_yield, context switches', (dso, sym) =>
    /libgomp/.test(dso) || /sched_yield|schedule|do_syscall|futex|switch_to|finish_task_switch|entry_SYSCALL|syscall_exit|pick_next|yield/.test(sym)],
  ['our fused kernels (attention, RMSNorm, SiLU)', (dso, sym) => /poser_native/.test(dso) && /attend_group|rms_norm_rows|silu_mul/.test(sym)],
  ['ATen kernels (elementwise, softmax, copies)', (dso) => /libtorch|libc10|sleef|libdnnl|mkldnn|pthreadpool/.test(dso)],
  ['memory: malloc/free, memcpy, page faults', (dso, sym) => (/libc\.so/.test(dso) && /alloc|free|mem|cfree|brk|mmap|munmap/.test(sym)) ||
    /page_fault|clear_page|do_anonymous|handle_mm|__mmap|munmap|zap_|unmap|memcg|lru|folio|alloc_pages|free_pages|release_pages|do_user_addr/.test(sym)],
  ['Python interpreter', (dso) => /python|libpython/.test(dso)],
  ['Node / V8 / addon glue', (dso) => /^node$|poser_native|JIT|libnode|libuv/.test(dso)],
];

/**
 * CPU-time shares of process `pid` while `during` runs, from `perf record`
 * (cpu-clock samples, all threads), grouped by library and symbol. Shares of
 * samples, so they hold under machine load; null when perf cannot run.
 */
export async function perfShares(pid: number, during: () => Promise<void>, tag: string): Promise<{ groups: [string, number][]; samples: number } | null> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const data = join(CACHE_DIR, `perf-${tag}.data`);
  const rec = spawn('perf', ['record', '-e', 'cpu-clock', '-F', '997', '-p', String(pid), '-o', data], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  rec.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => rec.once('exit', (code) => resolve(code)));
  await sleep(500); // attach
  if (rec.exitCode !== null) return null;
  await during();
  rec.kill('SIGINT');
  await exited;
  const rep = spawnSync('perf', ['report', '-i', data, '--no-children', '--sort', 'dso,sym', '--stdio', '-q', '--percent-limit', '0'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (rep.status !== 0) return null;
  const totals = new Map<string, number>(PERF_GROUPS.map(([name]) => [name, 0]));
  totals.set('other', 0);
  for (const line of rep.stdout.split('\n')) {
    const m = /^\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, share, dso, , sym] = m;
    const group = PERF_GROUPS.find(([, test]) => test(dso, sym))?.[0] ?? 'other';
    totals.set(group, totals.get(group)! + Number(share));
  }
  const samples = Number(/\((\d+) samples\)/.exec(err)?.[1] ?? 0);
  return { groups: [...totals].filter(([, v]) => v > 0), samples };
}
