/** Which layer of a model a strategy reads: the paper's layer scaled by depth, or explicit ones. */
import { check } from '../../errors.js';

/** Depth of the models the paper used (LLaMA-13B). */
export const PAPER_DEPTH = 40;

/**
 * The layer of a model that corresponds to the paper's layer `paperLayer` of a
 * `paperDepth`-layer model: round(paperLayer * numLayers / paperDepth),
 * clamped to [0, numLayers - 1].
 */
export function layerFor(model: { numLayers: number } | number, paperLayer: number, paperDepth: number = PAPER_DEPTH): number {
  const numLayers = typeof model === 'number' ? model : model.numLayers;
  check(Number.isInteger(numLayers) && numLayers > 0, `layerFor: the model must have at least one layer, got ${numLayers}`);
  check(Number.isFinite(paperLayer) && paperLayer >= 0, `layerFor: paperLayer must be a number >= 0, got ${paperLayer}`);
  check(Number.isFinite(paperDepth) && paperDepth > 0, `layerFor: paperDepth must be > 0, got ${paperDepth}`);
  return Math.min(numLayers - 1, Math.max(0, Math.round((paperLayer * numLayers) / paperDepth)));
}

/** Resolves a strategy's layer: an explicit absolute layer (checked), or the paper's layer scaled by depth. */
export function resolveLayer(model: { numLayers: number }, explicit: number | undefined, paperLayer: number, what: string): number {
  if (explicit === undefined) return layerFor(model, paperLayer);
  check(Number.isInteger(explicit) && explicit >= 0 && explicit < model.numLayers,
    `${what}: layer ${explicit} out of range (the model has ${model.numLayers} layers: 0..${model.numLayers - 1})`);
  return explicit;
}

/** The layers a per-layer strategy reads: the given ones (checked), or every block. */
export function resolveLayers(model: { numLayers: number }, layers: readonly number[] | undefined, what: string): number[] {
  if (layers === undefined) return Array.from({ length: model.numLayers }, (_, i) => i);
  check(layers.length > 0, `${what}: at least one layer is needed`);
  layers.forEach((l) => check(Number.isInteger(l) && l >= 0 && l < model.numLayers,
    `${what}: layer ${l} out of range (the model has ${model.numLayers} layers: 0..${model.numLayers - 1})`));
  return [...layers];
}
