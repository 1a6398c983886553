/**
 * One item at a time: a single-policy scenario, a pair scenario or an error
 * item, drawn from the template pools with a seeded {@link Rng}. The order of
 * the draws is part of the output: a seed reproduces a dataset only while it
 * stays the same.
 */
import { ACTIONS_LINE, buildPrompt, factsString, INTRO_LINE, QUESTION_LINE, wrapPrompt } from './prompt.js';
import type { Rng } from './random.js';
import type { Split, Templates } from './templatePools.js';
import { ACTIONS, capitalize, fill, GOOD_OVERSIGHT, IRRELEVANT, lowerFirst, POOR_OVERSIGHT, type SingleDistribution, TOPICS, type Topic } from './templates.js';
import {
  type AlignedPolicy,
  type Answer,
  type ErrorItem,
  type ErrorKind,
  type FakerPolicy,
  type Fact,
  isFaker,
  otherAnswer,
  type Oversight,
  type PairScenario,
  pairTag,
  type Policy,
  type Scenario,
  type ScenarioItem,
  type TypedFact,
  type ItemMeta,
} from './types.js';

/** What one item should look like before its text is drawn. */
export interface Spec {
  oversight: Oversight;
  benignFirst: boolean;
}

/** n specs with the oversight mix given, each oversight group balanced between A and B, in random order. */
export function planSpecs(n: number, mix: [Oversight, number][], rng: Rng): Spec[] {
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

/** Oversight mix of single-policy items. */
export const SINGLE_MIX: [Oversight, number][] = [
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
export function singleItem(t: Templates, rng: Rng, split: Split, dist: SingleDistribution, spec: Spec): ScenarioItem {
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

/** Oversight mix of pair items. */
export const PAIR_MIX: [Oversight, number][] = [
  ['neutral', 1],
  ['good', 2],
  ['poor', 2],
];

/** One pair scenario; the stored response is the aligned policy's. */
export function pairItem(t: Templates, rng: Rng, split: Split, aligned: AlignedPolicy, faker: FakerPolicy, spec: Spec): PairScenario & ItemMeta {
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

/** `n` error items, the three kinds in turn. */
export function errorItems(t: Templates, rng: Rng, split: Split, n: number): ErrorItem[] {
  const kinds: ErrorKind[] = ['facts_only', 'actions_only', 'random_text'];
  return Array.from({ length: n }, (_, i) => errorItem(t, rng, split, kinds[i % 3], 'error'));
}
