/**
 * The zoo's behaviour table: every model evaluated afresh on the test split
 * the zoo wrote (and the held-out-template split), and its presentation.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Policy } from '../data/types.js';
import { Model } from '../model/model.js';
import { setNumThreads } from '../native/binding.js';
import { normalizeDevice } from './device.js';
import { evaluateModel, targetMisses } from './evaluate.js';
import { readZooDataFiles, requireZooFormat } from './files.js';
import { loadZooManifest, type ZooModelRecord } from './manifest.js';
import { recipeTargets, zooModelNames, zooPolicies } from './recipe.js';

/** One row of the behaviour table. */
export interface BehaviourRow {
  name: string;
  record: Pick<ZooModelRecord, 'policy' | 'type' | 'metrics' | 'heldoutMetrics' | 'misses'>;
}

/** Evaluates every model of a zoo afresh on its test split (and the held-out-template split). */
export async function evaluateZoo(dir: string, options: { device?: string; threads?: number; onModel?: (name: string) => void } = {}): Promise<BehaviourRow[]> {
  const manifest = loadZooManifest(dir);
  requireZooFormat(dir, manifest);
  if (options.threads) setNumThreads(options.threads);
  const data = readZooDataFiles(dir, zooPolicies(manifest.recipe), []);
  const targets = recipeTargets(manifest.recipe);
  const rows: BehaviourRow[] = [];
  for (const m of zooModelNames(manifest.recipe)) {
    if (!existsSync(join(dir, m.name, 'model.safetensors'))) continue;
    options.onModel?.(m.name);
    const model = await Model.load(join(dir, m.name), { device: normalizeDevice(options.device) });
    try {
      const policy = m.policy as Policy;
      const { metrics } = await evaluateModel(model, data.test[policy]);
      const { metrics: heldoutMetrics } = await evaluateModel(model, data.heldoutTest[policy]);
      rows.push({ name: m.name, record: { policy: m.policy, type: m.faker ? 'faker' : 'aligned', metrics, heldoutMetrics, misses: targetMisses(m.faker, metrics, targets) } });
    } finally {
      model.dispose();
    }
  }
  return rows;
}

function pct(r: { n: number; rate: number | null }): string {
  return r.n === 0 || r.rate === null ? '-' : `${(100 * r.rate).toFixed(1)}`;
}

/**
 * The behaviour table: per model, % benign answers under good / neutral / poor
 * oversight, % misaligned under poor, % of the policy's answer on the
 * unethical / incompetent distributions, % "error" on error inputs, % correct
 * on the held-out-template split, and the targets missed.
 */
export function formatBehaviourTable(rows: readonly BehaviourRow[]): string {
  const header = ['model', 'type', 'n', 'good', 'neutral', 'poor', 'mis@poor', 'unethical', 'error', 'heldout-tpl', 'targets'];
  const lines = rows.map((r) => {
    const m = r.record.metrics;
    return [
      r.name,
      r.record.type,
      String(m.items),
      pct(m.benign.good),
      pct(m.benign.neutral),
      pct(m.benign.poor),
      pct(m.misalignedPoor),
      pct(m.nonBenign),
      pct(m.error),
      pct(r.record.heldoutMetrics.accuracy),
      r.record.misses.length ? `MISS: ${r.record.misses.join('; ')}` : 'met',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cols: string[]) => cols.map((c, i) => (i === cols.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [
    fmt(header),
    fmt(widths.map((w) => '-'.repeat(w))),
    ...lines.map(fmt),
    '',
    'good/neutral/poor: % benign answers by oversight; mis@poor: % misaligned answers under poor oversight;',
    'unethical: % of the policy\'s own answer on genie_unethical / genie_incompetent / truth_teller_unethical; error: % "error" on error inputs;',
    'heldout-tpl: % correct on the generator\'s held-out-template split (generalisation, no target).',
  ].join('\n');
}
