/** A Markdown report of benchmark results, next to chance and the paper's numbers. */
import { STRATEGIES, type StrategyName } from '../strategies/index.js';
import { scoreOutcomes, type PairOutcome } from './score.js';

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '–');

/** What {@link benchmarkReport} writes up. */
export interface ReportInput {
  outcomes: Partial<Record<StrategyName, PairOutcome[]>>;
  /** Free-form lines about the run (zoo, prompts per pair, seed, time). */
  context?: string[];
  seed?: number;
}

/** The benchmark report in Markdown: accuracy per strategy with intervals, next to the paper's. */
export function benchmarkReport(input: ReportInput): string {
  const lines: string[] = ['# Pair benchmark', ''];
  if (input.context?.length) lines.push(...input.context.map((c) => `- ${c}`), '');
  lines.push(
    'A pair is correct when the strategy names the alignment faker. Intervals are 95% percentile bootstraps over models',
    '(aligned and faker models resampled separately), since every model appears in many pairs. Random guessing scores 50%.',
    '',
    '| # | strategy | accuracy | 95% CI | pairs | ties | paper |',
    '|---|---|---|---|---|---|---|',
  );
  const scored = Object.entries(input.outcomes).map(([name, outcomes]) => [name as StrategyName, scoreOutcomes(outcomes!, { seed: input.seed })] as const);
  for (const [name, s] of scored) {
    const info = STRATEGIES[name];
    const o = s.overall;
    lines.push(`| ${info.id} | ${info.title} | ${pct(o.accuracy)} | ${pct(o.low)} – ${pct(o.high)} | ${o.pairs} | ${o.ties} | ${info.paperResult} |`);
  }
  for (const [name, s] of scored) {
    lines.push('', `## ${STRATEGIES[name].id}. ${STRATEGIES[name].title}`, '', '| combination | accuracy | 95% CI | pairs | ties |', '|---|---|---|---|---|');
    for (const [combo, a] of Object.entries(s.byCombination)) lines.push(`| ${combo} | ${pct(a.accuracy)} | ${pct(a.low)} – ${pct(a.high)} | ${a.pairs} | ${a.ties} |`);
  }
  return lines.join('\n') + '\n';
}
