import { PoserError } from '../errors.js';

/** Sub-hooks of each decoder block, in call order. */
export const BLOCK_HOOKS = ['resid_pre', 'attn_out', 'resid_mid', 'mlp_in', 'mlp_out', 'resid_post'] as const;
/** The sub-hook of a decoder block, e.g. `resid_post`. */
export type BlockHookKind = (typeof BLOCK_HOOKS)[number];

/** Every hook point of a model with `numLayers` blocks, in call order. */
export function hookNames(numLayers: number): string[] {
  const names = ['hook_embed'];
  for (let i = 0; i < numLayers; i++) for (const kind of BLOCK_HOOKS) names.push(`blocks.${i}.hook_${kind}`);
  names.push('ln_final.hook_normalized');
  return names;
}

/** The residual stream after block `layer` (HF `hidden_states[layer + 1]`). */
export function residPost(layer: number): string {
  return `blocks.${layer}.hook_resid_post`;
}

/** The name of hook `kind` of block `layer`, e.g. `blocks.2.hook_mlp_out`. */
export function blockHook(layer: number, kind: BlockHookKind): string {
  return `blocks.${layer}.hook_${kind}`;
}

/** A hook name taken apart by {@link parseHook}. */
export interface ParsedHook {
  name: string;
  /** Block index; -1 for `hook_embed`, numLayers for `ln_final.hook_normalized`. */
  layer: number;
  kind: BlockHookKind | 'embed' | 'final';
}

const BLOCK_RE = /^blocks\.(\d+)\.hook_(resid_pre|attn_out|resid_mid|mlp_in|mlp_out|resid_post)$/;

/** Parses and checks a hook name against a model depth; errors name the hook. */
export function parseHook(name: string, numLayers: number): ParsedHook {
  if (name === 'hook_embed') return { name, layer: -1, kind: 'embed' };
  if (name === 'ln_final.hook_normalized') return { name, layer: numLayers, kind: 'final' };
  const m = BLOCK_RE.exec(name);
  if (!m) {
    throw new PoserError(
      'E_ARG',
      `unknown hook '${name}' (expected hook_embed, blocks.{i}.hook_{${BLOCK_HOOKS.join('|')}} or ln_final.hook_normalized)`,
    );
  }
  const layer = Number(m[1]);
  if (layer >= numLayers)
    throw new PoserError('E_ARG', `hook '${name}': layer ${layer} out of range (the model has ${numLayers} layers: 0..${numLayers - 1})`);
  return { name, layer, kind: m[2] as BlockHookKind };
}
