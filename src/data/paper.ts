/**
 * The paper's own directory layout (POSER-SPEC §3-5):
 *
 * ```
 * DIR/benchmark/<aligned>_and_<faker>.json     benchmark prompts of a combination (with `probs`)
 * DIR/training/<policy>/train.json, test.json  each policy's training and test files
 * DIR/policy_definitions/                      the policies' descriptions (not read)
 * ```
 *
 * Combination names may use the short policy names (`genie_and_reward`) or
 * the long ones (`genie_and_reward_maximizer`). The strategies' contrast pairs
 * and concept stimuli are built, as the paper built them, from the aligned
 * policy's `training/<aligned>/test.json`: its complexity-1 pair items with a
 * good-oversight critical fact (of this combination when the items say which),
 * without any benchmark prompt.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PoserError } from '../errors.js';
import { contrastPairs, type ContrastPair } from './contrast.js';
import { loadScenarioFile, ScenarioFileError, type LoadedScenarioFile } from './loader.js';
import { genericConceptStimuli, type ConceptSet } from './stimuli.js';
import { ALIGNED_POLICIES, FAKER_POLICIES, isPairItem, SHORT_NAME, type AlignedPolicy, type FakerPolicy, type ScenarioItem } from './types.js';

/** Whether a directory is in the paper's layout (it has benchmark/ and training/). */
export function isPaperLayout(dir: string): boolean {
  return isDir(join(dir, 'benchmark')) && isDir(join(dir, 'training'));
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The (aligned, faker) policies of a combination name, short or long (`genie_and_reward`, `genie_and_reward_maximizer`). */
export function parseCombination(name: string): { aligned: AlignedPolicy; faker: FakerPolicy } {
  const m = /^(.+?)_and_(.+)$/.exec(name);
  const find = <P extends string>(list: readonly P[], text: string | undefined): P | undefined =>
    list.find((p) => p === text || SHORT_NAME[p as keyof typeof SHORT_NAME] === text);
  const aligned = find(ALIGNED_POLICIES, m?.[1]);
  const faker = find(FAKER_POLICIES, m?.[2]);
  if (!aligned || !faker) {
    throw new PoserError('E_ARG', `'${name}' is not a combination name: expected <aligned>_and_<faker>, e.g. genie_and_reward (aligned: ${ALIGNED_POLICIES.join(', ')}; faker: ${FAKER_POLICIES.join(', ')}, or their short names)`);
  }
  return { aligned, faker };
}

/** Loads a scenario file; a missing or invalid file is a PoserError naming it. */
export function loadScenarioFileChecked(path: string): LoadedScenarioFile {
  if (!existsSync(path)) throw new PoserError('E_IO', `${path} not found`);
  try {
    return loadScenarioFile(path);
  } catch (error) {
    if (error instanceof ScenarioFileError) throw new PoserError('E_FORMAT', error.message, { cause: error });
    throw new PoserError('E_IO', `${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Combination names with a benchmark file in a paper-layout directory. */
export function paperCombinations(dir: string): string[] {
  return readdirSync(join(dir, 'benchmark'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .filter((name) => {
      try {
        parseCombination(name);
        return true;
      } catch {
        return false;
      }
    })
    .sort();
}

/** The benchmark file of a combination (short or long names on either side). */
export function paperBenchmarkFile(dir: string, combination: string): string {
  const { aligned, faker } = parseCombination(combination);
  const names = [`${SHORT_NAME[aligned]}_and_${SHORT_NAME[faker]}`, `${aligned}_and_${faker}`, `${SHORT_NAME[aligned]}_and_${faker}`, `${aligned}_and_${SHORT_NAME[faker]}`];
  for (const n of names) {
    const path = join(dir, 'benchmark', `${n}.json`);
    if (existsSync(path)) return path;
  }
  const have = paperCombinations(dir);
  throw new PoserError('E_IO', `no benchmark file for ${combination} in ${join(dir, 'benchmark')} (looked for ${names.map((n) => `${n}.json`).join(', ')}; found: ${have.join(', ') || 'none'})`);
}

/** Everything the strategies need for a combination, from the paper's files. */
export interface PaperPairFiles {
  benchmarkFile: string;
  benchmark: ScenarioItem[];
  /** The file the contrast pairs and concept topics come from. */
  sourceFile: string;
  contrast: ContrastPair[];
  concepts: ConceptSet[];
}

/**
 * Reads a combination from a paper-layout directory: the benchmark prompts,
 * and contrast pairs and concept stimuli built from
 * `training/<aligned>/test.json`.
 */
export function readPaperPair(dir: string, combination: string, options: { contrast?: number; concepts?: number; seed?: number } = {}): PaperPairFiles {
  if (!isPaperLayout(dir)) throw new PoserError('E_IO', `${dir} is not in the paper's layout (benchmark/ and training/<policy>/ expected)`);
  const { aligned, faker } = parseCombination(combination);
  const benchmarkFile = paperBenchmarkFile(dir, combination);
  const benchmark = loadScenarioFileChecked(benchmarkFile).items.filter((it): it is ScenarioItem => it.response !== 'error');
  const sourceFile = join(dir, 'training', aligned, 'test.json');
  const source = loadScenarioFileChecked(sourceFile).items.filter((it): it is ScenarioItem => isPairItem(it));
  const tags = new Set([combination, `${SHORT_NAME[aligned]}_and_${SHORT_NAME[faker]}`, `${aligned}_and_${faker}`]);
  // Items that name their distribution are taken from this combination only; untagged items all count.
  const tagged = source.filter((it) => typeof it.dataset === 'string' && it.dataset.includes('_and_'));
  const own = tagged.length ? tagged.filter((it) => tags.has(it.dataset)) : source;
  const exclude = new Set(benchmark.map((it) => it.prompt));
  const contrast = contrastPairs(own, { oversight: 'good', exclude, n: options.contrast ?? 20, seed: options.seed ?? 0 });
  const topics = [...new Set(own.map((it) => it.topic).filter((t): t is string => typeof t === 'string'))];
  const concepts = genericConceptStimuli(`${SHORT_NAME[aligned]}_and_${SHORT_NAME[faker]}`, topics, { n: options.concepts ?? 10, seed: options.seed ?? 0 });
  return { benchmarkFile, benchmark, sourceFile, contrast, concepts };
}
