/**
 * Writes that never leave a half-written file: write a temporary file beside
 * the target, then rename it over the target.
 */
import { copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

function throughTemp(path: string, write: (tmp: string) => void): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    write(tmp);
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  throughTemp(path, (tmp) => writeFileSync(tmp, data));
}

export function copyFileAtomic(source: string, path: string): void {
  throughTemp(path, (tmp) => copyFileSync(source, tmp));
}
