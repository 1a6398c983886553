// Hook names (TransformerLens's) and their ordinals. The grammar lives here
// only: the native core receives ordinals.
import { PoserError } from '../errors.js';

/**
 * Sub-hooks of each decoder block, in call order (the order of `BlockHook` in
 * native/core/hooks.h; a test compares them). As in TransformerLens:
 * `hook_mlp_in` is the residual entering ln2 (equal to `hook_resid_mid`
 * unless changed there), `ln1/ln2.hook_normalized` the RMSNorm outputs,
 * `attn.hook_pattern` the post-softmax attention [B, H, Q, K],
 * `attn.hook_z` the per-head output before o_proj [B, T, H, head_dim],
 * `mlp.hook_post` the activation before down_proj [B, T, intermediate].
 */
export const BLOCK_HOOKS = [
  'hook_resid_pre',
  'ln1.hook_normalized',
  'attn.hook_pattern',
  'attn.hook_z',
  'hook_attn_out',
  'hook_resid_mid',
  'hook_mlp_in',
  'ln2.hook_normalized',
  'mlp.hook_post',
  'hook_mlp_out',
  'hook_resid_post',
] as const;
/** The sub-hook of a decoder block, e.g. `resid_post`. */
export type BlockHookKind = (typeof BLOCK_HOOKS)[number];

/** Every hook point of a model with `numLayers` blocks, in call order (index = ordinal). */
export function hookNames(numLayers: number): string[] {
  const names = ['hook_embed'];
  for (let i = 0; i < numLayers; i++) for (const kind of BLOCK_HOOKS) names.push(`blocks.${i}.${kind}`);
  names.push('ln_final.hook_normalized');
  return names;
}

/**
 * The residual stream after block `layer`. It equals Hugging Face's
 * `hidden_states[layer + 1]` for every block but the last: HF's last entry
 * has the final norm applied (that is `ln_final.hook_normalized`).
 */
export function residPost(layer: number): string {
  return `blocks.${layer}.hook_resid_post`;
}

/** The name of hook `kind` of block `layer`, e.g. `blocks.2.hook_mlp_out`. */
export function blockHook(layer: number, kind: BlockHookKind): string {
  return `blocks.${layer}.${kind}`;
}

/** What a hook point holds per position, which fixes an op's vector width. */
export type HookShape = 'hidden' | 'heads' | 'mlp' | 'pattern';

/** A hook name taken apart by {@link parseHook}. */
export interface ParsedHook {
  name: string;
  /** Block index; -1 for `hook_embed`, numLayers for `ln_final.hook_normalized`. */
  layer: number;
  kind: BlockHookKind | 'embed' | 'final';
  /** Position in call order, as the native core numbers hooks. */
  ordinal: number;
  shape: HookShape;
}

const BLOCK_RE = /^blocks\.(\d+)\.(.+)$/;

function shapeOf(kind: ParsedHook['kind']): HookShape {
  if (kind === 'attn.hook_pattern') return 'pattern';
  if (kind === 'attn.hook_z') return 'heads';
  if (kind === 'mlp.hook_post') return 'mlp';
  return 'hidden';
}

/** Parses and checks a hook name against a model depth; errors name the hook. */
export function parseHook(name: string, numLayers: number): ParsedHook {
  if (name === 'hook_embed') return { name, layer: -1, kind: 'embed', ordinal: 0, shape: 'hidden' };
  if (name === 'ln_final.hook_normalized')
    return { name, layer: numLayers, kind: 'final', ordinal: 1 + BLOCK_HOOKS.length * numLayers, shape: 'hidden' };
  const m = typeof name === 'string' ? BLOCK_RE.exec(name) : null;
  const k = m ? BLOCK_HOOKS.indexOf(m[2] as BlockHookKind) : -1;
  if (!m || k < 0 || String(Number(m[1])) !== m[1]) {
    throw new PoserError(
      'E_ARG',
      `unknown hook '${name}' (expected hook_embed, blocks.{i}.{${BLOCK_HOOKS.join('|')}} or ln_final.hook_normalized)`,
    );
  }
  const layer = Number(m[1]);
  if (layer >= numLayers)
    throw new PoserError('E_ARG', `hook '${name}': layer ${layer} out of range (the model has ${numLayers} layers: 0..${numLayers - 1})`);
  const kind = BLOCK_HOOKS[k];
  return { name, layer, kind, ordinal: 1 + BLOCK_HOOKS.length * layer + k, shape: shapeOf(kind) };
}

/** Hook names selected by exact names, `*` wildcards, regular expressions or a predicate. */
export type HookFilter = string | RegExp | ((name: string) => boolean) | readonly (string | RegExp)[];

/** The hooks of `names` that `filter` selects, in call order; E_ARG when a pattern selects none. */
export function selectHooks(names: readonly string[], filter: HookFilter): string[] {
  if (typeof filter === 'function') return names.filter((n) => filter(n));
  const list = Array.isArray(filter) ? filter : [filter as string | RegExp];
  const tests = list.map((p) => {
    if (p instanceof RegExp) return (n: string) => new RegExp(p.source, p.flags.replace(/[gy]/g, '')).test(n);
    if (typeof p !== 'string') throw new PoserError('E_ARG', `hook pattern ${String(p)} is not a string or RegExp`);
    if (!p.includes('*')) return (n: string) => n === p;
    const re = new RegExp(`^${p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    return (n: string) => re.test(n);
  });
  tests.forEach((t, i) => {
    if (!names.some(t)) throw new PoserError('E_ARG', `hook pattern '${String(list[i])}' matches no hook of this model`);
  });
  return names.filter((n) => tests.some((t) => t(n)));
}
