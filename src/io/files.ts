/** File reads and directory creation that fail as PoserErrors naming the path. */
import { mkdirSync, readFileSync } from 'node:fs';
import { PoserError } from '../errors.js';

/** `mkdir -p`; E_IO naming the directory when it cannot be made. */
export function ensureDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new PoserError('E_IO', `${dir}: cannot create directory: ${(error as Error).message}`, { cause: error });
  }
}

/** The text of a file; E_IO naming the file when it cannot be read. */
export function readTextFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new PoserError('E_IO', `${path}: cannot read: ${(error as Error).message}`, { cause: error });
  }
}

/** A parsed JSON file: E_IO when unreadable, E_FORMAT naming the file when not JSON. */
export function readJsonFile(path: string): unknown {
  const text = readTextFile(path);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PoserError('E_FORMAT', `${path}: not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}
