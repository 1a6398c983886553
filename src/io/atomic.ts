/**
 * Writes that never leave a half-written file: write a uniquely named
 * temporary file beside the target, fsync it, rename it over the target, and
 * fsync the directory so the rename itself survives a crash.
 */
import { closeSync, copyFileSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { PoserError } from '../errors.js';

/** `<name>.tmp-<pid>-<random>`: unique across processes and across calls in one process. */
export function temporaryName(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** Whether a process with this id is running (EPERM: it runs under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes `<file>.tmp-<pid>-*` left beside `path` by processes that died mid-write. */
export function removeStaleTemporaries(path: string): void {
  const prefix = `${basename(path)}.tmp-`;
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-/.exec(name.slice(prefix.length))?.[1]);
    if (Number.isInteger(pid) && !processAlive(pid)) rmSync(join(dirname(path), name), { force: true, recursive: true });
  }
}

/** fsync a file or a directory by path. */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function ioError(what: string, path: string, error: unknown): PoserError {
  if (error instanceof PoserError) return error;
  return new PoserError('E_IO', `${path}: cannot ${what}: ${(error as Error).message}`, { cause: error });
}

function throughTemp(path: string, write: (tmp: string) => void): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
  } catch (error) {
    throw ioError('create its directory', path, error);
  }
  removeStaleTemporaries(path);
  const tmp = temporaryName(path);
  try {
    write(tmp);
    fsyncPath(tmp);
    renameSync(tmp, path);
    fsyncPath(dirname(path));
  } catch (error) {
    rmSync(tmp, { force: true });
    throw ioError('write', path, error);
  }
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  throughTemp(path, (tmp) => writeFileSync(tmp, data));
}

export function copyFileAtomic(source: string, path: string): void {
  throughTemp(path, (tmp) => copyFileSync(source, tmp));
}
