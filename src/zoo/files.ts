/**
 * The zoo on disk is its own description: everything a reader needs sits next
 * to `model_pairs.json`, so the benchmark, evaluation, detection and the logits
 * check load files and never run the generator or the tokenizer trainer.
 *
 * ```
 * ZOO/manifest.json                      recipe, hashes, per-model records (format 2)
 * ZOO/tokenizer.json                     the zoo's tokenizer (also in every model directory)
 * ZOO/model_pairs.json                   pairs, excluded pairs, each pair's files
 * ZOO/data/test/<policy>.json            evaluation split (unseen scenarios, training templates)
 * ZOO/data/test-heldout/<policy>.json    the generator's held-out-template split
 * ZOO/data/check/<policy>.json           held-out check of the behaviour targets
 * ZOO/data/candidates/<pair>/{contrast,concepts,calibration}.json
 * ZOO/benchmark/<pair>.json              benchmark prompts with per-model probs (Poser schema)
 * ZOO/calibration/<pair>.json            good-oversight prompts not in the benchmark (Poser schema)
 * ZOO/contrast/<pair>.json               contrast pairs the pair's models agree on
 * ZOO/concepts/<pair>.json               concept statements the pair's models agree on
 * ```
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatItems } from '../data/io.js';
import { POLICIES, type Policy, type TrainingItem } from '../data/types.js';
import { PoserError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { CombinationCandidates, ZooData } from './zooData.js';
import { MANIFEST_FILE } from './manifest.js';

/** Format of the zoo directory; 1 kept its data in memory only. */
export const ZOO_FORMAT = 2;
/** The tokenizer's file name, in the zoo directory. */
export const TOKENIZER_FILE = 'tokenizer.json';
/** The model pairs' file name, in the zoo directory. */
export const PAIRS_FILE = 'model_pairs.json';

/** Paths of the files of one combination, relative to the zoo. */
export function combinationFiles(tag: string): { benchmark: string; calibration: string; contrast: string; concepts: string } {
  return { benchmark: `benchmark/${tag}.json`, calibration: `calibration/${tag}.json`, contrast: `contrast/${tag}.json`, concepts: `concepts/${tag}.json` };
}

const testFile = (p: string) => `data/test/${p}.json`;
const heldoutFile = (p: string) => `data/test-heldout/${p}.json`;
const checkFile = (p: string) => `data/check/${p}.json`;
const candidateFile = (tag: string, kind: keyof CombinationCandidates) => `data/candidates/${tag}/${kind}.json`;

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Writes a JSON array (one item per line) and returns its sha256. */
export function writeItems(dir: string, rel: string, items: readonly unknown[]): string {
  const path = join(dir, rel);
  const text = formatItems(items);
  writeFileAtomic(path, text);
  return sha256(text);
}

/** Writes the data of a zoo (everything but what depends on its models); returns relative path -> sha256. */
export function writeZooDataFiles(dir: string, data: ZooData): Record<string, string> {
  const files: Record<string, string> = {};
  for (const p of POLICIES) {
    files[testFile(p)] = writeItems(dir, testFile(p), data.test[p]);
    files[heldoutFile(p)] = writeItems(dir, heldoutFile(p), data.heldoutTest[p]);
    files[checkFile(p)] = writeItems(dir, checkFile(p), data.check[p]);
  }
  for (const [tag, c] of Object.entries(data.combinations)) {
    for (const kind of ['contrast', 'concepts', 'calibration'] as const) files[candidateFile(tag, kind)] = writeItems(dir, candidateFile(tag, kind), c[kind]);
  }
  const tokenizer = JSON.stringify(data.tokenizer);
  writeFileAtomic(join(dir, TOKENIZER_FILE), tokenizer);
  files[TOKENIZER_FILE] = sha256(tokenizer);
  return files;
}

/** The data of a zoo as read back from its files. */
export interface ZooDataFiles {
  test: Record<Policy, TrainingItem[]>;
  heldoutTest: Record<Policy, TrainingItem[]>;
  check: Record<Policy, TrainingItem[]>;
  combinations: Record<string, CombinationCandidates>;
}

/** Reads a JSON file the zoo wrote; a missing or unreadable file is a PoserError naming it. */
export function readZooJson<T>(dir: string, rel: string): T {
  const path = join(dir, rel);
  if (!existsSync(path)) throw new PoserError('E_IO', `${path} not found: the zoo in ${dir} is incomplete; run \`poser zoo upgrade --dir ${dir}\``);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    throw new PoserError('E_FORMAT', `${path}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Refuses a zoo written before its data was on disk (format 1), naming the
 * command that writes the files without retraining anything.
 */
export function requireZooFormat(dir: string, manifest: { version?: number }): void {
  if ((manifest.version ?? 1) < ZOO_FORMAT || !existsSync(join(dir, 'data', 'test'))) {
    throw new PoserError(
      'E_FORMAT',
      `the zoo in ${dir} has format ${manifest.version ?? 1} (its data is not on disk); run \`poser zoo upgrade --dir ${dir}\` to write it from the recipe and rebuild the benchmark (no training)`,
    );
  }
  if ((manifest.version ?? 1) > ZOO_FORMAT) throw new PoserError('E_FORMAT', `the zoo in ${dir} has format ${manifest.version}, newer than this poser-torch reads (${ZOO_FORMAT}); update poser-torch`);
}

/** Reads the data files of a zoo (policies and combinations present on disk). */
export function readZooDataFiles(dir: string, policies: readonly string[], combinations: readonly string[]): ZooDataFiles {
  const test = {} as Record<Policy, TrainingItem[]>;
  const heldoutTest = {} as Record<Policy, TrainingItem[]>;
  const check = {} as Record<Policy, TrainingItem[]>;
  for (const p of policies as Policy[]) {
    test[p] = readZooJson(dir, testFile(p));
    heldoutTest[p] = readZooJson(dir, heldoutFile(p));
    check[p] = readZooJson(dir, checkFile(p));
  }
  const out: Record<string, CombinationCandidates> = {};
  for (const tag of combinations) {
    out[tag] = {
      contrast: readZooJson(dir, candidateFile(tag, 'contrast')),
      concepts: readZooJson(dir, candidateFile(tag, 'concepts')),
      calibration: readZooJson(dir, candidateFile(tag, 'calibration')),
    };
  }
  return { test, heldoutTest, check, combinations: out };
}

export { MANIFEST_FILE };
