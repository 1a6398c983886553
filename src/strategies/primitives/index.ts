/**
 * Building blocks of the detection strategies. Each is small and usable on its
 * own, so that a new strategy can be written from the same parts: batched
 * answer probabilities (plain, or under many intervention settings at once),
 * last-token activations, mean activations and contrast vectors, vector
 * arithmetic, seeded splits, and the checks of a strategy's inputs.
 */
export * from './computes.js';
export * from './batching.js';
export * from './layers.js';
export * from './answers.js';
export * from './activations.js';
export * from './vectors.js';
export * from './stats.js';
export * from './sampling.js';
export * from './inputs.js';
