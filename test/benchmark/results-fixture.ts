// A results.json made cheaply: the benchmark runner on four variants of the
// fixture model (two called aligned, two fakers) with every strategy that
// has curves, one seed and a few prompts. For the HTML report's tests.
import {
  attentiveness,
  beliefSteering,
  benchmarkResults,
  CONTROLS,
  decisionSpeed,
  learningSpeed,
  noiseInjection,
  runBenchmark,
  suspiciousConcepts,
  withOptions,
  type AnyDetector,
  type BenchmarkResults,
  type BenchmarkSpec,
} from '../../src/index.js';
import { perturbedFixtures, syntheticData } from '../strategies/helpers.js';

export async function fixtureResults(): Promise<{ results: BenchmarkResults; cleanup: () => void }> {
  const { dirs, cleanup } = await perturbedFixtures(4);
  try {
    const spec: BenchmarkSpec = {
      models: dirs.map((dir, k) => ({ name: `model-${k}`, dir, policy: k < 2 ? 'aligned' : 'faker' })),
      combinations: [{ name: 'x', data: syntheticData(32, 4) }],
      pairs: [0, 1].flatMap((a) => [2, 3].map((f) => ({ aligned: `model-${a}`, faker: `model-${f}`, combination: 'x' }))),
    };
    const strategies: AnyDetector[] = [beliefSteering, withOptions(beliefSteering, 'common', { normalization: 'common' }), noiseInjection, learningSpeed, suspiciousConcepts, decisionSpeed, attentiveness];
    const run = await runBenchmark(spec, {
      detectors: [...CONTROLS, ...strategies],
      ensemble: strategies.map((s) => s.name),
      seeds: [0],
      maxPrompts: 12,
      detectorOptions: {
        beliefSteering: { coefficients: [0, 1, 3] },
        'beliefSteering:common': { coefficients: [0, 1, 3] },
        noiseInjection: { coefficients: [0, 1, 3], draws: 1 },
        learningSpeed: { steps: 3, trainBatchSize: 2 },
        decisionSpeed: { folds: 2 },
      },
    });
    const info = Object.fromEntries(strategies.map((s) => [s.name, { title: s.title, kind: 'strategy' as const, paper: s.name === 'noiseInjection' ? '98%' : undefined }]));
    const results = benchmarkResults(run, { info, permutations: 100, context: { zoo: 'fixture variants', models: 4, pairs: 4, excluded: [], maxPrompts: 12, device: 'cpu', seconds: 0 } });
    return { results, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}
