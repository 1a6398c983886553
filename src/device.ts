// Device names, parsed once for the CLI, the zoo and the model; the native
// core receives the parsed form and only checks that the device exists.
import { PoserError } from './errors.js';

/** A parsed device: `cpu`, or a CUDA device with its index. */
export interface Device {
  type: 'cpu' | 'cuda';
  index: number;
  /** The canonical name: `cpu` or `cuda:N`. */
  name: string;
}

/** `cpu`, `cuda` (= `cuda:0`) or `cuda:N`; anything else is E_ARG naming the input. */
export function parseDevice(value: unknown): Device {
  if (value === undefined || value === 'cpu') return { type: 'cpu', index: 0, name: 'cpu' };
  const m = typeof value === 'string' ? /^cuda(?::(\d{1,3}))?$/.exec(value) : null;
  if (!m) throw new PoserError('E_ARG', `device must be cpu, cuda or cuda:N, got ${JSON.stringify(value)}`);
  const index = m[1] === undefined ? 0 : Number(m[1]);
  return { type: 'cuda', index, name: `cuda:${index}` };
}
