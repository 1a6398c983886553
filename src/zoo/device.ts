/** The device string of the zoo's commands, normalised (`cuda` is `cuda:0`). */
import { PoserError } from '../errors.js';

export function normalizeDevice(device: string | undefined): string {
  if (!device || device === 'cpu') return 'cpu';
  if (device === 'cuda') return 'cuda:0';
  if (/^cuda:\d+$/.test(device)) return device;
  throw new PoserError('E_ARG', `device must be cpu, cuda or cuda:N, got '${device}'`);
}
