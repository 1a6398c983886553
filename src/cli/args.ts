/** Argument parsers shared by the command-line commands. */
import { InvalidArgumentError } from 'commander';
import { parseDevice } from '../device.js';

/** An integer option of at least `min`; the error names the option. */
export function intArg(name: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${value}"`);
    }
    return n;
  };
}

/** `cpu`, `cuda` or `cuda:N` (see parseDevice), as its canonical name. */
export function deviceArg(value: string): string {
  try {
    return parseDevice(value).name;
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}
