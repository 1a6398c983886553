/**
 * Whole-directory atomic replacement, for saving a model (config, weights,
 * shards, tokenizer) as one unit.
 *
 * The new tree is written into a fresh sibling `.<name>.poser-tmp-<pid>-<random>`,
 * every file and directory in it is fsynced, and it then takes the target's
 * name in one step: rename() when the target is absent, an atomic exchange
 * (renameat2 RENAME_EXCHANGE) when present. After a kill at any instant the
 * target is the complete old tree or the complete new one, and nothing of the
 * old tree survives in the new one. The old tree, now under the temporary
 * name, is deleted afterwards (or, if killed first, by the next save).
 *
 * Saves to one target are serialized by `.<name>.poser-lock` beside it: an
 * flock() lock, which the kernel drops when its owner dies, so a killed saver
 * never blocks the next one. A second concurrent save is refused (E_STATE).
 */
import { cpSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { PoserError } from '../errors.js';
import { binding } from '../native/binding.js';
import { fsyncPath } from './atomic.js';

export interface ReplaceDirectoryOptions {
  /**
   * Called with an existing, non-empty target before anything is written; it
   * throws to refuse replacing it (e.g. a directory that is not a model).
   */
  checkReplaceable?: (target: string) => void;
}

/** fsync every file and directory under `dir`, deepest first, then `dir`. */
function fsyncTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) fsyncTree(path);
    else if (entry.isFile()) fsyncPath(path);
  }
  fsyncPath(dir);
}

function ioError(target: string, what: string, error: unknown): PoserError {
  if (error instanceof PoserError) return error;
  return new PoserError('E_IO', `${target}: cannot ${what}: ${(error as Error).message}`, { cause: error });
}

function removeQuietly(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
  } catch {
    // left for the next save's cleanup of stale temporaries
  }
}

function exchange(a: string, b: string): void {
  try {
    binding().exchangePaths(a, b);
  } catch (error) {
    throw PoserError.fromNative(error);
  }
}

/** The names used beside `target` (absolute, symlinks resolved). */
function siblings(target: string): { target: string; parent: string; lock: string; tmpPrefix: string } {
  let path = resolve(target);
  if (existsSync(path)) path = realpathSync(path);
  const parent = dirname(path);
  const name = basename(path);
  return { target: path, parent, lock: join(parent, `.${name}.poser-lock`), tmpPrefix: `.${name}.poser-tmp-` };
}

/**
 * Replaces directory `target` by the tree `fill` writes into the directory it
 * is given (with the current target, if any, to carry files over from).
 * Resolves once the new tree is in place and durable.
 */
export async function replaceDirectory(target: string, fill: (dir: string, previous: string | undefined) => Promise<void> | void, options: ReplaceDirectoryOptions = {}): Promise<void> {
  const names = siblings(target);
  try {
    mkdirSync(names.parent, { recursive: true });
  } catch (error) {
    throw ioError(target, 'create its parent directory', error);
  }
  let lockFd: number;
  try {
    lockFd = binding().lockPath(names.lock);
  } catch (error) {
    throw PoserError.fromNative(error);
  }
  let tmp: string | undefined;
  try {
    // Temporaries are only made under the lock, so any found now are stale.
    for (const entry of readdirSync(names.parent)) {
      if (entry.startsWith(names.tmpPrefix)) removeQuietly(join(names.parent, entry));
    }
    const present = existsSync(names.target);
    if (present) {
      if (!lstatSync(names.target).isDirectory()) throw new PoserError('E_IO', `${target}: exists and is not a directory`);
      if (readdirSync(names.target).length > 0) options.checkReplaceable?.(names.target);
    }
    tmp = join(names.parent, `${names.tmpPrefix}${process.pid}-${randomBytes(6).toString('hex')}`);
    try {
      mkdirSync(tmp);
    } catch (error) {
      throw ioError(target, 'create a temporary directory beside it', error);
    }
    await fill(tmp, present ? names.target : undefined);
    try {
      fsyncTree(tmp);
      if (present) exchange(tmp, names.target);
      else renameSync(tmp, names.target);
      fsyncPath(names.parent);
    } catch (error) {
      throw ioError(target, 'put the new directory in place', error);
    }
    // `tmp` now holds the previous tree (or nothing, after a plain rename).
    // The save has succeeded; a tree that cannot be removed now is removed by
    // the next save's cleanup.
    removeQuietly(tmp);
    tmp = undefined;
  } finally {
    if (tmp !== undefined) removeQuietly(tmp);
    binding().unlockPath(lockFd, names.lock);
  }
}

/**
 * Copies `from` (a file or a directory tree) to `to` by hard links where the
 * filesystem allows, else by copying: cheap, and the old tree may be deleted
 * afterwards without touching the new one's names.
 */
export function linkTree(from: string, to: string): void {
  if (lstatSync(from).isDirectory()) {
    mkdirSync(to);
    for (const entry of readdirSync(from)) linkTree(join(from, entry), join(to, entry));
    return;
  }
  try {
    linkSync(from, to);
  } catch {
    cpSync(from, to, { verbatimSymlinks: true });
  }
}
