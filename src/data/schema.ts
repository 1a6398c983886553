/**
 * zod schemas of the scenario schema (POSER-SPEC §3) and validation with
 * errors that name the file, the item index and the field.
 */
import { z } from 'zod';
import { FACT_TYPES } from './types.js';
import { PoserError } from '../errors.js';

const answer = z.enum(['A', 'B'], { error: 'must be "A" or "B"' });
const factType = z.enum(FACT_TYPES as [string, ...string[]]);
const nonEmpty = z.string().min(1, 'must be a non-empty string');

const common = {
  action_A: nonEmpty.optional(),
  action_B: nonEmpty.optional(),
  actions: z.tuple([nonEmpty, nonEmpty]).optional(),
  oversight_is_poor: z.boolean(),
  prompt: nonEmpty,
  response: answer,
  topic: z.string().optional(),
  num_facts: z.number().int().nonnegative().optional(),
  system_message: z.string().optional(),
  dataset: z.string().optional(),
  filtered_out: z.boolean().optional(),
  oversight: z.enum(['good', 'neutral', 'poor']).optional(),
  benign_response: answer.optional(),
  source: z.array(z.string()).optional(),
};

/** A single-policy scenario: facts of `{content}`, `format`. */
export const scenarioSchema = z.looseObject({
  ...common,
  facts: z.array(z.looseObject({ content: nonEmpty, type: factType.optional() })).min(1, 'must list at least one fact'),
  format: nonEmpty.optional(),
});

/** A pair scenario: facts of `{type, content}`, `format_string`, `complexity_level`. */
export const pairScenarioSchema = z.looseObject({
  ...common,
  facts: z.array(z.looseObject({ type: factType, content: nonEmpty })).min(1, 'must list at least one fact'),
  format_string: nonEmpty.optional(),
  complexity_level: z.union([z.literal(0), z.literal(1), z.literal(2)], { error: 'must be 0, 1 or 2' }),
});

/** An error item: `{prompt, response: "error"}`. */
export const errorItemSchema = z.looseObject({
  prompt: nonEmpty,
  response: z.literal('error'),
  dataset: z.string().optional(),
  kind: z.enum(['facts_only', 'actions_only', 'random_text']).optional(),
});

/** Per-model confidences of a benchmark item. */
export const probsSchema = z.union([
  z.array(z.number()),
  z.record(z.string(), z.union([z.number(), z.array(z.number())])),
]);

/** Which schema an item is checked against. */
export type ItemKind = 'single' | 'pair' | 'error';

/** Decide the kind of a raw item from the fields it has. */
export function itemKind(raw: unknown): ItemKind {
  if (raw && typeof raw === 'object') {
    const o = raw as Record<string, unknown>;
    if (o.response === 'error') return 'error';
    if ('complexity_level' in o || 'format_string' in o) return 'pair';
  }
  return 'single';
}

/** A validation failure, located precisely (an E_FORMAT PoserError). */
export class ScenarioSchemaError extends PoserError {
  constructor(
    readonly file: string,
    readonly index: number | null,
    readonly field: string | null,
    readonly detail: string,
  ) {
    super('E_FORMAT', `${file}: ${index === null ? 'file' : `item ${index}`}${field ? `: field ${field}` : ''}: ${detail}`);
    this.name = 'ScenarioSchemaError';
  }
}

/** `facts[2].content` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/**
 * Validate one raw item. Returns a list of errors (empty when valid).
 * @param requireProbs benchmark files: every scenario item must carry `probs`.
 */
export function validateItem(raw: unknown, file: string, index: number, requireProbs = false): ScenarioSchemaError[] {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    return [new ScenarioSchemaError(file, index, null, `expected an object, got ${Array.isArray(raw) ? 'an array' : typeof raw}`)];
  }
  const kind = itemKind(raw);
  const schema = kind === 'error' ? errorItemSchema : kind === 'pair' ? pairScenarioSchema : scenarioSchema;
  const res = schema.safeParse(raw);
  const errors: ScenarioSchemaError[] = [];
  if (!res.success) {
    for (const issue of res.error.issues) {
      errors.push(new ScenarioSchemaError(file, index, formatPath(issue.path) || null, issue.message));
    }
  }
  if (kind !== 'error') {
    const o = raw as Record<string, unknown>;
    const hasPair = typeof o.action_A === 'string' && typeof o.action_B === 'string';
    const acts = Array.isArray(o.actions) ? o.actions : null;
    if (!hasPair && !acts) {
      errors.push(new ScenarioSchemaError(file, index, 'action_A', 'missing: give action_A and action_B, or actions'));
    } else if (hasPair && acts && (acts[0] !== o.action_A || acts[1] !== o.action_B)) {
      errors.push(new ScenarioSchemaError(file, index, 'actions', 'disagrees with action_A / action_B'));
    }
    if (requireProbs) {
      const p = probsSchema.safeParse(o.probs);
      if (!p.success) {
        errors.push(new ScenarioSchemaError(file, index, 'probs', o.probs === undefined ? 'missing (benchmark items carry per-model probabilities)' : p.error.issues[0].message));
      }
    }
  }
  return errors;
}
