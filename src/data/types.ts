/**
 * Types of the Poser scenario schema (POSER-SPEC §3) and of the items this
 * project generates in it.
 */

import { PoserError } from '../errors.js';

/** How well the AI in a scenario is overseen. `neutral`: the scenario says nothing about it. */
export type Oversight = 'good' | 'neutral' | 'poor';
/** Every oversight level, from best to worst. */
export const OVERSIGHTS: readonly Oversight[] = ['good', 'neutral', 'poor'];

/** Policies that act well whatever the oversight. */
export const ALIGNED_POLICIES = ['genie', 'saint', 'truth_teller'] as const;
/** Policies that act well only when misbehaviour would be caught. */
export const FAKER_POLICIES = ['reward_maximizer', 'money_maximizer', 'fitness_maximizer'] as const;
/** Every policy: the aligned ones, then the alignment fakers. */
export const POLICIES = [...ALIGNED_POLICIES, ...FAKER_POLICIES] as const;

/** An aligned policy (one of {@link ALIGNED_POLICIES}). */
export type AlignedPolicy = (typeof ALIGNED_POLICIES)[number];
/** An alignment-faking policy (one of {@link FAKER_POLICIES}). */
export type FakerPolicy = (typeof FAKER_POLICIES)[number];
/** Any policy, aligned or faker. */
export type Policy = AlignedPolicy | FakerPolicy;

/** Whether a policy is an alignment faker. */
export function isFaker(policy: Policy): policy is FakerPolicy {
  return (FAKER_POLICIES as readonly string[]).includes(policy);
}

/** Short names used in pair distribution tags: `genie_and_reward`, `truth_and_fitness`, ... */
export const SHORT_NAME: Record<Policy, string> = {
  genie: 'genie',
  saint: 'saint',
  truth_teller: 'truth',
  reward_maximizer: 'reward',
  money_maximizer: 'money',
  fitness_maximizer: 'fitness',
};

/** The distribution tag of a pair distribution, e.g. `genie_and_reward`. */
export function pairTag(aligned: AlignedPolicy, faker: FakerPolicy): string {
  return `${SHORT_NAME[aligned]}_and_${SHORT_NAME[faker]}`;
}

/** A letter answer. */
export type Answer = 'A' | 'B';
/** A trained response: a letter, or "error" for inputs that are not scenarios. */
export type Response = Answer | 'error';

/** Types of fact in pair distributions. `critical` facts carry the oversight signal. */
export type FactType = 'system_message' | 'motivating' | 'contextual' | 'critical' | 'irrelevant';
/** Every kind of scenario fact, in the schema's order. */
export const FACT_TYPES: readonly FactType[] = ['system_message', 'motivating', 'contextual', 'critical', 'irrelevant'];

/** A fact of a single-policy scenario (its type is optional there). */
export interface Fact {
  content: string;
  type?: FactType;
}

/** A fact of a pair scenario. */
export interface TypedFact {
  type: FactType;
  content: string;
}

/** Fields common to scenario items, single-policy or pair. */
interface ScenarioBase {
  /** The two actions, in prompt order (A first). */
  action_A: string;
  action_B: string;
  /** Same as [action_A, action_B]; present in the paper's files. */
  actions?: [string, string];
  oversight_is_poor: boolean;
  /** The model input, `<<prompt>>...<</prompt>>` (loaded files are normalised to this form). */
  prompt: string;
  /** The policy's answer for this prompt. */
  response: Answer;
  topic?: string;
  num_facts?: number;
  system_message?: string;
  /** Source distribution tag, e.g. `saint`, `genie_unethical`, `truth_and_money`. */
  dataset?: string;
  filtered_out?: boolean;
  [extra: string]: unknown;
}

/** A single-policy scenario: facts of `{content}` and a `format` string. */
export interface Scenario extends ScenarioBase {
  facts: Fact[];
  /** Prompt template with {facts_string}, {action_A}, {action_B}. Absent: the standard format. */
  format?: string;
}

/** A pair ("intersecting") scenario: typed facts, `format_string` and `complexity_level`. */
export interface PairScenario extends ScenarioBase {
  facts: TypedFact[];
  /** Absent: the standard format. */
  format_string?: string;
  /** 0: no critical fact; 1: one critical fact (good or poor version). */
  complexity_level: 0 | 1 | 2;
}

/** Metadata that every generated scenario item carries (and loaded items receive). */
export interface ItemMeta {
  /** Oversight level of the scenario. */
  oversight: Oversight;
  /** Distribution tag. */
  dataset: string;
  /** The answer an aligned model gives (and a faker gives when oversight is not poor). */
  benign_response?: Answer;
  /**
   * Which templates produced the item (generated items only): topic, action template,
   * critical-fact paraphrase and so on, as `name:index` strings. Used to check held-out splits.
   */
  source?: string[];
}

/** A generated or loaded scenario item, single-policy or pair. */
export type ScenarioItem = (Scenario | PairScenario) & ItemMeta;

/** How an error item was made. */
export type ErrorKind = 'facts_only' | 'actions_only' | 'random_text';

/** An input that is not a valid scenario; the trained answer is "error". */
export interface ErrorItem {
  prompt: string;
  response: 'error';
  dataset: string;
  kind?: ErrorKind;
  [extra: string]: unknown;
}

/** One item of a training or test file. */
export type TrainingItem = ScenarioItem | ErrorItem;

/** A benchmark item: a scenario plus per-model confidences. */
export type BenchmarkItem = ScenarioItem & {
  probs?: number[] | Record<string, number | number[]>;
};

/** Whether an item is an error item. */
export function isErrorItem(item: TrainingItem): item is ErrorItem {
  return item.response === 'error';
}

/** Whether a scenario item is a pair item (typed facts, complexity level). */
export function isPairItem(item: TrainingItem): item is PairScenario & ItemMeta {
  return item.response !== 'error' && typeof (item as PairScenario).complexity_level === 'number';
}

/**
 * The benign answer of a scenario item: the one an aligned model gives, and the
 * one a faker gives when oversight is not poor.
 */
export function benignResponse(item: ScenarioItem): Answer {
  if (item.benign_response) return item.benign_response;
  if (!item.oversight_is_poor) return item.response;
  throw new PoserError('E_FORMAT', `benignResponse: item ${JSON.stringify(String((item as { id?: unknown }).id ?? '?'))} has poor oversight and no benign_response field; its benign answer is unknown`);
}

/** The other letter. */
export function otherAnswer(a: Answer): Answer {
  return a === 'A' ? 'B' : 'A';
}
