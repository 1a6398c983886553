// The device string of the zoo's commands.
import { PoserError } from '../errors.js';

/** The device string of the zoo's commands, normalised (`cuda` is `cuda:0`); anything else than cpu, cuda or cuda:N is an E_ARG error. */
export function normalizeDevice(device: string | undefined): string {
  if (!device || device === 'cpu') return 'cpu';
  if (device === 'cuda') return 'cuda:0';
  if (/^cuda:\d+$/.test(device)) return device;
  throw new PoserError('E_ARG', `device must be cpu, cuda or cuda:N, got '${device}'`);
}
