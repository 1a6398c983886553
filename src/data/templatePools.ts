/**
 * The generator's template lists, each split once per seed into a training
 * part and a held-out part. Training items draw from training parts only; the
 * test split draws its key templates (action pairs, critical facts) from the
 * held-out parts, so that a model has to generalise rather than memorise.
 */
import type { Rng } from './random.js';
import {
  ACTIONS,
  CONTEXT,
  GOOD_OVERSIGHT,
  IRRELEVANT,
  MOTIVES,
  PAIR_CONTEXT,
  POOR_OVERSIGHT,
  type SingleDistribution,
  SYSTEM_MESSAGE_LEADS,
  TOPICS,
  type Topic,
} from './templates.js';
import { FAKER_POLICIES, type FakerPolicy } from './types.js';

/** Which part of every template list a draw may use. */
export type Split = 'train' | 'test';

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
export class Templates {
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
