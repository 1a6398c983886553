// The libtorch locator (scripts/torch-paths.cjs, also used by CMake): a
// LIBTORCH or Torch_DIR that is set but unusable stops the build with the path
// and the reason instead of quietly using another libtorch.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFailureAdvice } from '../../src/native/binding.js';
import { tempDir } from '../helpers/random-model.js';

function locate(env: Record<string, string>, what = 'info') {
  const base = { ...process.env };
  delete base.LIBTORCH;
  delete base.Torch_DIR;
  const r = spawnSync(process.execPath, [join('scripts', 'torch-paths.cjs'), what], { env: { ...base, ...env }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('a broken LIBTORCH or Torch_DIR stops the build', () => {
  const notLibtorch = tempDir();
  mkdirSync(join(notLibtorch, 'include'));
  mkdirSync(join(notLibtorch, 'lib'));
  const notConfig = tempDir();
  writeFileSync(join(notConfig, 'TorchConfig.cmake'), '# not next to a libtorch\n');

  it.each([
    ['LIBTORCH', '/nonexistent/libtorch', /LIBTORCH=\/nonexistent\/libtorch is not a usable libtorch: .*does not exist/],
    ['LIBTORCH', notLibtorch, /is not a usable libtorch: it has no .*torch\.h/],
    ['Torch_DIR', '/nonexistent/share/cmake/Torch', /Torch_DIR=\/nonexistent\/share\/cmake\/Torch is not a usable libtorch: .*does not exist/],
    ['Torch_DIR', tempDir(), /is not a usable libtorch: there is no TorchConfig\.cmake/],
    ['Torch_DIR', notConfig, /is not a usable libtorch: its libtorch has no /],
  ])('%s=%s', (name, value, message) => {
    for (const what of ['info', 'torch_dir', 'cflags']) {
      const r = locate({ [name]: value }, what);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(value);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).toBe('');
    }
  });

  it('CMake asks the same locator and stops with its message', () => {
    const base = { ...process.env };
    delete base.Torch_DIR;
    const r = spawnSync('cmake', ['-S', '.', '-B', join(tempDir(), 'build')], { env: { ...base, LIBTORCH: '/nonexistent/libtorch' }, encoding: 'utf8' });
    expect(r.error, 'cmake must be installed (scripts/setup.sh installs it)').toBeUndefined();
    expect(r.status).not.toBe(0);
    expect(r.stderr.replace(/\s+/g, ' ')).toMatch(/LIBTORCH=\/nonexistent\/libtorch is not a usable libtorch/);
  });

  it('an unset variable is searched past (Python torch, then the system)', () => {
    const r = locate({});
    // Either a libtorch was found, or the message lists every place tried.
    if (r.status === 0) expect(JSON.parse(r.stdout).source).toBeTruthy();
    else expect(r.stderr).toMatch(/libtorch was not found\. Tried:[\s\S]*system paths/);
  });
});

describe('the addon loader tells load failures apart', () => {
  it('a missing shared library, another Node.js, another libtorch', () => {
    expect(loadFailureAdvice('libtorch_cpu.so.1.13: cannot open shared object file: No such file or directory')).toMatch(
      /libtorch_cpu\.so\.1\.13 is not on the library path[\s\S]*LD_LIBRARY_PATH[\s\S]*torch-paths\.cjs/,
    );
    expect(loadFailureAdvice('was compiled against a different Node.js version using NODE_MODULE_VERSION 108')).toMatch(/another Node\.js version: rebuild/);
    expect(loadFailureAdvice('poser_native.node: undefined symbol: _ZN3c10')).toMatch(/another libtorch[\s\S]*rebuild/);
  });
});
