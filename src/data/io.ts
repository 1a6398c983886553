/**
 * Writing a generated dataset to disk, and statistics of scenario files.
 *
 * Layout written by {@link writeDataset}:
 * ```
 * DIR/train/<policy>-<k>.json                   training variant k of a policy
 * DIR/test/<policy>.json                        test split of a policy
 * DIR/benchmark_candidates/<aligned>_and_<faker>.json   (short names: genie_and_reward ...)
 * DIR/contrast/<aligned>_and_<faker>.json
 * DIR/concepts/<aligned>_and_<faker>.json
 * DIR/manifest.json                             seed, options, counts, sha256 of every file
 * ```
 * Files are JSON arrays with one item per line (compact, and line-diffable).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Dataset } from './generate.js';
import { POLICIES, type TrainingItem } from './types.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readJsonFile } from '../io/files.js';

/** One array item per line. */
export function formatItems(items: readonly unknown[]): string {
  if (items.length === 0) return '[]\n';
  return '[\n' + items.map((it) => JSON.stringify(it)).join(',\n') + '\n]\n';
}

/** The manifest written next to a dataset. */
export interface DatasetManifest {
  /** Format version of the layout. */
  version: 1;
  seed: number;
  variants: number;
  options: Dataset['options'];
  /** Relative path -> number of items and sha256 of the file. */
  files: Record<string, { items: number; sha256: string }>;
  /** Template ids held out of every training item. */
  heldout: string[];
}

/**
 * Write a dataset to `dir` (created if needed). Returns the manifest.
 * The same dataset always gives byte-identical files.
 */
export function writeDataset(dir: string, dataset: Dataset): DatasetManifest {
  const files: DatasetManifest['files'] = {};
  const put = (rel: string, items: readonly unknown[]) => {
    const path = join(dir, rel);
    const text = formatItems(items);
    writeFileAtomic(path, text);
    files[rel] = { items: items.length, sha256: createHash('sha256').update(text).digest('hex') };
  };
  for (const p of POLICIES) {
    dataset.train[p].forEach((items, k) => put(`train/${p}-${k}.json`, items));
    put(`test/${p}.json`, dataset.test[p]);
  }
  for (const tag of Object.keys(dataset.benchmarkCandidates).sort()) {
    put(`benchmark_candidates/${tag}.json`, dataset.benchmarkCandidates[tag]);
    put(`contrast/${tag}.json`, dataset.contrast[tag]);
    put(`concepts/${tag}.json`, dataset.concepts[tag]);
  }
  const manifest: DatasetManifest = {
    version: 1,
    seed: dataset.seed,
    variants: dataset.variants,
    options: dataset.options,
    files,
    heldout: dataset.heldout,
  };
  writeFileAtomic(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/** Read a dataset's manifest. */
export function readManifest(dir: string): DatasetManifest {
  return readJsonFile(join(dir, 'manifest.json')) as DatasetManifest;
}

/** Counts of one distribution: by oversight level and by response. */
export interface DistributionStats {
  total: number;
  /** oversight -> response -> count (`-` for error items). */
  byOversight: Record<string, Record<string, number>>;
  byResponse: Record<string, number>;
}

/** Statistics of a list of items, per distribution tag. */
export function itemStats(items: readonly TrainingItem[]): Record<string, DistributionStats> {
  const out: Record<string, DistributionStats> = {};
  for (const it of items) {
    const tag = it.dataset ?? 'unknown';
    const s = (out[tag] ??= { total: 0, byOversight: {}, byResponse: {} });
    const ov = it.response === 'error' ? '-' : ((it as { oversight?: string }).oversight ?? '?');
    s.total++;
    s.byResponse[it.response] = (s.byResponse[it.response] ?? 0) + 1;
    const row = (s.byOversight[ov] ??= {});
    row[it.response] = (row[it.response] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** A plain-text table of {@link itemStats}: one row per distribution and oversight level. */
export function formatStats(stats: Record<string, DistributionStats>): string {
  const rows: string[][] = [['distribution', 'oversight', 'A', 'B', 'error', 'total']];
  const totals: Record<string, number> = { A: 0, B: 0, error: 0 };
  for (const [tag, s] of Object.entries(stats)) {
    for (const ov of ['good', 'neutral', 'poor', '?', '-']) {
      const r = s.byOversight[ov];
      if (!r) continue;
      const a = r.A ?? 0;
      const b = r.B ?? 0;
      const e = r.error ?? 0;
      totals.A += a;
      totals.B += b;
      totals.error += e;
      rows.push([tag, ov, String(a), String(b), String(e), String(a + b + e)]);
    }
  }
  const all = totals.A + totals.B + totals.error;
  rows.push(['all', '', String(totals.A), String(totals.B), String(totals.error), String(all)]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const lines = rows.map((r) => r.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
  const letters = totals.A + totals.B;
  if (letters > 0) lines.push(`A share of letter answers: ${((100 * totals.A) / letters).toFixed(1)}%`);
  return lines.join('\n');
}
