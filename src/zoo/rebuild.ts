/**
 * Rebuilding the pair benchmark of a finished zoo from its files (another
 * threshold, or after an upgrade). Reads only what the zoo wrote: no
 * generator, no tokenizer trainer.
 */
import type { Policy } from '../data/types.js';
import { PoserError } from '../errors.js';
import { buildBenchmark, type BenchmarkModel } from './pairsWriter.js';
import { normalizeDevice } from './device.js';
import { readZooDataFiles, requireZooFormat } from './files.js';
import { exclusionReasons, loadZooManifest, saveZooManifest, type ZooManifest } from './manifest.js';
import { zooCombinations, zooModelNames, zooPolicies } from './recipe.js';

/** Rebuilds the benchmark of a finished zoo (e.g. with another threshold) without training anything. */
export async function rebuildBenchmark(dir: string, options: { threshold?: number; device?: string } = {}): Promise<ZooManifest> {
  const manifest = loadZooManifest(dir);
  const recipe = manifest.recipe;
  const models = zooModelNames(recipe);
  const missing = models.filter((m) => !manifest.models[m.name]);
  if (missing.length) throw new PoserError('E_STATE', `the zoo in ${dir} is not finished (${missing.map((m) => m.name).join(', ')} missing); run \`poser zoo build\` first`);
  requireZooFormat(dir, manifest);
  const threshold = options.threshold ?? recipe.benchmark.threshold;
  const data = readZooDataFiles(dir, zooPolicies(recipe), zooCombinations(recipe));
  const t = Date.now();
  const result = await buildBenchmark(dir, benchmarkModels(manifest), data.test, { threshold, device: normalizeDevice(options.device), combinations: data.combinations });
  manifest.benchmark = { threshold, built: new Date().toISOString(), seconds: (Date.now() - t) / 1000, files: result.files, pairs: 'model_pairs.json', pairCount: result.pairs.length, excluded: result.excluded };
  saveZooManifest(dir, manifest);
  return manifest;
}

/** The zoo's models for the benchmark, each with the targets it missed. */
export function benchmarkModels(manifest: ZooManifest): BenchmarkModel[] {
  return zooModelNames(manifest.recipe).map((m) => {
    const record = manifest.models[m.name];
    return { name: m.name, policy: m.policy as Policy, dir: m.name, misses: record ? exclusionReasons(record) : ['not built'] };
  });
}
