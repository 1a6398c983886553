/** The device string of the zoo's commands, normalised (`cuda` is `cuda:0`). */
import { parseDevice } from '../device.js';

/** The device string of the zoo's commands, normalised (`cuda` is `cuda:0`). */
export function normalizeDevice(device: string | undefined): string {
  return parseDevice(device).name;
}
