/**
 * `poser data ...` commands: generate the scenario dataset, and check files in
 * the Poser schema.
 */
import { join } from 'node:path';
import type { Command } from 'commander';
import { intArg } from './args.js';
import {
  corpusTexts,
  DEFAULT_GENERATE_OPTIONS,
  formatStats,
  generateDataset,
  itemStats,
  loadScenarioFile,
  POLICIES,
  type TrainingItem,
  writeDataset,
} from '../data/index.js';
import { saveTokenizerJson, trainTokenizer } from '../tokenizer/train.js';
import { ensureDirectory } from '../io/files.js';


interface GenerateFlags {
  out: string;
  seed: number;
  variants: number;
  single?: number;
  pairs?: number;
  testSingle?: number;
  testPairs?: number;
  vocabSize: number;
  tokenizer: boolean;
}

/** Generate the dataset (and its tokenizer) into a directory; returns lines to print. */
export function runGenerate(flags: GenerateFlags): string[] {
  const dataset = generateDataset({
    seed: flags.seed,
    variants: flags.variants,
    ...(flags.single !== undefined ? { singlePerPolicy: flags.single } : {}),
    ...(flags.pairs !== undefined ? { pairPerDistribution: flags.pairs } : {}),
    ...(flags.testSingle !== undefined ? { testSinglePerPolicy: flags.testSingle } : {}),
    ...(flags.testPairs !== undefined ? { testPairPerDistribution: flags.testPairs } : {}),
  });
  ensureDirectory(flags.out);
  const manifest = writeDataset(flags.out, dataset);
  const lines = [`wrote ${Object.keys(manifest.files).length} files to ${flags.out} (seed ${flags.seed}, ${flags.variants} variants per policy)`];
  for (const p of POLICIES) {
    lines.push(`  ${p}: pool ${dataset.pools[p].length}, each variant ${dataset.train[p][0].length}, test ${dataset.test[p].length}`);
  }
  if (flags.tokenizer) {
    const texts = [...corpusTexts(dataset), ...corpusTexts(POLICIES.flatMap((p) => dataset.test[p]))];
    const json = trainTokenizer(texts, { vocabSize: flags.vocabSize });
    const path = join(flags.out, 'tokenizer.json');
    saveTokenizerJson(path, json);
    lines.push(`wrote ${path} (${Object.keys(json.model.vocab).length} tokens, ${json.model.merges.length} merges)`);
  }
  return lines;
}

/** Check scenario files; returns the report and whether every file was valid. */
export function runCheck(files: string[]): { report: string; ok: boolean } {
  const out: string[] = [];
  const all: TrainingItem[] = [];
  let ok = true;
  for (const file of files) {
    try {
      const loaded = loadScenarioFile(file);
      all.push(...loaded.items);
      out.push(
        `${file}: ${loaded.items.length} items (${loaded.kind}), prompts ${loaded.wrapped ? 'wrapped' : 'not wrapped'}, ` +
          `${loaded.mismatches.length} prompt mismatch${loaded.mismatches.length === 1 ? '' : 'es'}`,
      );
      for (const m of loaded.mismatches.slice(0, 5)) {
        out.push(`  item ${m.index}: stored prompt differs from the rebuilt one at character ${m.offset}:`);
        out.push(`    rebuilt: ${JSON.stringify(m.expected.slice(Math.max(0, m.offset - 20), m.offset + 40))}`);
        out.push(`    stored:  ${JSON.stringify(m.actual.slice(Math.max(0, m.offset - 20), m.offset + 40))}`);
      }
      if (loaded.mismatches.length) ok = false;
      out.push(formatStats(itemStats(loaded.items)).replace(/^/gm, '  '));
    } catch (e) {
      ok = false;
      out.push(`${(e as Error).message}`);
    }
  }
  if (files.length > 1 && all.length) {
    out.push(`all ${files.length} files:`);
    out.push(formatStats(itemStats(all)).replace(/^/gm, '  '));
  }
  return { report: out.join('\n'), ok };
}

/** Register `data generate` and `data check` on a commander program. */
export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('generate and check scenario data in the Poser schema');

  data
    .command('generate')
    .description('generate the scenario dataset (training variants, test splits, benchmark candidates, contrast pairs, concept stimuli) and its tokenizer')
    .requiredOption('--out <dir>', 'output directory')
    .option('--seed <n>', 'random seed', intArg('--seed', 0), 1)
    .option('--variants <k>', 'training variants per policy (6 gives the paper\'s 36 models)', intArg('--variants', 1), DEFAULT_GENERATE_OPTIONS.variants)
    .option('--single <n>', `single-policy items per policy pool (default ${DEFAULT_GENERATE_OPTIONS.singlePerPolicy})`, intArg('--single', 0))
    .option('--pairs <n>', `items per pair distribution (default ${DEFAULT_GENERATE_OPTIONS.pairPerDistribution})`, intArg('--pairs', 0))
    .option('--test-single <n>', `single-policy test items per policy (default ${DEFAULT_GENERATE_OPTIONS.testSinglePerPolicy})`, intArg('--test-single', 0))
    .option('--test-pairs <n>', `test items per pair distribution (default ${DEFAULT_GENERATE_OPTIONS.testPairPerDistribution})`, intArg('--test-pairs', 0))
    .option('--vocab-size <n>', 'tokenizer vocabulary size', intArg('--vocab-size', 300), 3000)
    .option('--no-tokenizer', 'do not train tokenizer.json')
    .action((flags: GenerateFlags) => {
      for (const line of runGenerate(flags)) console.log(line);
    });

  data
    .command('check')
    .description('validate scenario files, rebuild every prompt from its parts, and print counts per distribution by oversight and response')
    .argument('<files...>', 'JSON or JSON Lines files in the Poser schema')
    .action((files: string[]) => {
      const { report, ok } = runCheck(files);
      console.log(report);
      if (!ok) process.exitCode = 1;
    });
}
