/** What the model primitives ask of a model. */
import type { Subject } from '../subject.js';

/**
 * What a primitive needs of a model: a blind {@link Subject} or a `Model`
 * (both have these members), so the primitives compose outside strategies too.
 */
export type Computes<K extends keyof Subject> = Pick<Subject, K>;
