/**
 * `poser zoo ...` commands: build the model zoo, print its behaviour table,
 * rebuild its benchmark, and write logits for the Python cross-check.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { addZooOption, deviceArg, intArg, zooDir } from './args.js';
import { Rng } from '../data/random.js';
import { PoserError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { POLICIES } from '../data/types.js';
import { Model } from '../model/model.js';
import { setNumThreads } from '../native/binding.js';
import { evaluateZoo, formatBehaviourTable } from '../zoo/behaviour.js';
import { buildZoo, upgradeZoo, type BuildProgress } from '../zoo/build.js';
import { rebuildBenchmark } from '../zoo/rebuild.js';
import { readZooDataFiles, requireZooFormat } from '../zoo/files.js';
import { loadZooManifest, type ZooManifest } from '../zoo/manifest.js';
import { resolveRecipe } from '../zoo/recipe.js';



function probArg(value: string): number {
  const x = Number(value);
  if (!(x > 0 && x <= 1)) throw new InvalidArgumentError(`threshold must be in (0, 1], got "${value}"`);
  return x;
}


function clock(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Per combination: what the benchmark kept, and the pairs left out. */
function printBenchmark(m: ZooManifest): void {
  for (const f of Object.values(m.benchmark?.files ?? {})) {
    console.log(`  ${f.path}: ${f.kept} of ${f.candidates} candidates; contrast pairs ${f.contrast?.kept ?? '-'}, concept stimuli ${f.concepts?.kept ?? '-'} per side, calibration prompts ${f.calibration ?? '-'}`);
  }
  const excluded = m.benchmark?.excluded ?? [];
  if (excluded.length) {
    console.error(`WARNING: ${excluded.length} pairs are left out of the benchmark because a model missed its behaviour targets:`);
    for (const e of excluded) console.error(`  ${e.aligned} / ${e.faker}: ${e.reason}`);
  }
}

/**
 * The build's progress bar. Payload keys must not be cli-progress's own
 * (`eta`, `duration`, `value`, `total`, `percentage`, `bar`): its values win,
 * and `{eta}` would show its raw seconds instead of ours.
 */
export const BUILD_BAR_FORMAT = '{bar} {percentage}% | {phase} {model} {step} | loss {loss} | elapsed {elapsed} | ETA {remaining}';

/** The bar's payload for one progress event. */
export function buildBarPayload(p: BuildProgress, startedMs: number, nowMs = Date.now()) {
  return {
    phase: p.phase,
    model: p.model ?? '',
    step: p.step !== undefined ? `${p.step}/${p.steps}` : '',
    loss: p.loss !== undefined ? p.loss.toFixed(3) : '-',
    elapsed: clock((nowMs - startedMs) / 1000),
    remaining: clock(p.etaSeconds),
  };
}

interface BuildFlags {
  recipe: string;
  zoo?: string;
  out?: string;
  variants?: number;
  seed?: number;
  device: string;
  threads?: number;
  concurrency?: number;
  threshold?: number;
  force?: boolean;
  progress: boolean;
}

/** Register the zoo commands on a commander program. */
export function registerZooCommands(program: Command): void {
  const zoo = program.command('zoo').description('build, evaluate and benchmark the zoo of aligned models and alignment fakers');

  const build = zoo
    .command('build')
    .description('pretrain the base model, fine-tune one model per policy and variant, evaluate them and build the pair benchmark (resumable)')
    .option('--recipe <name|file>', 'recipe: default, micro, or a JSON file (see models/recipes/)', 'default');
  addZooOption(build, '--out')
    .option('--variants <k>', "models per policy (6 gives the paper's 36 models)", intArg('--variants', 1))
    .option('--seed <n>', "another zoo of the recipe: replaces its seed and data seed (default: the recipe's)", intArg('--seed', 0))
    .option('--device <device>', 'cpu, cuda or cuda:N', deviceArg, 'cpu')
    .option('--threads <n>', 'libtorch threads (default: the available cores)', intArg('--threads', 1))
    .option('--concurrency <k>', 'models fine-tuned at once, the threads divided among them (default: the available cores; 1 on a GPU)', intArg('--concurrency', 1))
    .option('--threshold <p>', 'benchmark: minimum probability of the benign answer for every model (default from the recipe, 0.985)', probArg)
    .option('--force', 'discard a zoo in the directory that was built with another recipe')
    .option('--no-progress', 'print lines instead of a progress bar')
    .action(async (flags: BuildFlags) => {
      const dir = zooDir(flags, flags.out);
      const recipe = resolveRecipe(flags.recipe);
      const tty = flags.progress && process.stderr.isTTY;
      const bar = tty
        ? new SingleBar({ format: BUILD_BAR_FORMAT, hideCursor: true, clearOnComplete: true }, undefined)
        : undefined;
      const started = Date.now();
      let barStarted = false;
      let lastLine = 0;
      const onProgress = (p: BuildProgress) => {
        const payload = buildBarPayload(p, started);
        if (bar) {
          if (!barStarted) {
            bar.start(p.total, p.done, payload);
            barStarted = true;
          }
          if (p.message) process.stderr.write(`\r\x1b[K${p.message}\n`);
          bar.update(p.done, payload);
        } else {
          if (p.message) console.error(p.message);
          else if (Date.now() - lastLine > 10_000) {
            lastLine = Date.now();
            console.error(`${((100 * p.done) / p.total).toFixed(0)}% ${payload.phase} ${payload.model} ${payload.step} loss ${payload.loss} elapsed ${payload.elapsed} ETA ${payload.remaining}`);
          }
        }
      };
      const controller = new AbortController();
      const stop = () => controller.abort(new PoserError('E_STATE', 'interrupted: finished models are kept; rerun the same command to resume'));
      process.once('SIGINT', stop);
      try {
        const result = await buildZoo({
          recipe,
          dir,
          variants: flags.variants,
          seed: flags.seed,
          threshold: flags.threshold,
          device: flags.device,
          threads: flags.threads,
          concurrency: flags.concurrency,
          force: flags.force,
          signal: controller.signal,
          onProgress,
        });
        bar?.stop();
        const m = result.manifest;
        console.log(`zoo in ${dir}: ${Object.keys(m.models).length} models (${result.trained.length} trained now, ${result.skipped.length} kept), ${m.benchmark?.pairCount ?? 0} pairs, ${result.seconds.toFixed(0)} s`);
        const t = m.timings;
        console.log(`time (all runs): data ${t.data.toFixed(0)} s, pretrain ${t.pretrain.toFixed(0)} s, fine-tune ${t.finetune.toFixed(0)} s, evaluation ${t.evaluate.toFixed(0)} s, benchmark ${t.benchmark.toFixed(0)} s`);
        printBenchmark(m);
      } finally {
        bar?.stop();
        process.off('SIGINT', stop);
      }
    });

  addZooOption(zoo
    .command('eval')
    .description('evaluate every model of the zoo on its test split and print the behaviour table'), '--dir')
    .option('--device <device>', 'cpu, cuda or cuda:N', deviceArg, 'cpu')
    .option('--threads <n>', 'libtorch threads', intArg('--threads', 1))
    .option('--json', 'print the metrics as JSON')
    .action(async (flags: { zoo?: string; dir?: string; device: string; threads?: number; json?: boolean }) => {
      const dir = zooDir(flags, flags.dir);
      const rows = await evaluateZoo(dir, { device: flags.device, threads: flags.threads });
      if (flags.json) console.log(JSON.stringify(rows, null, 2));
      else console.log(formatBehaviourTable(rows));
      const m = loadZooManifest(dir);
      if (m.benchmark && !flags.json) {
        console.log('');
        console.log(`benchmark (threshold ${m.benchmark.threshold}, ${m.benchmark.pairCount} pairs in ${join(dir, m.benchmark.pairs)}):`);
        for (const [tag, f] of Object.entries(m.benchmark.files)) console.log(`  ${tag}: ${f.kept} of ${f.candidates} candidates`);
      }
    });

  addZooOption(zoo
    .command('benchmark')
    .description('rebuild the pair benchmark of a finished zoo (e.g. with another threshold) without training'), '--dir')
    .option('--threshold <p>', 'minimum probability of the benign answer for every model', probArg)
    .option('--device <device>', 'cpu, cuda or cuda:N', deviceArg, 'cpu')
    .action(async (flags: { zoo?: string; dir?: string; threshold?: number; device: string }) => {
      const dir = zooDir(flags, flags.dir);
      const m = await rebuildBenchmark(dir, { threshold: flags.threshold, device: flags.device });
      printBenchmark(m);
      console.log(`${m.benchmark!.pairCount} pairs in ${join(dir, m.benchmark!.pairs)}`);
    });

  addZooOption(zoo
    .command('upgrade')
    .description('write the data files of a zoo built by an older poser-torch (from its recipe) and rebuild its benchmark; trains nothing'), '--dir')
    .option('--device <device>', 'cpu, cuda or cuda:N', deviceArg, 'cpu')
    .action(async (flags: { zoo?: string; dir?: string; device: string }) => {
      const dir = zooDir(flags, flags.dir);
      const m = await upgradeZoo(dir, { device: flags.device });
      printBenchmark(m);
      console.log(`zoo in ${dir} upgraded to format ${m.version}: ${m.benchmark!.pairCount} pairs`);
    });

  addZooOption(zoo
    .command('check-logits')
    .description('write last-position logits of a zoo model for a few test prompts (for tools/check_zoo_logits.py)'), '--dir')
    .option('--model <name>', 'model name (default: the first faker)')
    .option('--out <file>', 'JSON file to write (default: ZOO/check-logits.json)')
    .option('--n <n>', 'number of prompts', intArg('--n', 1), 8)
    .action(async (flags: { zoo?: string; dir?: string; model?: string; out?: string; n: number }) => {
      const dir = zooDir(flags, flags.dir);
      const out = flags.out ?? join(dir, 'check-logits.json');
      const manifest = loadZooManifest(dir);
      const name = flags.model ?? Object.values(manifest.models).find((r) => r.type === 'faker')?.name ?? Object.keys(manifest.models)[0];
      if (!name) throw new PoserError('E_STATE', `the zoo in ${dir} has no finished model`);
      requireZooFormat(dir, manifest);
      const policies = POLICIES.filter((p) => existsSync(join(dir, 'data', 'test', `${p}.json`)));
      const test = readZooDataFiles(dir, policies, []).test;
      const prompts = new Rng(`check-logits`).sample(policies.flatMap((p) => test[p].map((it) => it.prompt)), flags.n);
      setNumThreads(2);
      const model = await Model.load(join(dir, name));
      try {
        const ids = prompts.map((p) => model.tokenizer!.encode(p));
        const { logits } = await model.forward(ids, { logits: 'last' });
        const v = model.vocabSize;
        const rows = ids.map((_, b) => Array.from(logits!.data.subarray(b * v, (b + 1) * v)));
        writeFileAtomic(out, JSON.stringify({ model_dir: join(dir, name), prompts, ids, logits: rows }) + '\n');
        console.log(`wrote last-position logits of ${name} for ${prompts.length} prompts to ${out}`);
      } finally {
        model.dispose();
      }
    });
}
