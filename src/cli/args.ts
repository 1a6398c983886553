/** Argument parsers shared by the command-line commands. */
import { InvalidArgumentError } from 'commander';

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

/** `cpu`, `cuda` or `cuda:N`. */
export function deviceArg(value: string): string {
  if (!/^(cpu|cuda(:\d+)?)$/.test(value)) throw new InvalidArgumentError(`device must be cpu, cuda or cuda:N, got "${value}"`);
  return value;
}
