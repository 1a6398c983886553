// End to end: build the micro zoo in a child process, kill it after its first
// model, rerun it to completion without retraining that model, evaluate the
// zoo and check its benchmark, its data files and their reader, upgrade a
// zoo of the old format, and run `poser detect` on two of its models and on
// the paper's file layout.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { formatDetect, runDetect } from '../../src/cli/detect.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenarioFile, type ScenarioItem } from '../../src/data/index.js';
import { Model } from '../../src/model/model.js';
import { buildZoo, evaluateZoo, exclusionReasons, formatBehaviourTable, loadZooManifest, MICRO_RECIPE, readExcludedPairs, readZooPairs, upgradeZoo, type BuildProgress, type ModelPairsFile } from '../../src/zoo/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tsx = join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs');

/** Runs `poser zoo build --recipe micro` one model at a time and SIGKILLs it shortly after its first model is finished. */
function buildAndKill(dir: string): Promise<{ killed: boolean; output: string }> {
  return new Promise((resolve, reject) => {
    // One process (tsx as a loader, not its CLI, which would run the build in a child that SIGKILL does not reach).
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'zoo', 'build', '--recipe', 'micro', '--zoo', dir, '--no-progress', '--threads', '2', '--concurrency', '1'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let killed = false;
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!killed && /saint-0: \d+ s/.test(output)) {
        killed = true;
        // Let the second model get under way, then kill without warning.
        setTimeout(() => child.kill('SIGKILL'), 1500);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('exit', () => resolve({ killed, output }));
  });
}

describe('micro zoo', () => {
  it.skipIf(!existsSync(tsx))('builds, survives a kill without retraining finished models, evaluates, and builds its benchmark', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'poser-zoo-'));

    // 1. A build killed while training the second model.
    const first = await buildAndKill(dir);
    expect(first.killed, first.output).toBe(true);
    const partial = loadZooManifest(dir);
    expect(Object.keys(partial.models)).toEqual(['saint-0']);
    expect(partial.base).toBeDefined();
    expect(existsSync(join(dir, 'saint-1'))).toBe(false); // nothing half-written under a final name
    const kept = statSync(join(dir, 'saint-0', 'model.safetensors')).mtimeMs;
    const keptRecord = partial.models['saint-0'].completed;

    // 2. The rerun finishes the zoo and keeps what was finished, training the rest two at a time.
    const events: BuildProgress[] = [];
    const result = await buildZoo({ recipe: MICRO_RECIPE, dir, threads: 2, concurrency: 2 }, (p) => events.push(p));
    expect(result.skipped).toEqual(['saint-0']);
    expect(result.trained).toEqual(['saint-1', 'reward_maximizer-0', 'reward_maximizer-1']);
    expect(events.some((e) => e.phase === 'pretrain' && e.step !== undefined)).toBe(false); // base not retrained
    expect(events.filter((e) => e.model === 'saint-0' && e.step !== undefined)).toEqual([]);
    expect(statSync(join(dir, 'saint-0', 'model.safetensors')).mtimeMs).toBe(kept);
    expect(result.manifest.models['saint-0'].completed).toBe(keptRecord);
    expect(readdirSync(dir).filter((e) => e.startsWith('.tmp-'))).toEqual([]);
    const last = events[events.length - 1];
    expect(last.phase).toBe('done');
    expect(last.done).toBe(last.total);

    // 3. Hugging Face layout, manifest contents.
    const m = loadZooManifest(dir);
    for (const name of ['saint-0', 'saint-1', 'reward_maximizer-0', 'reward_maximizer-1']) {
      for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) expect(existsSync(join(dir, name, f)), `${name}/${f}`).toBe(true);
      const r = m.models[name];
      expect(r.dataHash).toMatch(/^[0-9a-f]{64}$/);
      expect(r.metrics.items).toBeGreaterThan(0);
      expect(r.seconds).toBeGreaterThan(0);
      // Trained at least the recipe's steps, checked on the held-out set, at most up to the cap.
      expect(r.steps).toBeGreaterThanOrEqual(MICRO_RECIPE.finetune.steps);
      expect(r.steps).toBeLessThanOrEqual(MICRO_RECIPE.targets!.maxSteps);
      expect(r.check!.checks[0].step).toBe(MICRO_RECIPE.finetune.steps);
      expect(r.check!.metrics.items).toBeGreaterThan(0);
    }
    // The zoo describes itself on disk.
    expect(m.version).toBe(2);
    for (const f of ['tokenizer.json', 'data/test/saint.json', 'data/test-heldout/saint.json', 'data/check/reward_maximizer.json', 'calibration/saint_and_reward.json', 'contrast/saint_and_reward.json', 'concepts/saint_and_reward.json']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    expect(m.models['saint-0'].seed).toBe(m.models['reward_maximizer-0'].seed); // variants share seeds across policies
    expect(m.models['saint-0'].dataHash).not.toBe(m.models['saint-1'].dataHash);
    expect(m.recipe.name).toBe('micro');

    // 4. Evaluation table.
    const rows = await evaluateZoo(dir);
    expect(rows.map((r) => r.name)).toEqual(['saint-0', 'saint-1', 'reward_maximizer-0', 'reward_maximizer-1']);
    // Deterministic up to floating-point reordering: the build evaluated with one thread per model (trained two at a time),
    // this with two. Counts and the rates made from them must agree exactly (a flipped answer changes them); a mean of
    // probabilities may differ in its last float32 digits, so it is compared to a relative 1e-6 (rounding to a number of
    // digits instead would fail whenever the two values straddle a rounding boundary).
    for (const r of rows) expectSameMetrics(r.record.metrics, m.models[r.name].metrics, r.name);
    const table = formatBehaviourTable(rows);
    expect(table).toMatch(/reward_maximizer-1\s+faker/);

    // 5. Benchmark files and pairs.
    const pairs = JSON.parse(readFileSync(join(dir, 'model_pairs.json'), 'utf8')) as ModelPairsFile;
    expect(pairs.version).toBe(2);
    // Every pair is benchmarked or listed as excluded, and a pair is excluded exactly when one of its models missed a target.
    expect(pairs.pairs.length + pairs.excluded.length).toBe(4);
    const missed = new Set(Object.values(m.models).filter((r) => exclusionReasons(r).length).map((r) => r.name));
    for (const p of pairs.pairs) expect(missed.has(p.aligned) || missed.has(p.faker)).toBe(false);
    for (const e of pairs.excluded) expect(missed.has(e.aligned) || missed.has(e.faker)).toBe(true);
    console.log(`micro zoo: ${pairs.pairs.length} pairs, ${pairs.excluded.length} excluded; steps ${Object.values(m.models).map((r) => `${r.name} ${r.steps}`).join(', ')}`);
    expect(pairs.pairs.length).toBeGreaterThan(0);
    expect(pairs.threshold).toBe(MICRO_RECIPE.benchmark.threshold);
    const bench = m.benchmark!.files.saint_and_reward;
    expect(bench.candidates).toBeGreaterThan(0);
    expect(bench.kept).toBeGreaterThan(0);
    const file = loadScenarioFile(join(dir, bench.path));
    expect(file.items).toHaveLength(bench.kept);
    for (const it of file.items as (ScenarioItem & { probs: Record<string, number> })[]) {
      expect(it.oversight).not.toBe('poor');
      expect(Object.keys(it.probs)).toHaveLength(4 - missed.size);
      for (const p of Object.values(it.probs)) expect(p).toBeGreaterThanOrEqual(MICRO_RECIPE.benchmark.threshold);
    }
    // probs are the models' own P(benign): spot-check one against a fresh forward pass.
    const item = file.items[0] as ScenarioItem & { probs: Record<string, number> };
    const probed = pairs.pairs[0].faker;
    const model = await Model.load(join(dir, probed));
    const [[pa, pb]] = await model.scoreChoices([item.prompt], ['A', 'B']);
    model.dispose();
    expect(item.probs[probed]).toBeCloseTo(item.response === 'A' ? pa : pb, 5);

    // 5b. The reader, and an old-format zoo upgraded in place (no training) to the same pairs.
    const read = readZooPairs(dir);
    expect(read.map((p) => `${p.aligned.name}/${p.faker.name}`)).toEqual(pairs.pairs.map((p) => `${p.aligned}/${p.faker}`));
    expect(readExcludedPairs(dir)).toEqual(pairs.excluded);
    expect(read[0].data.prompts).toHaveLength(bench.kept);
    const old = loadZooManifest(dir);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...old, version: 1 }));
    rmSync(join(dir, 'data'), { recursive: true });
    expect(() => readZooPairs(dir)).toThrow(expect.objectContaining({ code: 'E_FORMAT', message: expect.stringContaining('poser zoo upgrade') }));
    const upgraded = await upgradeZoo(dir);
    expect(upgraded.version).toBe(2);
    expect(readZooPairs(dir)).toEqual(read);

    // 5c. poser detect on two models of a pair (data from the zoo) and on the paper's layout.
    const pair = read[0];
    const detected = await runDetect({ modelA: pair.faker.dir, modelB: pair.aligned.dir, data: [dir], strategies: ['attentiveness', 'suspiciousConcepts'], threshold: MICRO_RECIPE.benchmark.threshold });
    expect(detected.data.prompts).toBeGreaterThan(0);
    expect(detected.verdicts.map((v) => v.strategy)).toEqual(['attentiveness', 'suspiciousConcepts']);
    for (const v of detected.verdicts) expect([null, 'A', 'B']).toContain(v.faker);
    expect(Number.isFinite(detected.confidence.A) && Number.isFinite(detected.confidence.B)).toBe(true);
    // The controls run beside the strategies; the log-odds control names the less confident model.
    expect(detected.controls.map((c) => c.control)).toEqual(['random', 'confidenceP', 'confidenceLogOdds', 'confidenceSpread']);
    const byLogOdds = detected.controls[2];
    expect(byLogOdds.faker).toBe(detected.confidence.A < detected.confidence.B ? 'A' : detected.confidence.B < detected.confidence.A ? 'B' : null);
    expect(detected.summary.sameAsConfidence).toBe(detected.verdicts.filter((v) => v.faker !== null && v.faker === byLogOdds.faker).length);
    const bySpread = detected.controls[3];
    expect(detected.summary.sameAsSpread).toBe(detected.verdicts.filter((v) => v.faker !== null && v.faker === bySpread.faker).length);
    const text = formatDetect(detected);
    expect(text).toMatch(/controls \(they read no internals\):\n  random .*strategies:\n.*likelier faker: .*evidence, not proof/s);
    expect(text).toMatch(/strategies name the model the confidence control names|the confidence control is undecided/);
    const paper = fileURLToPath(new URL('../data/fixtures/paper-layout', import.meta.url));
    const onPaper = await runDetect({ modelA: pair.aligned.dir, modelB: pair.faker.dir, data: [paper], strategies: ['attentiveness'], threshold: 0 });
    expect(onPaper.data.source).toContain('genie_and_reward_maximizer');
    expect(onPaper.data.prompts).toBe(5);
    expect(onPaper.data.contrast).toBe(4);
    expect(JSON.parse(JSON.stringify(onPaper)).verdicts[0].strategy).toBe('attentiveness');

    // 6. A third run trains nothing; another recipe in the same directory is refused.
    const again = await buildZoo({ recipe: MICRO_RECIPE, dir, threads: 2 });
    expect(again.trained).toEqual([]);
    await expect(buildZoo({ recipe: MICRO_RECIPE, dir, variants: 1 })).rejects.toThrow(/another recipe/);
    // ... and so is a second build while one runs (a live process holds the lock).
    writeFileSync(join(dir, 'build.lock'), String(process.ppid));
    await expect(buildZoo({ recipe: MICRO_RECIPE, dir })).rejects.toThrow(/another build/);
    rmSync(join(dir, 'build.lock'));
  }, 600_000);
});

/** Equal structure and counts; numbers that are not integers equal to a relative 1e-6. */
function expectSameMetrics(actual: unknown, expected: unknown, path: string): void {
  if (typeof expected === 'number' && typeof actual === 'number' && !Number.isInteger(expected)) {
    expect(Math.abs(actual - expected), path).toBeLessThanOrEqual(1e-6 * Math.max(Math.abs(expected), 1e-12));
  } else if (expected !== null && typeof expected === 'object') {
    expect(actual !== null && typeof actual === 'object', path).toBe(true);
    expect(Object.keys(actual as object).sort(), path).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected)) expectSameMetrics((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
  } else {
    expect(actual, path).toEqual(expected);
  }
}
