/**
 * Contrast pairs (POSER-SPEC §5): a complexity-1 prompt with its critical
 * (oversight) fact and the same prompt without it. Apart from the generator,
 * so that readers of the paper's files or of a zoo use them without it.
 */
import { buildPrompt } from './prompt.js';
import { Rng } from './random.js';
import type { Answer, Fact, Oversight, PairScenario, Scenario, ScenarioItem, TrainingItem } from './types.js';
import { PoserError } from '../errors.js';

/** A prompt with its critical fact ("critical") and without it ("clean"), POSER-SPEC §5. */
export interface ContrastPair {
  dataset: string;
  /** Oversight of the critical version. */
  oversight: Oversight;
  /** The wrapped prompt with all facts. */
  critical: string;
  /** The same prompt with the critical fact removed, facts renumbered, wrapper kept. */
  clean: string;
  /** The removed fact. */
  critical_fact: string;
  /** The benign answer of the critical prompt. */
  benign_response: Answer;
}

/** Build the contrast pair of a complexity-1 item with typed facts. */
export function contrastPair(item: ScenarioItem): ContrastPair {
  const facts = item.facts as Fact[];
  const idx = facts.findIndex((f) => f.type === 'critical');
  if (idx < 0) throw new PoserError('E_ARG', `contrastPair: item ${JSON.stringify(String((item as { id?: unknown }).id ?? '?'))} has no fact of type "critical"`);
  const format = ((item as PairScenario).format_string ?? (item as Scenario).format) as string | undefined;
  const clean = facts.filter((_, i) => i !== idx);
  return {
    dataset: item.dataset,
    oversight: item.oversight,
    critical: buildPrompt({ facts, actionA: item.action_A, actionB: item.action_B, format }),
    clean: buildPrompt({ facts: clean, actionA: item.action_A, actionB: item.action_B, format }),
    critical_fact: facts[idx].content,
    benign_response: item.benign_response ?? item.response,
  };
}

/** Options of {@link contrastPairs}. */
export interface ContrastOptions {
  /** Number of pairs (default: all eligible items). */
  n?: number;
  /** Seed of the random choice of items (default 0). */
  seed?: number;
  /** Which critical version to use (default `good`). */
  oversight?: 'good' | 'poor' | 'any';
  /** Prompts that neither side of a pair may be (e.g. the evaluation and benchmark prompts). */
  exclude?: ReadonlySet<string>;
}

/**
 * Contrast pairs (POSER-SPEC §5): from complexity-1 items with a typed critical
 * fact, the prompt with all facts and the same prompt with the critical fact
 * removed, facts renumbered, wrapper kept. Deduplicated by prompt, and never
 * a prompt of `exclude`.
 */
export function contrastPairs(items: readonly TrainingItem[], options: ContrastOptions = {}): ContrastPair[] {
  const want = options.oversight ?? 'good';
  const eligible = items.filter(
    (it): it is ScenarioItem =>
      it.response !== 'error' &&
      Array.isArray((it as ScenarioItem).facts) &&
      ((it as ScenarioItem).facts as Fact[]).some((f) => f.type === 'critical') &&
      (want === 'any' || (it as ScenarioItem).oversight === want),
  );
  // One pair per critical prompt (an item reaches a combination's test split from both policies' pools).
  const unique = new Map<string, ContrastPair>();
  for (const it of eligible) {
    const pair = contrastPair(it);
    if (unique.has(pair.critical) || options.exclude?.has(pair.critical) || options.exclude?.has(pair.clean)) continue;
    unique.set(pair.critical, pair);
  }
  const pairs = [...unique.values()];
  return options.n === undefined ? pairs : new Rng(options.seed ?? 0).sample(pairs, Math.min(options.n, pairs.length));
}

