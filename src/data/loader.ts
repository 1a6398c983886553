/**
 * Load scenario files in the Poser schema: the paper's own files and the ones
 * this project generates. Items are validated, normalised, and their prompts
 * rebuilt from facts and format string to check the stored prompt.
 */
import { basename, extname } from 'node:path';
import { buildPrompt, isWrapped, unwrapPrompt, wrapPrompt } from './prompt.js';
import { itemKind, ScenarioSchemaError, validateItem } from './schema.js';
import type { ErrorItem, Oversight, ScenarioItem, TrainingItem } from './types.js';
import { PoserError } from '../errors.js';
import { readTextFile } from '../io/files.js';

/** A scenario whose stored prompt is not the one its facts and format string give. */
export interface PromptMismatch {
  index: number;
  /** The prompt rebuilt from the item's parts (unwrapped). */
  expected: string;
  /** The stored prompt (unwrapped). */
  actual: string;
  /** Offset of the first differing character. */
  offset: number;
}

/** The result of loading a file. */
export interface LoadedScenarioFile {
  file: string;
  /** `benchmark` when items carry `probs`. */
  kind: 'scenarios' | 'benchmark';
  /** Normalised items: both action fields set, prompt wrapped, `oversight` and `dataset` set. */
  items: TrainingItem[];
  /** Items whose stored prompt disagrees with the rebuilt one. */
  mismatches: PromptMismatch[];
  /** Whether the stored prompts carried the `<<prompt>>` wrapper. */
  wrapped: boolean;
}

/** All validation errors of a file; `message` lists the first ones. */
export class ScenarioFileError extends PoserError {
  constructor(readonly file: string, readonly errors: ScenarioSchemaError[]) {
    const shown = errors.slice(0, 10).map((e) => `  ${e.message}`).join('\n');
    const more = errors.length > 10 ? `\n  ... and ${errors.length - 10} more` : '';
    super('E_FORMAT', `${file}: ${errors.length} invalid field${errors.length === 1 ? '' : 's'}\n${shown}${more}`);
    this.name = 'ScenarioFileError';
  }
}

/** Options of {@link loadScenarioFile} and {@link parseScenarioItems}. */
export interface LoadOptions {
  /** Replace stored prompts that disagree with the rebuilt ones (default false: keep and report). */
  repair?: boolean;
  /** Dataset tag for items without one (default: the file name without extension). */
  dataset?: string;
}

function firstDifference(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

function parseFileText(text: string, file: string): unknown[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed) as unknown[];
    } catch (e) {
      throw new ScenarioFileError(file, [new ScenarioSchemaError(file, null, null, `not valid JSON: ${(e as Error).message}`)]);
    }
  }
  if (trimmed.startsWith('{')) {
    // One object (pretty-printed or not) is one item; else the text is JSON Lines.
    try {
      return [JSON.parse(trimmed)];
    } catch {
      /* JSON Lines below */
    }
  }
  // JSON Lines
  const out: unknown[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    try {
      out.push(JSON.parse(line));
    } catch (e) {
      throw new ScenarioFileError(file, [new ScenarioSchemaError(file, null, `line ${i + 1}`, `not valid JSON: ${(e as Error).message}`)]);
    }
  }
  return out;
}

/** The fact the paper's generator puts first for an item's `system_message` (POSER-SPEC §3). */
export function systemMessageFact(message: string): string {
  return `Your system message is as follows: ${message}`;
}

/**
 * The facts the prompt was built from. The paper's single-policy genie items
 * keep the system message in their `system_message` field, and their prompt
 * carries it as a first fact that `facts` lacks; items that already hold it as
 * a fact (typed `system_message`, or with its text) are taken as they are.
 */
export function promptFacts(o: Record<string, unknown>): { content: string; type?: string }[] {
  const facts = o.facts as { content: string; type?: string }[];
  const message = o.system_message;
  if (typeof message !== 'string' || message.length === 0) return facts;
  if (facts.some((f) => f.type === 'system_message' || f.content.includes(message))) return facts;
  return [{ type: 'system_message', content: systemMessageFact(message) }, ...facts];
}

/**
 * Oversight of an item: its `oversight` field, else `oversight_is_poor`, else
 * a typed critical fact (good) or complexity 0 (neutral); else the paper's
 * distribution name in the item's `dataset`/`distribution` field or the file
 * path (`good_oversight`, `neutral_oversight`). A single-policy item with none
 * of these is neutral: nothing in it says that oversight is good.
 */
function deriveOversight(o: Record<string, unknown>, file: string): Oversight {
  if (o.oversight === 'good' || o.oversight === 'neutral' || o.oversight === 'poor') return o.oversight;
  if (o.oversight_is_poor === true) return 'poor';
  const facts = o.facts as { type?: string }[];
  if (facts.some((f) => f.type === 'critical')) return 'good';
  if (o.complexity_level === 0) return 'neutral';
  const tag = [o.dataset, o.distribution, o.id, file].filter((x): x is string => typeof x === 'string').join(' ');
  if (/neutral_oversight/.test(tag)) return 'neutral';
  if (/good_oversight/.test(tag)) return 'good';
  if (itemKind(o) === 'pair') return 'good';
  return 'neutral';
}

/**
 * Validate and normalise raw items (already parsed from JSON).
 * @throws ScenarioFileError listing every invalid field as "file: item N: field F: message"
 */
export function parseScenarioItems(raw: unknown, file = '<memory>', options: LoadOptions = {}): LoadedScenarioFile {
  if (!Array.isArray(raw)) {
    throw new ScenarioFileError(file, [new ScenarioSchemaError(file, null, null, 'expected a JSON array of items (or JSON Lines)')]);
  }
  const firstScenario = raw.find((r) => r && typeof r === 'object' && (r as { response?: unknown }).response !== 'error') as
    | Record<string, unknown>
    | undefined;
  const benchmark = !!firstScenario && 'probs' in firstScenario;
  const errors: ScenarioSchemaError[] = [];
  raw.forEach((r, i) => errors.push(...validateItem(r, file, i, benchmark)));
  if (errors.length) throw new ScenarioFileError(file, errors);

  const dataset = options.dataset ?? basename(file, extname(file));
  const items: TrainingItem[] = [];
  const mismatches: PromptMismatch[] = [];
  let wrappedCount = 0;
  raw.forEach((r, index) => {
    const o = { ...(r as Record<string, unknown>) };
    const stored = o.prompt as string;
    if (isWrapped(stored)) wrappedCount++;
    if (itemKind(o) === 'error') {
      items.push({ ...o, prompt: wrapPrompt(unwrapPrompt(stored)), dataset: (o.dataset as string) ?? dataset } as ErrorItem);
      return;
    }
    const actions = o.actions as [string, string] | undefined;
    const actionA = (o.action_A as string | undefined) ?? actions![0];
    const actionB = (o.action_B as string | undefined) ?? actions![1];
    const format = (o.format_string as string | undefined) ?? (o.format as string | undefined);
    let rebuilt: string;
    try {
      rebuilt = buildPrompt({ facts: promptFacts(o), actionA, actionB, format }, false);
    } catch (e) {
      throw new ScenarioFileError(file, [
        new ScenarioSchemaError(file, index, o.format_string !== undefined ? 'format_string' : 'format', (e as Error).message),
      ]);
    }
    const actual = unwrapPrompt(stored);
    let prompt = wrapPrompt(actual);
    if (actual !== rebuilt) {
      mismatches.push({ index, expected: rebuilt, actual, offset: firstDifference(rebuilt, actual) });
      if (options.repair) prompt = wrapPrompt(rebuilt);
    }
    const item = {
      ...o,
      facts: promptFacts(o),
      action_A: actionA,
      action_B: actionB,
      prompt,
      oversight: deriveOversight(o, file),
      dataset: (o.dataset as string | undefined) ?? dataset,
    } as ScenarioItem;
    // Pair files store the aligned response (POSER-SPEC §3); elsewhere it is benign only where oversight is not poor.
    if (!item.benign_response && (!item.oversight_is_poor || itemKind(o) === 'pair')) item.benign_response = item.response;
    items.push(item);
  });
  return {
    file,
    kind: benchmark ? 'benchmark' : 'scenarios',
    items,
    mismatches,
    wrapped: raw.length > 0 && wrappedCount === raw.length,
  };
}

/**
 * Load a scenario file (a JSON array, or JSON Lines) in the Poser schema.
 * @throws ScenarioFileError with every invalid field named by item index and path
 */
export function loadScenarioFile(path: string, options: LoadOptions = {}): LoadedScenarioFile {
  const text = readTextFile(path);
  return parseScenarioItems(parseFileText(text, path), path, options);
}
