/**
 * `poser data ...` commands: generate the scenario dataset, and check files in
 * the Poser schema.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { z } from 'zod';
import { PoserError } from '../errors.js';
import { parseScenarioItems, ScenarioFileError, type LoadedScenarioFile } from '../data/loader.js';
import { formatPath } from '../data/schema.js';
import { conceptSchema, contrastSchema } from '../strategies/pairData.js';
import { join } from 'node:path';
import type { Command } from 'commander';
import { intArg } from './args.js';
import {
  corpusTexts,
  DEFAULT_GENERATE_OPTIONS,
  formatStats,
  generateDataset,
  itemStats,
  POLICIES,
  type TrainingItem,
  writeDataset,
} from '../data/index.js';
import { saveTokenizerJson, trainTokenizer } from '../tokenizer/trainBpe.js';
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

/** What `data check` found: lines for stdout, and each error as a PoserError (one `poser:` line each). */
export interface CheckResult {
  report: string;
  errors: PoserError[];
  ok: boolean;
}

/** The kinds of file the project writes, told apart by their items' fields. */
export type DataFileKind = 'scenarios' | 'benchmark' | 'contrast' | 'concepts';

/**
 * Items of a data file: a JSON array, one JSON object (pretty-printed or
 * not), or JSON Lines. A missing file, a directory, or a JSON object that is
 * not an item (a manifest, results.json) is refused with a PoserError.
 */
export function readDataItems(path: string): unknown[] {
  if (!existsSync(path)) throw new PoserError('E_IO', `${path}: no such file`);
  if (statSync(path).isDirectory()) throw new PoserError('E_IO', `${path} is a directory; name the files to check (e.g. ${join(path, '*.json')})`);
  const text = readFileSync(path, 'utf8');
  const trimmed = text.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let value: unknown;
    let parsed = false;
    try {
      value = JSON.parse(trimmed);
      parsed = true;
    } catch (error) {
      if (trimmed.startsWith('[')) throw new PoserError('E_FORMAT', `${path}: not valid JSON: ${(error as Error).message}`);
    }
    if (parsed) {
      if (Array.isArray(value)) return value;
      const keys = Object.keys(value as object);
      if (!ITEM_KEYS.some((k) => keys.includes(k))) {
        throw new PoserError('E_FORMAT', `${path}: a JSON object with keys ${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', ...' : ''}, not an item; expected a JSON array (or JSON Lines) of scenarios, contrast pairs or concept sets`);
      }
      return [value];
    }
  }
  return trimmed.split('\n').flatMap((line, i) => {
    if (!line.trim()) return [];
    try {
      return [JSON.parse(line) as unknown];
    } catch (error) {
      throw new PoserError('E_FORMAT', `${path}: line ${i + 1}: not valid JSON: ${(error as Error).message}`);
    }
  });
}

/** A field that only an item of some kind has; an object with none of them is not an item. */
const ITEM_KEYS = ['prompt', 'critical', 'clean', 'positive', 'negative', 'suspicious', 'benign', 'facts'];

/** The kind of a file's items, from the first item's fields (scenarios when there is none). */
export function dataFileKind(items: readonly unknown[]): DataFileKind {
  const first = items.find((it) => it && typeof it === 'object') as Record<string, unknown> | undefined;
  if (!first) return 'scenarios';
  if ('critical' in first && 'clean' in first) return 'contrast';
  if (('positive' in first && 'negative' in first) || ('suspicious' in first && 'benign' in first && !('prompt' in first))) return 'concepts';
  return 'scenarios';
}

function zodErrors(path: string, what: string, error: z.ZodError): PoserError[] {
  return error.issues.map((issue) => {
    const [index, ...field] = issue.path;
    const where = typeof index === 'number' ? ` ${index}${field.length ? `: field ${formatPath(field)}` : ''}` : issue.path.length ? `: ${formatPath(issue.path)}` : 's';
    return new PoserError('E_FORMAT', `${path}: ${what}${where}: ${issue.message}`);
  });
}

function countBy(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].map(([k, n]) => `${k} ${n}`).join(', ');
}

/** Checks one contrast-pair file: the schema, and that each pair's critical fact is in the critical prompt and not in the clean one. */
function checkContrast(path: string, items: unknown[]): { lines: string[]; errors: PoserError[] } {
  const r = contrastSchema.safeParse(items);
  if (!r.success) return { lines: [], errors: zodErrors(path, 'contrast pair', r.error) };
  const errors: PoserError[] = [];
  items.forEach((raw, i) => {
    const p = raw as { critical: string; clean: string; critical_fact?: unknown };
    if (p.critical === p.clean) errors.push(new PoserError('E_FORMAT', `${path}: contrast pair ${i}: the critical and the clean prompt are the same`));
    if (typeof p.critical_fact === 'string' && (!p.critical.includes(p.critical_fact) || p.clean.includes(p.critical_fact))) {
      errors.push(new PoserError('E_FORMAT', `${path}: contrast pair ${i}: critical_fact must be in the critical prompt and not in the clean one`));
    }
  });
  const datasets = items.map((raw) => String((raw as { dataset?: unknown }).dataset ?? '(no dataset)'));
  return { lines: [`${path}: ${items.length} contrast pairs (contrast)${items.length ? `; by dataset: ${countBy(datasets)}` : ''}`], errors };
}

/** Checks one concept-stimulus file (either form). */
function checkConcepts(path: string, items: unknown[]): { lines: string[]; errors: PoserError[] } {
  const r = conceptSchema.safeParse(items);
  if (!r.success) return { lines: [], errors: zodErrors(path, 'concept set', r.error) };
  const sets = r.data.map((c) => `${c.name} ${c.suspicious.length} suspicious / ${c.benign.length} benign`);
  return { lines: [`${path}: ${items.length} concept sets (concepts)${sets.length ? `: ${sets.join('; ')}` : ''}`], errors: [] };
}

/** Checks one scenario or benchmark file: the schema, and every prompt rebuilt from its parts. */
function checkScenarios(path: string, items: unknown[], all: TrainingItem[]): { lines: string[]; errors: PoserError[]; kind: DataFileKind } {
  let loaded: LoadedScenarioFile;
  try {
    loaded = parseScenarioItems(items, path);
  } catch (error) {
    if (error instanceof ScenarioFileError) return { lines: [], errors: error.errors.map((e) => new PoserError('E_FORMAT', e.message)), kind: 'scenarios' };
    throw error;
  }
  all.push(...loaded.items);
  const lines = [
    `${path}: ${loaded.items.length} items (${loaded.kind}), prompts ${loaded.wrapped ? 'wrapped' : 'not wrapped'}, ` +
      `${loaded.mismatches.length} prompt mismatch${loaded.mismatches.length === 1 ? '' : 'es'}`,
  ];
  for (const m of loaded.mismatches.slice(0, 5)) {
    lines.push(`  item ${m.index}: stored prompt differs from the rebuilt one at character ${m.offset}:`);
    lines.push(`    rebuilt: ${JSON.stringify(m.expected.slice(Math.max(0, m.offset - 20), m.offset + 40))}`);
    lines.push(`    stored:  ${JSON.stringify(m.actual.slice(Math.max(0, m.offset - 20), m.offset + 40))}`);
  }
  lines.push(formatStats(itemStats(loaded.items)).replace(/^/gm, '  '));
  const errors = loaded.mismatches.length
    ? [new PoserError('E_FORMAT', `${path}: ${loaded.mismatches.length} stored prompt${loaded.mismatches.length === 1 ? '' : 's'} differ from the ones rebuilt from their facts and format string (first: item ${loaded.mismatches[0].index})`)]
    : [];
  return { lines, errors, kind: loaded.kind };
}

/** Checks files of every kind the project writes (scenarios, benchmark, contrast pairs, concept sets). */
export function runCheck(files: string[]): CheckResult {
  const out: string[] = [];
  const errors: PoserError[] = [];
  const all: TrainingItem[] = [];
  let scenarioFiles = 0;
  for (const file of files) {
    try {
      const items = readDataItems(file);
      const kind = dataFileKind(items);
      const before = all.length;
      const r = kind === 'contrast' ? checkContrast(file, items) : kind === 'concepts' ? checkConcepts(file, items) : checkScenarios(file, items, all);
      if (all.length > before) scenarioFiles++;
      out.push(...r.lines);
      errors.push(...r.errors);
    } catch (error) {
      errors.push(error instanceof PoserError ? error : new PoserError('E_IO', `${file}: ${(error as Error).message}`, { cause: error }));
    }
  }
  if (scenarioFiles > 1) {
    out.push(`all ${scenarioFiles} files:`);
    out.push(formatStats(itemStats(all)).replace(/^/gm, '  '));
  }
  return { report: out.join('\n'), errors, ok: errors.length === 0 };
}

/** One line per error, as the CLI prints every PoserError. */
export function errorLine(error: PoserError): string {
  return `poser: ${error.message} [${error.code}]`;
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
    .description('validate data files (scenarios, benchmark, contrast pairs, concept sets), rebuild every prompt from its parts, and print counts per distribution by oversight and response')
    .argument('<files...>', 'JSON arrays, JSON objects or JSON Lines, as the project writes them')
    .action((files: string[]) => {
      const { report, errors } = runCheck(files);
      if (report) console.log(report);
      for (const e of errors) console.error(errorLine(e));
      if (errors.length) process.exitCode = 1;
    });
}
