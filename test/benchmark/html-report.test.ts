// The HTML report: rendered from a results.json that the runner writes for
// four variants of the fixture model, by `poser report` (spawned); then
// opened in a real headless Chromium (Debian's package), which must load
// nothing but the file, and in which every chart must have drawn an SVG
// with axes and marks. The screenshot goes to tmp/ (git-ignored).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { htmlReport, type BenchmarkResults } from '../../src/index.js';
import { tempDir } from '../helpers/random-model.js';
import { fixtureResults } from './results-fixture.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const CHROMIUM = process.env.POSER_CHROMIUM ?? '/usr/bin/chromium';
// CI installs chromium (scripts/setup.sh); elsewhere the browser test is skipped without it.
const haveChromium = existsSync(CHROMIUM) || process.env.CI === 'true';

let results: BenchmarkResults;
let dir: string;
let html: string;
let cleanup: () => void = () => {};

beforeAll(async () => {
  ({ results, cleanup } = await fixtureResults());
  dir = tempDir('poser-html-');
  writeFileSync(join(dir, 'results.json'), JSON.stringify(results, null, 1));
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'report', join(dir, 'results.json')], { cwd: root, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.stdout.trim()).toBe(`wrote ${join(dir, 'report.html')}`);
  html = readFileSync(join(dir, 'report.html'), 'utf8');
}, 240_000);
afterAll(() => {
  cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The charts the fixture's results must give: per benchmark and strategy with curves, the averaged and the per-pair chart of each curve. */
function expectedCharts(): string[] {
  const curves: Record<string, number> = { beliefSteering: 1, 'beliefSteering:common': 1, noiseInjection: 1, learningSpeed: 2, suspiciousConcepts: 1, decisionSpeed: 1, attentiveness: 1 };
  return ['controlled', 'plain'].flatMap((v) => Object.entries(curves).flatMap(([d, n]) => Array.from({ length: n }, (_, k) => [`${v}/${d}/${k}/mean`, `${v}/${d}/${k}/pairs`]).flat()));
}

/** Lines in a per-pair chart: one per pair and role whose model has a curve (any non-null balanced accuracy for strategy 5). */
function pairLines(name: string): number {
  const [variant, detector] = name.split('/') as ['plain' | 'controlled', string];
  const pairs = results.pairs[variant]!;
  if (detector !== 'decisionSpeed') return 2 * pairs.length;
  const rows = results.measurements[variant]!.decisionSpeed;
  const probed = (model: string) => rows.some((m) => m.model === model && (m.curves?.balancedAccuracy ?? []).some((x) => x !== null));
  return pairs.reduce((n, p) => n + Number(probed(p.aligned)) + Number(probed(p.faker)), 0);
}

describe('HTML report', () => {
  it('is self-contained: no script, stylesheet link, image source or remote URL', () => {
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|src=/i);
    // The only URLs are SVG namespace names (not fetched).
    const urls = html.match(/https?:\/\/[^\s"'<>)]+/g) ?? [];
    expect(new Set(urls)).toEqual(new Set(['http://www.w3.org/2000/svg', 'http://www.w3.org/1999/xlink']));
  });

  it('holds both benchmarks\' accuracy tables with every detector, interval, p-value and the paper\'s figure', () => {
    expect(html.indexOf('Confidence-controlled benchmark (headline)')).toBeLessThan(html.indexOf('<h2>Plain benchmark'));
    for (const b of results.benchmarks) for (const r of b.rows) expect(html).toContain(`<td>${r.title.replace(/&/g, '&amp;')}</td>`);
    expect(html).toContain('<th>95% CI</th><th>p (permutation)</th><th>undecided</th>');
    expect(html).toContain('<td>98%</td>');
  });

  it('names a model whose curve is missing (a strategy could not measure it)', async () => {
    const copy = structuredClone(results);
    for (const m of copy.measurements.controlled!.attentiveness) if (m.model === 'model-1') m.curves = {};
    const page = await htmlReport(copy);
    expect(page).toContain('No curve for model-1 (x): the strategy could not measure this model');
  });

  it('refuses what is not a results.json, and says when there are no curves', async () => {
    await expect(htmlReport({} as BenchmarkResults)).rejects.toMatchObject({ code: 'E_FORMAT' });
    const old = { ...results, measurements: {} };
    expect(await htmlReport(old)).toContain('No curves');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'report', join(dir, 'nothing.json')], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`poser: ${join(dir, 'nothing.json')}: no such file [E_IO]`);
  }, 60_000);

  it.skipIf(!haveChromium)('renders every chart in headless Chromium with axes and marks, loading nothing else', async () => {
    const profile = tempDir('poser-chromium-');
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
    try {
      const page = await context.newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      const url = pathToFileURL(join(dir, 'report.html')).href;
      await page.goto(url, { waitUntil: 'load' });
      expect(requests).toEqual([url]);
      const charts = await page.$$eval('figure.chart', (figures) =>
        figures.map((f) => {
          const svg = f.querySelector('svg');
          const box = svg?.getBoundingClientRect();
          const drawn = (sel: string) => [...(svg?.querySelectorAll(sel) ?? [])].filter((e) => (e.getAttribute('d') ?? '').length > 2 && (e as unknown as { getBBox(): { width: number } }).getBBox().width > 0).length;
          return {
            name: f.getAttribute('data-chart'),
            width: box?.width ?? 0,
            height: box?.height ?? 0,
            axes: svg?.querySelectorAll('g.role-axis').length ?? 0,
            tickLabels: [...(svg?.querySelectorAll('g.role-axis-label text') ?? [])].filter((t) => (t.textContent ?? '').trim()).length,
            // Data marks only (legend symbols are marks too, of role legend-symbol).
            lines: drawn('g.mark-line.role-mark path'),
            points: drawn('g.mark-symbol.role-mark path'),
            bars: drawn('g.mark-rect.role-mark path'),
            errorbars: svg?.querySelectorAll('g.mark-rule.role-mark line').length ?? 0,
          };
        }),
      );
      expect(charts.map((c) => c.name)).toEqual(expectedCharts());
      for (const c of charts) {
        expect(c.width, c.name!).toBeGreaterThan(200);
        expect(c.height, c.name!).toBeGreaterThan(100);
        expect(c.axes, c.name!).toBeGreaterThanOrEqual(2);
        expect(c.tickLabels, c.name!).toBeGreaterThanOrEqual(4);
        if (c.name!.includes('/suspiciousConcepts/')) {
          // Named x: per concept, aligned and faker side by side (points with error bars; bars per pair).
          const concepts = results.measurements.plain!.suspiciousConcepts[0].labels!.concepts.length;
          if (c.name!.endsWith('/mean')) {
            expect(c.points, c.name!).toBe(2 * concepts);
            expect(c.errorbars, c.name!).toBe(2 * concepts);
          } else expect(c.bars, c.name!).toBe(2 * concepts * results.pairs.plain!.length);
          continue;
        }
        // Aligned and faker: two lines in the averaged chart, one per model in each pair panel (strategy 5 cannot probe a model that gives one answer only).
        expect(c.lines, c.name!).toBe(c.name!.endsWith('/mean') ? 2 : pairLines(c.name!));
        expect(c.points, c.name!).toBeGreaterThan(0);
      }
      const shots = join(root, 'tmp');
      mkdirSync(shots, { recursive: true });
      const shot = join(shots, 'report-screenshot.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(50_000);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }, 120_000);
});
