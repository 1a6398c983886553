import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockZoo } from '../../src/zoo/lock.js';

describe('zoo build lock', () => {
  it('is held by this process until released, refused while a live owner holds it, and taken over from a dead one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'poser-lock-'));
    const path = join(dir, 'build.lock');

    const release = lockZoo(dir);
    expect(readFileSync(path, 'utf8')).toBe(String(process.pid));
    release();
    expect(existsSync(path)).toBe(false);

    writeFileSync(path, String(process.ppid));
    expect(() => lockZoo(dir)).toThrow(expect.objectContaining({ code: 'E_STATE', message: expect.stringContaining(`another build (process ${process.ppid})`) }));
    expect(readFileSync(path, 'utf8')).toBe(String(process.ppid));

    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(path, String(dead));
    lockZoo(dir)();
    expect(existsSync(path)).toBe(false);
  });

  it('names the directory when the lock cannot be written', () => {
    const missing = join(tmpdir(), 'poser-lock-missing', 'zoo');
    expect(() => lockZoo(missing)).toThrow(expect.objectContaining({ code: 'E_IO', message: expect.stringContaining(missing) }));
  });
});
