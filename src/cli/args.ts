/** Argument parsers shared by the command-line commands. */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { parseDevice } from '../device.js';
import { PoserError } from '../errors.js';

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

/** Where every zoo command looks for (or builds) the zoo unless `--zoo` says otherwise. */
export const DEFAULT_ZOO = 'models/zoo';

/**
 * Adds `--zoo <dir>`, and the command's former name for it (`--out` or
 * `--dir`) as a hidden alias so that old command lines keep working.
 */
export function addZooOption(command: Command, alias?: '--out' | '--dir'): Command {
  command.option('--zoo <dir>', `zoo directory (default: ${DEFAULT_ZOO})`);
  if (alias) command.addOption(new Option(`${alias} <dir>`, 'former name of --zoo').hideHelp());
  return command;
}

/** The zoo directory from `--zoo` or its alias; both given and different is an error. */
export function zooDir(flags: { zoo?: string }, alias?: string): string {
  if (flags.zoo !== undefined && alias !== undefined && flags.zoo !== alias) {
    throw new PoserError('E_ARG', `--zoo ${flags.zoo} and its former name (${alias}) disagree; give --zoo only`);
  }
  return flags.zoo ?? alias ?? DEFAULT_ZOO;
}
