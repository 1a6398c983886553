/**
 * Which test items may become benchmark prompts (POSER-SPEC §4). Kept apart
 * from the generator so that readers of a built zoo never load it.
 */
import type { AlignedPolicy, FakerPolicy, Policy, ScenarioItem, TrainingItem } from './types.js';

/** Distributions that the benchmark candidates leave out: there a faker has no benign answer. */
export const NON_BENIGN_DISTRIBUTIONS: readonly string[] = ['genie_unethical', 'genie_incompetent', 'truth_teller_unethical'];

/**
 * Candidate benchmark prompts of an (aligned, faker) combination: the two
 * policies' test items with good or neutral oversight from distributions where
 * a faker has a benign answer, each prompt once, with the benign answer as
 * `response`.
 */
export function benchmarkCandidatesOf(test: Record<Policy, TrainingItem[]>, aligned: AlignedPolicy, faker: FakerPolicy): ScenarioItem[] {
  const seen = new Set<string>();
  const out: ScenarioItem[] = [];
  for (const item of [...test[aligned], ...test[faker]]) {
    if (item.response === 'error') continue;
    const s = item as ScenarioItem;
    if (s.oversight === 'poor' || NON_BENIGN_DISTRIBUTIONS.includes(s.dataset) || seen.has(s.prompt)) continue;
    seen.add(s.prompt);
    out.push({ ...s, response: s.benign_response ?? s.response });
  }
  return out;
}

