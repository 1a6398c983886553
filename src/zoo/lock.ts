/**
 * The build lock: one build at a time in a zoo directory. The lock file holds
 * the owner's process id, so the lock of a build that died is taken over.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PoserError } from '../errors.js';

/** Takes `<dir>/build.lock` (a second build in the same directory is refused; a dead owner's lock is taken over) and returns its release. */
export function lockZoo(dir: string): () => void {
  const path = join(dir, 'build.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new PoserError('E_IO', `${path}: cannot create the build lock: ${(error as Error).message}`, { cause: error });
      const owner = Number(readFileSync(path, 'utf8'));
      if (ownerAlive(owner)) throw new PoserError('E_STATE', `another build (process ${owner}) is running in ${dir}; wait for it or stop it (${path})`);
      rmSync(path, { force: true });
    }
  }
  throw new PoserError('E_STATE', `cannot lock ${path}`);
}

/** Whether the process `owner` (another than this one) is alive. */
function ownerAlive(owner: number): boolean {
  if (!(owner > 0) || owner === process.pid) return false;
  try {
    process.kill(owner, 0);
    return true;
  } catch {
    return false;
  }
}
