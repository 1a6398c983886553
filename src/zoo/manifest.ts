/**
 * The zoo manifest (`<zoo>/manifest.json`): recipe, seeds, data hashes, build
 * times and behaviour metrics of every finished model. A model appears in it
 * only once its directory is complete, so the manifest is what a resumed build
 * trusts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PoserError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { BehaviourMetrics } from './evaluate.js';
import type { ZooRecipe } from './recipe.js';

/** The zoo manifest's file name, in the zoo directory. */
export const MANIFEST_FILE = 'manifest.json';
/** Per-model record written inside each model directory (lets a build recover a model finished just before a kill). */
export const MODEL_RECORD_FILE = 'zoo.json';

/** What the manifest records about one finished model. */
export interface ZooModelRecord {
  name: string;
  policy: string;
  type: 'aligned' | 'faker';
  variant: number;
  /** Seed of the fine-tune's batch order (shared by the aligned and faking models of one variant). */
  seed: number;
  /** sha256 of the training variant. */
  dataHash: string;
  trainItems: number;
  steps: number;
  seconds: number;
  /** Mean loss of the last tenth of the steps. */
  finalLoss: number;
  completed: string;
  /** Behaviour on the zoo's test split (unseen scenarios from the training templates). */
  metrics: BehaviourMetrics;
  /** Behaviour on the generator's held-out-template split (generalisation; no target). */
  heldoutMetrics: BehaviourMetrics;
  /** Behaviour targets missed (empty when all are met). */
  misses: string[];
}

/** The zoo manifest: recipe, environment, data hashes, models and benchmark, with timings. */
export interface ZooManifest {
  version: 1;
  recipe: ZooRecipe;
  recipeHash: string;
  created: string;
  updated: string;
  environment: { device: string; threads: number; torch: string; node: string };
  data: {
    seed: number;
    trainHashes: Record<string, string>;
    testHashes: Record<string, string>;
    tokenizerHash: string;
    testItems: Record<string, number>;
    droppedAsSeen: number;
  };
  base?: { completed: string; seconds: number; finalLoss: number; parameters: number; tokens: number };
  models: Record<string, ZooModelRecord>;
  benchmark?: {
    threshold: number;
    built: string;
    seconds: number;
    files: Record<string, { path: string; candidates: number; kept: number }>;
    pairs: string;
    pairCount: number;
  };
  /** Seconds spent per phase by the runs that built this zoo (summed over resumed runs). */
  timings: { data: number; pretrain: number; finetune: number; evaluate: number; benchmark: number };
}

/** Reads `<dir>/manifest.json`. */
export function loadZooManifest(dir: string): ZooManifest {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) throw new PoserError('E_IO', `no zoo at ${dir} (${MANIFEST_FILE} not found); build one with \`poser zoo build\``);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as ZooManifest;
  } catch (error) {
    throw new PoserError('E_FORMAT', `${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Writes a JSON file through a temporary name and a rename. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

export function saveZooManifest(dir: string, manifest: ZooManifest): void {
  manifest.updated = new Date().toISOString();
  writeJsonAtomic(join(dir, MANIFEST_FILE), manifest);
}
