/**
 * The pair benchmark of a built zoo: its model pairs, benchmark files, and the
 * contrast pairs and concept stimuli of each combination, regenerated from the
 * zoo's recipe (the same templates its models were trained and tested on).
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { PoserError } from '../errors.js';
import { conceptStimuli, contrastPairs } from '../data/generate.js';
import type { TrainingItem } from '../data/types.js';
import { pairDataFromItems } from '../strategies/data.js';
import { zooData } from '../zoo/data.js';
import { loadZooManifest } from '../zoo/manifest.js';
import type { ModelPairsFile } from '../zoo/benchmark.js';
import type { PairSpec } from './run.js';
import { readJsonFile } from '../io/files.js';

export interface ZooPairsOptions {
  /** Contrast pairs per combination (default 20). */
  contrast?: number;
  /** Stimuli per concept side (default 10). */
  conceptStimuli?: number;
  seed?: number;
}

/** Every (aligned, faker) pair of the zoo at `dir`, with its data. */
export function zooPairSpecs(dir: string, options: ZooPairsOptions = {}): PairSpec[] {
  const pairsPath = join(dir, 'model_pairs.json');
  if (!existsSync(pairsPath)) throw new PoserError('E_IO', `no benchmark in ${dir} (model_pairs.json not found); build it with \`poser zoo build\``);
  const file = readJsonFile(pairsPath) as ModelPairsFile;
  const manifest = loadZooManifest(dir);
  const data = zooData(manifest.recipe);
  const base = dirname(resolve(pairsPath));
  const byCombination = new Map<string, PairSpec['data']>();
  const dataFor = (combination: string, benchmarkFile: string): PairSpec['data'] => {
    let d = byCombination.get(combination);
    if (!d) {
      const items: TrainingItem[] = Object.values(data.test).flat().filter((it) => it.dataset === combination);
      const benchmark = readJsonFile(join(base, benchmarkFile)) as unknown[];
      d = pairDataFromItems(
        {
          benchmark,
          contrast: contrastPairs(items, { n: options.contrast ?? 20, seed: options.seed ?? 0, oversight: 'good' }),
          concepts: conceptStimuli(items, { n: options.conceptStimuli ?? 10, seed: options.seed ?? 0 }),
        },
        join(base, benchmarkFile),
      );
      byCombination.set(combination, d);
    }
    return d;
  };
  return file.pairs.map((p) => ({
    aligned: { name: p.aligned, dir: join(base, p.aligned_dir), policy: p.aligned_type },
    faker: { name: p.faker, dir: join(base, p.faker_dir), policy: p.faker_type },
    combination: p.combination,
    data: dataFor(p.combination, p.benchmark),
  }));
}
