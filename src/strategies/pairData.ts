/**
 * Building {@link PairData} from the project's data formats: benchmark files
 * (or benchmark candidates), contrast-pair files and concept-stimulus files
 * as written by `poser data generate` (see docs/data.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { PoserError } from '../errors.js';
import { parseScenarioItems } from '../data/loader.js';
import { isPaperLayout, loadScenarioFileChecked, readPaperPair } from '../data/paper.js';
import { benignResponse, type ScenarioItem, type TrainingItem } from '../data/types.js';
import type { PairData } from './types.js';

/** A contrast-pair file: objects with `critical` and `clean` prompts. */
export const contrastSchema = z.array(z.object({ critical: z.string().min(1), clean: z.string().min(1) }).loose());

const namedConcept = z.object({ name: z.string(), suspicious: z.array(z.string()).min(1), benign: z.array(z.string()).min(1) });
// The generator's form: `positive` expresses the concept, `negative` its (suspicious) opposite.
const generatedConcept = z.object({ concept: z.string(), opposite: z.string(), positive: z.array(z.string()).min(1), negative: z.array(z.string()).min(1) });
/** A concept-stimulus file, in either form (normalised to `{name, suspicious, benign}`). */
export const conceptSchema = z.array(
  z.union([
    namedConcept.transform((c) => ({ name: c.name, suspicious: c.suspicious, benign: c.benign })),
    generatedConcept.transform((c) => ({ name: `${c.concept}/${c.opposite}`, suspicious: c.negative, benign: c.positive })),
  ]),
);

function invalid(what: string, error: z.ZodError): PoserError {
  const issue = error.issues[0];
  return new PoserError('E_FORMAT', `${what}: ${issue.path.length ? `item ${issue.path.join('.')}: ` : ''}${issue.message}`);
}

/** Raw inputs of {@link pairDataFromItems}. */
export interface PairDataItems {
  /**
   * Benchmark items (a benchmark file with `probs`, or benchmark candidates):
   * raw items in the Poser schema or already loaded ones. Error items are
   * skipped; the benign letter is each item's benign response.
   */
  benchmark: readonly unknown[];
  /** Contrast pairs: objects with `critical` and `clean` prompts. */
  contrast?: readonly unknown[];
  /**
   * Concept sets: `{name, suspicious, benign}`, or the generator's
   * `{concept, opposite, positive, negative}` (negative = the suspicious side).
   */
  concepts?: readonly unknown[];
}

/** Builds {@link PairData} from items already in memory. */
export function pairDataFromItems(items: PairDataItems, what = '<memory>'): PairData {
  const loaded = parseScenarioItems([...items.benchmark], what).items;
  return {
    prompts: promptsOf(loaded),
    contrast: parseContrast(items.contrast ?? [], what),
    concepts: parseConcepts(items.concepts ?? [], what),
  };
}

function promptsOf(items: readonly TrainingItem[]): PairData['prompts'] {
  return items
    .filter((it): it is ScenarioItem => it.response !== 'error')
    .map((it) => ({ prompt: it.prompt, benign: benignResponse(it) }));
}

function parseContrast(raw: readonly unknown[], what: string): PairData['contrast'] {
  const r = contrastSchema.safeParse(raw);
  if (!r.success) throw invalid(`${what}: contrast pairs`, r.error);
  return r.data.map((p) => ({ critical: p.critical, clean: p.clean }));
}

function parseConcepts(raw: readonly unknown[], what: string): PairData['concepts'] {
  const r = conceptSchema.safeParse(raw);
  if (!r.success) throw invalid(`${what}: concept sets`, r.error);
  return r.data;
}

function readJsonArray(path: string): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new PoserError(existsSync(path) ? 'E_FORMAT' : 'E_IO', `${path}: ${(error as Error).message}`, { cause: error });
  }
  if (!Array.isArray(value)) throw new PoserError('E_FORMAT', `${path}: expected a JSON array`);
  return value;
}

/** Paths of the files of one pair. */
export interface PairDataFiles {
  /** A benchmark file (with `probs`) or a benchmark-candidates file. */
  benchmark: string;
  contrast?: string;
  concepts?: string;
}

/** Builds {@link PairData} from files: a benchmark (or candidates) file, and optionally contrast and concept files. */
export function pairDataFromFiles(files: PairDataFiles): PairData {
  const prompts = promptsOf(loadScenarioFileChecked(files.benchmark).items);
  return {
    prompts,
    contrast: files.contrast ? parseContrast(readJsonArray(files.contrast), files.contrast) : [],
    concepts: files.concepts ? parseConcepts(readJsonArray(files.concepts), files.concepts) : [],
  };
}

/**
 * Builds {@link PairData} for a pair tag (e.g. `genie_and_reward`) from a
 * dataset directory: in the paper's layout (`benchmark/`, `training/<policy>/`,
 * see data/paper.ts), the benchmark file and contrast pairs and concept
 * stimuli built from `training/<aligned>/test.json`; in the layout of `poser
 * data generate`, prompts from `benchmark` when given (a benchmark file built
 * from the zoo), else from `DIR/benchmark_candidates/<pair>.json`,
 * `DIR/contrast/<pair>.json` and `DIR/concepts/<pair>.json`. A missing
 * directory or file is a PoserError naming it.
 */
export function pairDataFromDataset(dir: string, pair: string, options: { benchmark?: string; seed?: number } = {}): PairData {
  if (!existsSync(dir)) throw new PoserError('E_IO', `data directory ${dir} not found`);
  if (isPaperLayout(dir)) {
    const paper = readPaperPair(dir, pair, { seed: options.seed });
    return pairDataFromItems({ benchmark: options.benchmark ? loadScenarioFileChecked(options.benchmark).items : paper.benchmark, contrast: paper.contrast, concepts: paper.concepts }, paper.benchmarkFile);
  }
  const benchmark = options.benchmark ?? join(dir, 'benchmark_candidates', `${pair}.json`);
  if (!existsSync(benchmark)) {
    throw new PoserError('E_IO', `${benchmark} not found: ${dir} is neither in the paper's layout (benchmark/, training/<policy>/) nor in that of \`poser data generate\` with a pair '${pair}'`);
  }
  return pairDataFromFiles({
    benchmark,
    contrast: join(dir, 'contrast', `${pair}.json`),
    concepts: join(dir, 'concepts', `${pair}.json`),
  });
}
