/**
 * Every error code, in the order of kErrorCodes in native/core/errors.h (a
 * test compares the two lists).
 */
export const ERROR_CODES = [
  'E_IO',
  'E_FORMAT',
  'E_DTYPE',
  'E_SHAPE',
  'E_UNSUPPORTED',
  'E_ARG',
  'E_DEVICE',
  'E_STATE',
  'E_TORCH',
  'E_DISPOSED',
  'E_MEMORY',
  'E_NATIVE',
  'E_BINDING',
] as const;
/** The code of a {@link PoserError}: what kind of input or state was wrong. */
export type PoserErrorCode = (typeof ERROR_CODES)[number];

/** Every error poser-torch raises: a message for people and a stable `code`. */
export class PoserError extends Error {
  readonly code: PoserErrorCode;

  constructor(code: PoserErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PoserError';
    this.code = code;
  }

  /** Wraps an error rejected by the native addon (which carries `poserCode`). */
  static fromNative(error: unknown): PoserError {
    if (error instanceof PoserError) return error;
    const e = error as { poserCode?: string; message?: string };
    const code = (e?.poserCode ?? 'E_NATIVE') as PoserErrorCode;
    return new PoserError(code, e?.message ?? String(error), { cause: error });
  }
}

/** Throws an `E_ARG` PoserError unless `condition` holds. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new PoserError('E_ARG', message);
}
