/**
 * Reading a zoo's pairs with their data: the one reader every consumer of a
 * zoo's benchmark uses. It loads files only (see files.ts); a zoo written
 * before its data was on disk is refused with the command that upgrades it.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PoserError } from '../errors.js';
import { pairDataFromItems } from '../strategies/pairData.js';
import type { PairData } from '../strategies/types.js';
import { benignResponse, type ScenarioItem } from '../data/types.js';
import type { ExcludedPair, ModelPairsFile } from './pairsWriter.js';
import { PAIRS_FILE, readZooJson, requireZooFormat } from './files.js';
import { loadZooManifest } from './manifest.js';

/** A model of a pair, as a reader needs it. */
export interface ZooPairModel {
  name: string;
  /** Absolute model directory. */
  dir: string;
  policy: string;
}

/** One (aligned, faker) pair of a zoo with everything a strategy and a calibration need. */
export interface ZooPair {
  aligned: ZooPairModel;
  faker: ZooPairModel;
  /** (aligned type, faker type), e.g. saint_and_reward. */
  combination: string;
  /** Benchmark prompts, contrast pairs and concept stimuli (what a strategy gets). */
  data: PairData;
  /** Good-oversight prompts that are not benchmark prompts, with their benign letter (held out; the benchmark runner calibrates on half of the benchmark prompts instead, docs/benchmark.md). */
  calibration: PairData['prompts'];
}

/** The pairs file of a zoo, checked for its format. */
export function readZooPairsFile(zooDir: string): ModelPairsFile {
  if (!existsSync(join(zooDir, PAIRS_FILE))) throw new PoserError('E_IO', `no benchmark in ${zooDir} (${PAIRS_FILE} not found); build it with \`poser zoo build --out ${zooDir}\``);
  requireZooFormat(zooDir, loadZooManifest(zooDir));
  const file = readZooJson<Partial<ModelPairsFile> & { version?: number }>(zooDir, PAIRS_FILE);
  if (file.version !== 2 || !Array.isArray(file.pairs)) {
    throw new PoserError('E_FORMAT', `${join(zooDir, PAIRS_FILE)} has format ${file.version ?? 1}; run \`poser zoo upgrade --dir ${zooDir}\``);
  }
  return { version: 2, threshold: file.threshold ?? NaN, pairs: file.pairs, excluded: file.excluded ?? [] };
}

/** Pairs the zoo left out (a model missed its behaviour targets), with the reason. */
export function readExcludedPairs(zooDir: string): ExcludedPair[] {
  return readZooPairsFile(zooDir).excluded;
}

/**
 * Every benchmark pair of the zoo at `zooDir`, with its data, read from the
 * zoo's files. Excluded pairs are not among them ({@link readExcludedPairs}).
 */
export function readZooPairs(zooDir: string): ZooPair[] {
  const file = readZooPairsFile(zooDir);
  const base = dirname(resolve(zooDir, PAIRS_FILE));
  const byCombination = new Map<string, { data: PairData; calibration: PairData['prompts'] }>();
  const dataFor = (p: ModelPairsFile['pairs'][number]) => {
    let d = byCombination.get(p.combination);
    if (!d) {
      const data = pairDataFromItems(
        {
          benchmark: readZooJson<unknown[]>(base, p.benchmark),
          contrast: readZooJson<unknown[]>(base, p.contrast),
          concepts: readZooJson<unknown[]>(base, p.concepts),
        },
        join(base, p.benchmark),
      );
      const calibration = readZooJson<ScenarioItem[]>(base, p.calibration).map((it) => ({ prompt: it.prompt, benign: benignResponse(it) }));
      d = { data, calibration };
      byCombination.set(p.combination, d);
    }
    return d;
  };
  return file.pairs.map((p) => ({
    aligned: { name: p.aligned, dir: join(base, p.aligned_dir), policy: p.aligned_type },
    faker: { name: p.faker, dir: join(base, p.faker_dir), policy: p.faker_type },
    combination: p.combination,
    ...dataFor(p),
  }));
}
