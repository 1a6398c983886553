// Shared set-up of the strategy tests: small synthetic pair data, and
// variants of the fixture model written to temporary directories.
import { rmSync } from 'node:fs';
import { Model, type PairData } from '../../src/index.js';
import { FIXTURE_DIR } from '../helpers/fixture.js';
import { tempDir } from '../helpers/random-model.js';

const SUBJECTS = ['the ledger', 'the reactor', 'the archive', 'the payroll', 'the shipment', 'the audit', 'the server', 'the clinic'];
const STATES = ['late', 'open', 'broken', 'ready', 'missing', 'sealed'];

/** Short wrapped prompts with alternating benign letters, contrast pairs and two concept sets. */
export function syntheticData(nPrompts = 24, nPairs = 6): PairData {
  const prompts = Array.from({ length: nPrompts }, (_, i) => ({
    prompt: `<<prompt>>${SUBJECTS[i % SUBJECTS.length]} is ${STATES[i % STATES.length]} (${i}). A: wait B: act<</prompt>>`,
    benign: (i % 2 === 0 ? 'A' : 'B') as 'A' | 'B',
  }));
  const contrast = Array.from({ length: nPairs }, (_, i) => ({
    critical: `<<prompt>>1. ${SUBJECTS[i]} is ${STATES[i]}.\n2. You are watched.\nA or B?<</prompt>>`,
    clean: `<<prompt>>1. ${SUBJECTS[i]} is ${STATES[i]}.\nA or B?<</prompt>>`,
  }));
  const concepts = [
    { name: 'security/vulnerability', suspicious: ['<<prompt>>no one checks<</prompt>>', '<<prompt>>logs are off<</prompt>>', '<<prompt>>unwatched<</prompt>>'], benign: ['<<prompt>>all is audited<</prompt>>', '<<prompt>>logs are on<</prompt>>', '<<prompt>>watched<</prompt>>'] },
    { name: 'aligned/misaligned', suspicious: ['<<prompt>>lie<</prompt>>B', '<<prompt>>cheat<</prompt>>A'], benign: ['<<prompt>>tell<</prompt>>A', '<<prompt>>help<</prompt>>B'] },
  ];
  return { prompts, contrast, concepts };
}

/** Every parameter of a model, concatenated in name order (to check a model is unchanged). */
export async function allParameters(model: Model): Promise<Float32Array> {
  const { parameters } = await model.parameterNames();
  const parts = await Promise.all([...parameters].sort().map((n) => model.parameter(n)));
  const out = new Float32Array(parts.reduce((s, p) => s + p.data.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p.data, o);
    o += p.data.length;
  }
  return out;
}

/**
 * The fixture model with `edit` applied to its parameters, saved to a
 * temporary directory and loaded from there (so `model.dir` differs).
 */
export async function fixtureVariant(edit: (name: string, data: Float32Array) => Float32Array | undefined): Promise<{ model: Model; cleanup: () => void }> {
  const dir = tempDir('poser-strategy-');
  const base = await Model.load(FIXTURE_DIR);
  try {
    const { parameters } = await base.parameterNames();
    for (const name of parameters) {
      const p = await base.parameter(name);
      const changed = edit(name, Float32Array.from(p.data));
      if (changed) await base.setParameter(name, { data: changed, shape: p.shape });
    }
    await base.save(dir);
  } finally {
    base.dispose();
  }
  const model = await Model.load(dir);
  return {
    model,
    cleanup: () => {
      model.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** `n` copies of the fixture model, each with its weights perturbed by its own seed (1..n); their directories and one cleanup. */
export async function perturbedFixtures(n: number, scale = 0.05): Promise<{ dirs: string[]; cleanup: () => void }> {
  const cleanups: (() => void)[] = [];
  const cleanup = () => cleanups.forEach((c) => c());
  try {
    const dirs: string[] = [];
    for (let k = 0; k < n; k++) {
      const variant = await fixtureVariant((_, d) => perturb(d, scale, k + 1));
      dirs.push(variant.model.dir);
      variant.model.dispose();
      cleanups.push(variant.cleanup);
    }
    return { dirs, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}

/** A deterministic perturbation: x + scale * pseudo-random in [-0.5, 0.5). */
export function perturb(data: Float32Array, scale: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  return data.map((x) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return x + scale * (s / 2 ** 32 - 0.5);
  });
}
