/**
 * A strategy under fixed options, as a detector of its own (its own row in
 * the report, its own cached measurements): e.g. strategies 1 and 2 with
 * `normalization: 'common'` beside the paper's `own`.
 */
import type { CommonOptions } from '../strategies/types.js';
import { defineStrategy } from '../strategies/verdict.js';
import type { AnyDetector } from './run.js';

export function withOptions(base: AnyDetector, suffix: string, fixed: Record<string, unknown>, title = `${base.title} (${suffix})`): AnyDetector {
  return defineStrategy({
    name: `${base.name}:${suffix}`,
    title,
    measure: (subject, data, options?: CommonOptions) => base.measure(subject, data, { ...(options ?? {}), ...fixed }),
    compare: (measurements, options?: CommonOptions) => base.compare(measurements, { ...(options ?? {}), ...fixed }),
  });
}
