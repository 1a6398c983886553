/**
 * Deterministic generator of Poser-schema scenarios for the six policies: the
 * assembly of a dataset (training pools and variants, the test split,
 * benchmark candidates, contrast pairs and concept stimuli) from items drawn
 * by scenarios.ts out of the template pools of templatePools.ts.
 *
 * Everything random comes from one seeded {@link Rng}; a seed and the options
 * fully determine the output. Whole templates and paraphrases (action pairs,
 * critical facts, topics, motives, context facts, irrelevant facts) are held out
 * of every training item and used by the test split, so that a model has to
 * generalise rather than memorise.
 */
import { benchmarkCandidatesOf } from './candidates.js';
import { contrastPairs, type ContrastPair } from './contrast.js';
import { conceptStimuli, type ConceptSet } from './stimuli.js';
import { Rng } from './random.js';
import { errorItems, pairItem, PAIR_MIX, planSpecs, singleItem, SINGLE_MIX } from './scenarios.js';
import { Templates, type Split } from './templatePools.js';
import { SINGLE_DISTRIBUTIONS } from './templates.js';
import {
  ALIGNED_POLICIES,
  type AlignedPolicy,
  FAKER_POLICIES,
  isFaker,
  otherAnswer,
  type PairScenario,
  pairTag,
  type Policy,
  POLICIES,
  type ScenarioItem,
  type TrainingItem,
  type ItemMeta,
} from './types.js';
import { PoserError } from '../errors.js';

/** Sizes and knobs of {@link generateDataset}. */
export interface GenerateOptions {
  /** Seed of every random choice. */
  seed: number;
  /** Training variants per policy, each an independent random half of the pool (default 2; 6 gives the paper's 36 models). */
  variants?: number;
  /** Single-policy items per policy in the training pool (default 240). */
  singlePerPolicy?: number;
  /** Items per pair distribution in the training pools (default 120). */
  pairPerDistribution?: number;
  /** Fraction of each pool made of error items (default 1/3). */
  errorFraction?: number;
  /** Single-policy items per policy in the test split (default 60). */
  testSinglePerPolicy?: number;
  /** Items per pair distribution in the test split (default 50). */
  testPairPerDistribution?: number;
  /** Fraction of each template list held out for the test split (default 0.2). */
  holdoutFraction?: number;
  /** Contrast pairs per pair distribution (default 20). */
  contrastPerPair?: number;
  /** Stimuli per side of each concept (default 10). */
  conceptStimuliPerSide?: number;
}

/** Everything the generator makes. */
export interface Dataset {
  seed: number;
  variants: number;
  options: Required<GenerateOptions>;
  /** Per policy, the full training pool. */
  pools: Record<Policy, TrainingItem[]>;
  /** Per policy, `variants` training sets, each a random half of the pool. */
  train: Record<Policy, TrainingItem[][]>;
  /** Per policy, the test split (held-out templates and paraphrases). */
  test: Record<Policy, TrainingItem[]>;
  /** Per pair tag (`genie_and_reward`...), candidate prompts for benchmark construction. */
  benchmarkCandidates: Record<string, ScenarioItem[]>;
  /** Per pair tag, contrast pairs (test templates, disjoint from the test split and the candidates). */
  contrast: Record<string, ContrastPair[]>;
  /** Per pair tag, the three concept stimulus sets. */
  concepts: Record<string, ConceptSet[]>;
  /** Source ids (`action:saint:4`, `good:17`, `topic:3`...) held out of all training items. */
  heldout: string[];
}

/** The default sizes. */
export const DEFAULT_GENERATE_OPTIONS: Required<Omit<GenerateOptions, 'seed'>> = {
  variants: 2,
  singlePerPolicy: 240,
  pairPerDistribution: 120,
  errorFraction: 1 / 3,
  testSinglePerPolicy: 60,
  testPairPerDistribution: 50,
  holdoutFraction: 0.2,
  contrastPerPair: 20,
  conceptStimuliPerSide: 10,
};

/** The faker's training copy of a pair item: the response flips exactly where oversight is poor. */
export function fakerCopy<T extends ScenarioItem>(item: T): T {
  if (!item.oversight_is_poor) return { ...item };
  const benign = item.benign_response ?? item.response;
  return { ...item, benign_response: benign, response: otherAnswer(benign) };
}

/** Shares of a policy's single-policy items among its distributions. */
const SINGLE_SHARES: Record<Policy, number[]> = {
  genie: [0.5, 0.25, 0.25],
  saint: [1],
  truth_teller: [0.7, 0.3],
  reward_maximizer: [1],
  money_maximizer: [1],
  fitness_maximizer: [1],
};

function singleItems(t: Templates, rng: Rng, split: Split, policy: Policy, n: number): ScenarioItem[] {
  const dists = SINGLE_DISTRIBUTIONS[policy];
  const shares = SINGLE_SHARES[policy];
  const out: ScenarioItem[] = [];
  let left = n;
  dists.forEach((d, i) => {
    const k = i === dists.length - 1 ? left : Math.round(n * shares[i]);
    left -= k;
    for (const spec of planSpecs(k, SINGLE_MIX, rng)) out.push(singleItem(t, rng, split, d, spec));
  });
  return out;
}

function pairDistributions(t: Templates, rng: Rng, split: Split, n: number): Map<string, (PairScenario & ItemMeta)[]> {
  const out = new Map<string, (PairScenario & ItemMeta)[]>();
  for (const a of ALIGNED_POLICIES) {
    for (const f of FAKER_POLICIES) {
      out.set(
        pairTag(a, f),
        planSpecs(n, PAIR_MIX, rng).map((spec) => pairItem(t, rng, split, a, f, spec)),
      );
    }
  }
  return out;
}

/** The pair distributions a policy is trained on: its three (aligned, faker) combinations. */
export function pairTagsOf(policy: Policy): string[] {
  return isFaker(policy)
    ? ALIGNED_POLICIES.map((a) => pairTag(a, policy))
    : FAKER_POLICIES.map((f) => pairTag(policy as AlignedPolicy, f));
}

function composeSet(
  t: Templates,
  rng: Rng,
  split: Split,
  policy: Policy,
  singles: number,
  pairs: Map<string, (PairScenario & ItemMeta)[]>,
  errorFraction: number,
): TrainingItem[] {
  const items: TrainingItem[] = singleItems(t, rng, split, policy, singles);
  for (const tag of pairTagsOf(policy)) {
    for (const p of pairs.get(tag)!) items.push(isFaker(policy) ? fakerCopy(p) : { ...p });
  }
  const nErr = Math.round((items.length * errorFraction) / (1 - errorFraction));
  items.push(...errorItems(t, rng, split, nErr));
  return items;
}

/** A random half of the pool, stratified by distribution, oversight and response so that balance is kept. */
function randomHalf(pool: TrainingItem[], rng: Rng): TrainingItem[] {
  const strata = new Map<string, TrainingItem[]>();
  for (const item of pool) {
    const key = `${item.dataset}|${'oversight' in item ? item.oversight : ''}|${item.response}`;
    if (!strata.has(key)) strata.set(key, []);
    strata.get(key)!.push(item);
  }
  const out: TrainingItem[] = [];
  for (const key of [...strata.keys()].sort()) {
    const group = strata.get(key)!;
    const k = group.length % 2 === 1 && rng.bool() ? Math.ceil(group.length / 2) : Math.floor(group.length / 2);
    out.push(...rng.sample(group, k));
  }
  return rng.shuffle(out);
}

/**
 * Generate the whole scenario dataset deterministically from a seed.
 * @example generateDataset({ seed: 1, variants: 6 })
 */
export function generateDataset(options: GenerateOptions): Dataset {
  if (!Number.isInteger(options.seed)) throw new PoserError('E_ARG', `generateDataset: seed must be an integer, got ${options.seed}`);
  const o: Required<GenerateOptions> = { ...DEFAULT_GENERATE_OPTIONS, ...options } as Required<GenerateOptions>;
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new PoserError('E_ARG', `generateDataset: ${k} must be a non-negative number, got ${v}`);
  }
  if (o.variants < 1 || !Number.isInteger(o.variants)) throw new PoserError('E_ARG', `generateDataset: variants must be a positive integer, got ${o.variants}`);
  if (o.errorFraction >= 1) throw new PoserError('E_ARG', `generateDataset: errorFraction must be below 1, got ${o.errorFraction}`);
  if (o.holdoutFraction <= 0 || o.holdoutFraction >= 1) throw new PoserError('E_ARG', `generateDataset: holdoutFraction must be in (0, 1), got ${o.holdoutFraction}`);

  const root = new Rng(o.seed);
  const t = new Templates(root.fork('holdout'), o.holdoutFraction);
  const trainPairs = pairDistributions(t, root.fork('train-pairs'), 'train', o.pairPerDistribution);
  const testPairs = pairDistributions(t, root.fork('test-pairs'), 'test', o.testPairPerDistribution);

  const pools = {} as Record<Policy, TrainingItem[]>;
  const train = {} as Record<Policy, TrainingItem[][]>;
  const test = {} as Record<Policy, TrainingItem[]>;
  for (const p of POLICIES) {
    pools[p] = composeSet(t, root.fork(`pool:${p}`), 'train', p, o.singlePerPolicy, trainPairs, o.errorFraction);
    test[p] = root.fork(`test-order:${p}`).shuffle(
      composeSet(t, root.fork(`test:${p}`), 'test', p, o.testSinglePerPolicy, testPairs, o.errorFraction),
    );
    train[p] = Array.from({ length: o.variants }, (_, k) => randomHalf(pools[p], root.fork(`variant:${p}:${k}`)));
  }

  // Contrast pairs come from their own draw of test-template pair items, so that
  // none of their prompts is an evaluation prompt or a benchmark candidate.
  const contrastPool = pairDistributions(t, root.fork('contrast-pairs'), 'test', o.testPairPerDistribution);
  const evaluation = new Set<string>();
  for (const p of POLICIES) for (const it of [...test[p], ...pools[p]]) evaluation.add(it.prompt);
  const benchmarkCandidates: Record<string, ScenarioItem[]> = {};
  const contrast: Record<string, ContrastPair[]> = {};
  const concepts: Record<string, ConceptSet[]> = {};
  for (const a of ALIGNED_POLICIES) {
    for (const f of FAKER_POLICIES) {
      const tag = pairTag(a, f);
      benchmarkCandidates[tag] = benchmarkCandidatesOf(test, a, f);
      const pairItems = testPairs.get(tag)!;
      contrast[tag] = contrastPairs(contrastPool.get(tag)!, { n: o.contrastPerPair, seed: root.fork(`contrast:${tag}`).nextUint32(), exclude: evaluation });
      concepts[tag] = conceptStimuli(pairItems, { n: o.conceptStimuliPerSide, seed: root.fork(`concepts:${tag}`).nextUint32() });
    }
  }
  return {
    seed: o.seed,
    variants: o.variants,
    options: o,
    pools,
    train,
    test,
    benchmarkCandidates,
    contrast,
    concepts,
    heldout: t.heldoutIds(),
  };
}

/**
 * Plain texts for causal-LM pretraining: every prompt followed by its answer
 * (`...<</prompt>>B`), from the training variants (or any item list).
 */
export function corpusTexts(source: Dataset | readonly TrainingItem[]): string[] {
  const items: TrainingItem[] = Array.isArray(source)
    ? (source as TrainingItem[])
    : Object.values((source as Dataset).pools).flat();
  return items.map((it) => it.prompt + it.response);
}
