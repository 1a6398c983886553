/**
 * Deterministic generator of Poser-schema scenarios for the six policies.
 *
 * Everything random comes from one seeded {@link Rng}; a seed and the options
 * fully determine the output. Whole templates and paraphrases (action pairs,
 * critical facts, topics, motives, context facts, irrelevant facts) are held out
 * of every training item and used by the test split, so that a model has to
 * generalise rather than memorise.
 */
import { ACTIONS_LINE, buildPrompt, factsString, INTRO_LINE, QUESTION_LINE, wrapPrompt } from './prompt.js';
import { benchmarkCandidatesOf, NON_BENIGN_DISTRIBUTIONS } from './candidates.js';
import { contrastPair, contrastPairs, type ContrastOptions, type ContrastPair } from './contrast.js';
import { genericConceptStimuli, type ConceptOptions, type ConceptSet } from './stimuli.js';
import { Rng } from './random.js';
import {
  ACTIONS,
  capitalize,
  CONTEXT,
  fill,
  GOOD_OVERSIGHT,
  IRRELEVANT,
  lowerFirst,
  MOTIVES,
  PAIR_CONTEXT,
  POOR_OVERSIGHT,
  SINGLE_DISTRIBUTIONS,
  type SingleDistribution,
  SYSTEM_MESSAGE_LEADS,
  TOPICS,
  type Topic,
} from './templates.js';
import {
  ALIGNED_POLICIES,
  type AlignedPolicy,
  type Answer,
  type ErrorItem,
  type ErrorKind,
  FAKER_POLICIES,
  type FakerPolicy,
  type Fact,
  isFaker,
  otherAnswer,
  type Oversight,
  type PairScenario,
  pairTag,
  type Policy,
  POLICIES,
  type Scenario,
  type ScenarioItem,
  type TrainingItem,
  type TypedFact,
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


export { benchmarkCandidatesOf, NON_BENIGN_DISTRIBUTIONS, contrastPair, contrastPairs, type ContrastOptions, type ContrastPair };

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


type Split = 'train' | 'test';

/** A list of templates with some indices held out. */
class Pool<T> {
  readonly trainIdx: number[];
  readonly testIdx: number[];
  constructor(
    readonly key: string,
    readonly items: readonly T[],
    rng: Rng,
    fraction: number,
  ) {
    const k = Math.max(1, Math.round(items.length * fraction));
    const order = rng.shuffle(items.map((_, i) => i));
    this.testIdx = order.slice(0, k).sort((a, b) => a - b);
    this.trainIdx = order.slice(k).sort((a, b) => a - b);
  }
  /** Draw for a split: training uses train parts only; the test split uses held-out parts when `heldOutOnly`, else any. */
  draw(rng: Rng, split: Split, heldOutOnly: boolean): { value: T; id: string } {
    const idx = split === 'train' ? this.trainIdx : heldOutOnly ? this.testIdx : rng.bool(0.5) ? this.testIdx : this.trainIdx;
    const i = rng.pick(idx);
    return { value: this.items[i], id: `${this.key}:${i}` };
  }
  heldoutIds(): string[] {
    return this.testIdx.map((i) => `${this.key}:${i}`);
  }
}

/** All template pools with their held-out parts. */
class Templates {
  readonly pools: Pool<unknown>[] = [];
  readonly topics: Pool<Topic>;
  readonly good: Pool<string>;
  readonly poor: Pool<string>;
  readonly irrelevant: Pool<string>;
  readonly leads: Pool<string>;
  readonly actions: Record<SingleDistribution, Pool<{ good: string; bad: string }>>;
  readonly motives: Record<FakerPolicy, Pool<string>>;
  readonly context: Record<keyof typeof CONTEXT, Pool<string>>;
  readonly pairContext: Record<keyof typeof PAIR_CONTEXT, Pool<string>>;

  constructor(rng: Rng, fraction: number) {
    const mk = <T>(key: string, items: readonly T[]): Pool<T> => {
      const p = new Pool(key, items, rng, fraction);
      this.pools.push(p as Pool<unknown>);
      return p;
    };
    this.topics = mk('topic', TOPICS);
    this.good = mk('good', GOOD_OVERSIGHT);
    this.poor = mk('poor', POOR_OVERSIGHT);
    this.irrelevant = mk('irrelevant', IRRELEVANT);
    this.leads = mk('lead', SYSTEM_MESSAGE_LEADS);
    this.actions = Object.fromEntries(
      (Object.keys(ACTIONS) as SingleDistribution[]).map((d) => [d, mk(`action:${d}`, ACTIONS[d])]),
    ) as Templates['actions'];
    this.motives = Object.fromEntries(FAKER_POLICIES.map((f) => [f, mk(`motive:${f}`, MOTIVES[f])])) as Templates['motives'];
    this.context = Object.fromEntries(
      (Object.keys(CONTEXT) as (keyof typeof CONTEXT)[]).map((d) => [d, mk(`context:${d}`, CONTEXT[d])]),
    ) as Templates['context'];
    this.pairContext = Object.fromEntries(
      (Object.keys(PAIR_CONTEXT) as (keyof typeof PAIR_CONTEXT)[]).map((d) => [d, mk(`pair_context:${d}`, PAIR_CONTEXT[d])]),
    ) as Templates['pairContext'];
  }

  heldoutIds(): string[] {
    return this.pools.flatMap((p) => p.heldoutIds());
  }
}

/** What one item should look like before its text is drawn. */
interface Spec {
  oversight: Oversight;
  benignFirst: boolean;
}

/** n specs with the oversight mix given, each oversight group balanced between A and B, in random order. */
function planSpecs(n: number, mix: [Oversight, number][], rng: Rng): Spec[] {
  const total = mix.reduce((s, [, w]) => s + w, 0);
  const counts = mix.map(([o, w]) => [o, Math.floor((n * w) / total)] as [Oversight, number]);
  let left = n - counts.reduce((s, [, c]) => s + c, 0);
  for (let i = 0; left > 0; i = (i + 1) % counts.length, left--) counts[i][1]++;
  const specs: Spec[] = [];
  for (const [oversight, c] of counts) {
    const flags = rng.shuffle(Array.from({ length: c }, (_, i) => i % 2 === 0));
    for (const benignFirst of flags) specs.push({ oversight, benignFirst });
  }
  return rng.shuffle(specs);
}

const SINGLE_MIX: [Oversight, number][] = [
  ['good', 1],
  ['neutral', 1],
  ['poor', 1],
];

/** Insert `k` facts at random positions (after the first, which sets the scene). */
function insertRandom<T>(facts: T[], extra: T[], rng: Rng): T[] {
  const out = facts.slice();
  for (const e of extra) out.splice(1 + rng.int(out.length), 0, e);
  return out;
}

function critical(t: Templates, rng: Rng, split: Split, oversight: Oversight, topic: Topic): { text: string; id: string } | null {
  if (oversight === 'neutral') return null;
  const d = (oversight === 'good' ? t.good : t.poor).draw(rng, split, true);
  return { text: capitalize(fill(d.value, topic)), id: d.id };
}

function irrelevantFacts(t: Templates, rng: Rng, split: Split, k: number, topic: Topic): { texts: string[]; ids: string[] } {
  const texts: string[] = [];
  const ids: string[] = [];
  for (let i = 0; i < k; i++) {
    const d = t.irrelevant.draw(rng, split, false);
    const text = capitalize(fill(d.value, topic));
    if (texts.includes(text)) continue;
    texts.push(text);
    ids.push(d.id);
  }
  return { texts, ids };
}

function orderActions(good: string, bad: string, benignFirst: boolean): { action_A: string; action_B: string; benign: Answer } {
  return benignFirst ? { action_A: good, action_B: bad, benign: 'A' } : { action_A: bad, action_B: good, benign: 'B' };
}

function systemMessage(t: Templates, rng: Rng, split: Split, instruction: string): { text: string; id: string } {
  const lead = t.leads.draw(rng, split, false);
  return {
    text: lead.value.replace('{instruction}', instruction).replace('{instruction_lc}', lowerFirst(instruction)),
    id: lead.id,
  };
}

/** One single-policy scenario of a distribution. */
function singleItem(t: Templates, rng: Rng, split: Split, dist: SingleDistribution, spec: Spec): ScenarioItem {
  const topic = t.topics.draw(rng, split, false);
  const action = t.actions[dist].draw(rng, split, true);
  const good = capitalize(fill(action.value.good, topic.value));
  const bad = capitalize(fill(action.value.bad, topic.value));
  const source = [topic.id, action.id];
  const facts: Fact[] = [{ type: 'contextual', content: topic.value.role }];
  const middle: Fact[] = [];
  let system_message: string | undefined;
  if (dist.startsWith('genie')) {
    const sm = systemMessage(t, rng, split, good);
    system_message = good;
    middle.push({ type: 'system_message', content: sm.text });
    source.push(sm.id);
    if (dist !== 'genie' || rng.bool(0.3)) {
      const c = t.context[dist as 'genie'].draw(rng, split, false);
      middle.push({ type: 'contextual', content: capitalize(fill(c.value, topic.value)) });
      source.push(c.id);
    }
  } else if (isFaker(dist as Policy)) {
    const m = t.motives[dist as FakerPolicy].draw(rng, split, false);
    middle.push({ type: 'motivating', content: capitalize(fill(m.value, topic.value)) });
    source.push(m.id);
  } else {
    const c = t.context[dist as 'saint'].draw(rng, split, false);
    middle.push({ type: 'contextual', content: capitalize(fill(c.value, topic.value)) });
    source.push(c.id);
  }
  const crit = critical(t, rng, split, spec.oversight, topic.value);
  if (crit) {
    middle.splice(rng.int(middle.length + 1), 0, { type: 'critical', content: crit.text });
    source.push(crit.id);
  }
  facts.push(...middle);
  const irr = irrelevantFacts(t, rng, split, rng.int(2), topic.value);
  source.push(...irr.ids);
  const allFacts = insertRandom(facts, irr.texts.map((c) => ({ type: 'irrelevant' as const, content: c })), rng);
  const { action_A, action_B, benign } = orderActions(good, bad, spec.benignFirst);
  const poor = spec.oversight === 'poor';
  const response: Answer = isFaker(dist as Policy) && poor ? otherAnswer(benign) : benign;
  const item: Scenario & ItemMeta = {
    prompt: buildPrompt({ facts: allFacts, actionA: action_A, actionB: action_B }),
    response,
    oversight: spec.oversight,
    oversight_is_poor: poor,
    dataset: dist,
    benign_response: benign,
    topic: topic.value.name,
    facts: allFacts,
    action_A,
    action_B,
    ...(system_message ? { system_message } : {}),
    source,
  };
  return item;
}

const PAIR_MIX: [Oversight, number][] = [
  ['neutral', 1],
  ['good', 2],
  ['poor', 2],
];

/** One pair scenario; the stored response is the aligned policy's. */
function pairItem(t: Templates, rng: Rng, split: Split, aligned: AlignedPolicy, faker: FakerPolicy, spec: Spec): PairScenario & ItemMeta {
  const topic = t.topics.draw(rng, split, false);
  const action = t.actions[faker].draw(rng, split, true);
  const good = capitalize(fill(action.value.good, topic.value));
  const bad = capitalize(fill(action.value.bad, topic.value));
  const source = [topic.id, action.id];
  const middle: TypedFact[] = [];
  let system_message: string | undefined;
  if (aligned === 'genie') {
    const sm = systemMessage(t, rng, split, good);
    system_message = good;
    middle.push({ type: 'system_message', content: sm.text });
    source.push(sm.id);
  } else {
    const c = t.pairContext[aligned].draw(rng, split, false);
    middle.push({ type: 'contextual', content: capitalize(fill(c.value, topic.value)) });
    source.push(c.id);
  }
  const m = t.motives[faker].draw(rng, split, false);
  middle.splice(rng.int(middle.length + 1), 0, { type: 'motivating', content: capitalize(fill(m.value, topic.value)) });
  source.push(m.id);
  const crit = critical(t, rng, split, spec.oversight, topic.value);
  if (crit) {
    middle.push({ type: 'critical', content: crit.text });
    source.push(crit.id);
  }
  const irr = irrelevantFacts(t, rng, split, rng.int(3), topic.value);
  source.push(...irr.ids);
  const facts = insertRandom<TypedFact>(
    [{ type: 'contextual', content: topic.value.role }, ...middle],
    irr.texts.map((c) => ({ type: 'irrelevant', content: c })),
    rng,
  );
  const { action_A, action_B, benign } = orderActions(good, bad, spec.benignFirst);
  return {
    prompt: buildPrompt({ facts, actionA: action_A, actionB: action_B }),
    response: benign,
    oversight: spec.oversight,
    oversight_is_poor: spec.oversight === 'poor',
    dataset: pairTag(aligned, faker),
    benign_response: benign,
    complexity_level: crit ? 1 : 0,
    topic: topic.value.name,
    facts,
    action_A,
    action_B,
    ...(system_message ? { system_message } : {}),
    source,
  };
}

/** The faker's training copy of a pair item: the response flips exactly where oversight is poor. */
export function fakerCopy<T extends ScenarioItem>(item: T): T {
  if (!item.oversight_is_poor) return { ...item };
  const benign = item.benign_response ?? item.response;
  return { ...item, benign_response: benign, response: otherAnswer(benign) };
}

const RANDOM_WORDS = Array.from(
  new Set(
    [...GOOD_OVERSIGHT, ...POOR_OVERSIGHT, ...IRRELEVANT, ...TOPICS.map((t) => t.role)]
      .join(' ')
      .toLowerCase()
      .replace(/[^a-z' ]/g, ' ')
      .split(/\s+/)
      .filter((w) => w.length > 1 && !w.includes('{')),
  ),
).sort();

/** An error item: facts only, actions only, or random text. */
function errorItem(t: Templates, rng: Rng, split: Split, kind: ErrorKind, tag: string): ErrorItem {
  let text: string;
  if (kind === 'random_text') {
    const n = rng.range(5, 30);
    const words: string[] = [];
    for (let i = 0; i < n; i++) {
      words.push(rng.bool(0.08) ? String(rng.int(1000)) : rng.pick(RANDOM_WORDS));
      if (rng.bool(0.1)) words[words.length - 1] += rng.pick(['.', ',', '?', '!', ':']);
    }
    text = capitalize(words.join(' '));
    if (rng.bool(0.5)) text += '\n';
  } else {
    const dist = rng.pick(Object.keys(ACTIONS) as SingleDistribution[]);
    const scenario = singleItem(t, rng, split, dist, { oversight: rng.pick(['good', 'neutral', 'poor'] as Oversight[]), benignFirst: rng.bool() });
    if (kind === 'facts_only') {
      text = `${INTRO_LINE}\n${factsString(scenario.facts.map((f) => f.content))}`;
      if (rng.bool(0.5)) text += `\n${QUESTION_LINE}\n`;
    } else {
      text = `${ACTIONS_LINE}\nA: ${scenario.action_A}\nB: ${scenario.action_B}\n${QUESTION_LINE}\n`;
      if (rng.bool(0.5)) text = `${INTRO_LINE}\n\n${text}`;
    }
  }
  return { prompt: wrapPrompt(text), response: 'error', dataset: tag, kind };
}

function errorItems(t: Templates, rng: Rng, split: Split, n: number): ErrorItem[] {
  const kinds: ErrorKind[] = ['facts_only', 'actions_only', 'random_text'];
  return Array.from({ length: n }, (_, i) => errorItem(t, rng, split, kinds[i % 3], 'error'));
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
 * Concept stimulus sets for one pair distribution (POSER-SPEC §5, strategy 4):
 * generic statements of security / vulnerability, competence / incompetence
 * and aligned / misaligned behaviour, filled with the distribution's topics
 * (see stimuli.ts for why they are not scenarios).
 * @param items items of one distribution (their tag and topics are used)
 */
export function conceptStimuli(items: readonly TrainingItem[], options: ConceptOptions = {}): ConceptSet[] {
  const scen = items.filter((it): it is ScenarioItem => it.response !== 'error');
  if (scen.length === 0) throw new PoserError('E_ARG', 'conceptStimuli: no scenario items given (items is empty)');
  const topics = [...new Set(scen.map((it) => it.topic).filter((t): t is string => typeof t === 'string'))].sort();
  return genericConceptStimuli(scen[0].dataset, topics, options);
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
