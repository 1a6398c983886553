#!/usr/bin/env node
// The one libtorch locator: the node-gyp build (binding.gyp) asks it for flags,
// and the CMake build (cmake/FindTorchForPoser.cmake) for `torch_dir`. Order:
//   1. LIBTORCH (an unpacked libtorch: include/, include/torch/csrc/api/include, lib/)
//      or Torch_DIR (<root>/share/cmake/Torch, or Debian's <libdir>/cmake/Torch);
//      when set, it must be a usable libtorch: otherwise the build stops with the
//      path and what is missing (a typo must not quietly pick another libtorch),
//   2. the installed Python torch (python3, /usr/bin/python3, python), only when
//      neither LIBTORCH nor Torch_DIR is set; used only if it ships include/ and lib/,
//   3. the system (Debian's libtorch-dev: /usr/include, /usr/lib/<multiarch>).
// Checks the version (>= 1.13) and finds the C++ ABI libtorch was built with.
//
// Usage: node scripts/torch-paths.cjs <what>
//   include_dirs  the include directories, one shell word each
//   cflags        the same as -isystem flags (compiler default directories left out)
//   defines       _GLIBCXX_USE_CXX11_ABI=0|1
//   library_dirs  the library directory
//   libraries     -ltorch -ltorch_cpu -lc10 (+ torch_cuda, c10_cuda when present)
//   ldflags       the run-time search path (-Wl,-rpath,<libdir>) unless it is a system one
//   torch_dir     the directory of TorchConfig.cmake, for CMake's find_package(Torch)
//   info          everything above as JSON (the default)
// Words are printed shell-quoted, as gyp splits command output like sh does.
// On failure, prints what was tried and how to fix it to stderr and exits 1.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const MIN_VERSION = [1, 13];
const MULTIARCH = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', ppc64: 'powerpc64le-linux-gnu', s390x: 's390x-linux-gnu' }[process.arch] ?? `${process.arch}-linux-gnu`;
const DEFAULT_INCLUDE_DIRS = new Set(['/usr/include', '/usr/local/include']);
const SYSTEM_LIB_DIRS = new Set(['/lib', '/usr/lib', '/lib64', '/usr/lib64', `/lib/${MULTIARCH}`, `/usr/lib/${MULTIARCH}`]);

const isFile = (p) => {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
};
const isDir = (p) => {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
};

const API_INCLUDE = path.join('torch', 'csrc', 'api', 'include');
const hasHeaders = (includeDir) => isFile(path.join(includeDir, API_INCLUDE, 'torch', 'torch.h'));
const hasLibs = (libDir) => isFile(path.join(libDir, 'libtorch.so')) && isFile(path.join(libDir, 'libc10.so'));

/** The ABI from a TorchConfig.cmake (TORCH_CXX_FLAGS), or null. */
function abiFromConfig(configDir) {
  try {
    const text = fs.readFileSync(path.join(configDir, 'TorchConfig.cmake'), 'utf8');
    const m = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(text);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The ABI from libc10's exported symbols (std::__cxx11:: appears only with the new ABI), or null. */
function abiFromSymbols(libDir) {
  const r = spawnSync('nm', ['-D', '--defined-only', path.join(libDir, 'libc10.so')], { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.status !== 0 || !r.stdout) return null;
  return r.stdout.includes('__cxx11') ? 1 : 0;
}

/** The version from torch/csrc/api/include/torch/version.h, or null. */
function headerVersion(includeDir) {
  try {
    const text = fs.readFileSync(path.join(includeDir, API_INCLUDE, 'torch', 'version.h'), 'utf8');
    const major = /TORCH_VERSION_MAJOR\s+(\d+)/.exec(text);
    const minor = /TORCH_VERSION_MINOR\s+(\d+)/.exec(text);
    const patch = /TORCH_VERSION_PATCH\s+(\d+)/.exec(text);
    if (!major || !minor) return null;
    return `${major[1]}.${minor[1]}${patch ? `.${patch[1]}` : ''}`;
  } catch {
    return null;
  }
}

/** A usable libtorch from an include root and a library directory, or a reason it is not. */
function candidate(source, includeRoot, libDir, abi, cmakeDir) {
  if (!hasHeaders(includeRoot)) return { problem: `no ${path.join(includeRoot, API_INCLUDE, 'torch', 'torch.h')}` };
  if (!hasLibs(libDir)) return { problem: `no libtorch.so and libc10.so in ${libDir}` };
  // Distribution packages (Debian's python3-torch) link include/ and lib/ into the
  // system directories: use those, so that no rpath or -isystem /usr/include is added.
  const realLib = path.dirname(fs.realpathSync(path.join(libDir, 'libtorch.so')));
  if (realLib !== libDir && hasLibs(realLib)) libDir = realLib;
  const realInclude = path.dirname(fs.realpathSync(path.join(includeRoot, 'torch')));
  if (realInclude !== includeRoot && hasHeaders(realInclude) && isDir(path.join(realInclude, 'ATen')) && isDir(path.join(realInclude, 'c10'))) {
    includeRoot = realInclude;
  }
  return {
    found: {
      source,
      includeDirs: [includeRoot, path.join(includeRoot, API_INCLUDE)],
      libDir,
      abi: abi ?? abiFromSymbols(libDir) ?? 1,
      version: headerVersion(includeRoot),
      cmakeDir: cmakeDir && isFile(path.join(cmakeDir, 'TorchConfig.cmake')) ? cmakeDir : null,
    },
  };
}

function fromPython(python) {
  const code =
    'import json, os, torch; ' +
    'print(json.dumps({"dir": os.path.dirname(torch.__file__), "abi": int(torch._C._GLIBCXX_USE_CXX11_ABI), "version": torch.__version__}))';
  const r = spawnSync(python, ['-c', code], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) return { problem: r.error.code === 'ENOENT' ? 'not installed' : r.error.message };
  if (r.status !== 0) return { problem: 'no torch module' };
  let info;
  try {
    info = JSON.parse(r.stdout.trim().split('\n').pop());
  } catch {
    return { problem: 'unreadable answer from torch' };
  }
  const c = candidate(`Python torch ${info.version} (${python})`, path.join(info.dir, 'include'), path.join(info.dir, 'lib'), info.abi, path.join(info.dir, 'share', 'cmake', 'Torch'));
  if (c.problem) c.problem = `torch at ${info.dir} has ${c.problem}`;
  return c;
}

function locate() {
  const tried = [];
  const env = (name) => (process.env[name] && process.env[name].trim() !== '' ? process.env[name] : undefined);

  const libtorch = env('LIBTORCH');
  if (libtorch) {
    const root = path.resolve(libtorch);
    const cmakeDir = path.join(root, 'share', 'cmake', 'Torch');
    if (!isDir(root)) notLibtorch('LIBTORCH', libtorch, `${root} does not exist or is not a directory`);
    const c = candidate(`LIBTORCH=${libtorch}`, path.join(root, 'include'), path.join(root, 'lib'), abiFromConfig(cmakeDir), cmakeDir);
    if (c.found) return c.found;
    notLibtorch('LIBTORCH', libtorch, `it has ${c.problem}`);
  }

  const torchDir = env('Torch_DIR');
  if (torchDir) {
    const dir = path.resolve(torchDir);
    if (!isDir(dir)) notLibtorch('Torch_DIR', torchDir, `${dir} does not exist or is not a directory`);
    if (!isFile(path.join(dir, 'TorchConfig.cmake'))) notLibtorch('Torch_DIR', torchDir, `there is no TorchConfig.cmake in ${dir}`);
    const abi = abiFromConfig(dir);
    // <root>/share/cmake/Torch (libtorch, pip), or <root>/lib/<multiarch>/cmake/Torch (Debian).
    const layouts = [
      [path.resolve(dir, '../../..'), path.resolve(dir, '../../../lib')],
      [path.resolve(dir, '../../../..'), path.resolve(dir, '../..')],
    ];
    let problem;
    for (const [root, libDir] of layouts) {
      const c = candidate(`Torch_DIR=${torchDir}`, path.join(root, 'include'), libDir, abi, dir);
      if (c.found) return c.found;
      problem ??= c.problem;
    }
    notLibtorch('Torch_DIR', torchDir, `its libtorch has ${problem}`);
  }

  {
    for (const python of ['python3', '/usr/bin/python3', 'python']) {
      const c = fromPython(python);
      if (c.found) return c.found;
      tried.push(`Python torch via '${python}': ${c.problem}`);
    }
  }

  const sysLib = `/usr/lib/${MULTIARCH}`;
  const c = candidate('system (libtorch-dev)', '/usr/include', sysLib, abiFromConfig(path.join(sysLib, 'cmake', 'Torch')), path.join(sysLib, 'cmake', 'Torch'));
  if (c.found) return c.found;
  tried.push(`system paths (Debian libtorch-dev: /usr/include, ${sysLib}): ${c.problem}`);
  fail(
    `poser-torch: libtorch was not found. Tried:\n${tried.map((t) => `  - ${t}`).join('\n')}\n` +
      'Fix it with one of:\n' +
      '  sudo apt-get install -y libtorch-dev libopenblas0-openmp   # Debian/Ubuntu, CPU\n' +
      '  pip install torch                                            # then rebuild: npm rebuild poser-torch\n' +
      '  export LIBTORCH=/path/to/libtorch                            # an unpacked libtorch archive\n',
  );
}

/** A LIBTORCH or Torch_DIR that is set but unusable stops the build: no silent fallback. */
function notLibtorch(variable, value, why) {
  fail(
    `poser-torch: ${variable}=${value} is not a usable libtorch: ${why}.\n` +
      (variable === 'LIBTORCH'
        ? 'LIBTORCH must name an unpacked libtorch (the directory holding include/ and lib/).\n'
        : 'Torch_DIR must name the directory holding TorchConfig.cmake (<libtorch>/share/cmake/Torch).\n') +
      `Correct it, or unset ${variable} to use the Python torch or the system libtorch.\n`,
  );
}

function fail(message) {
  process.stderr.write(message.endsWith('\n') ? message : `${message}\n`);
  process.exit(1);
}

function tooOld(version) {
  const [major, minor] = version.split('.').map(Number);
  return major < MIN_VERSION[0] || (major === MIN_VERSION[0] && minor < MIN_VERSION[1]);
}

function libraries(libDir) {
  const names = ['torch', 'torch_cpu', 'c10'];
  for (const extra of ['torch_cuda', 'torch_cuda_cu', 'torch_cuda_cpp', 'c10_cuda']) {
    if (isFile(path.join(libDir, `lib${extra}.so`))) names.push(extra);
  }
  // libtorch_cuda only registers the CUDA backend from its static initialisers,
  // so keep it linked even though nothing references it directly.
  return ['-Wl,--no-as-needed', ...names.map((n) => `-l${n}`), '-Wl,--as-needed'];
}

/** One shell word, as gyp splits command output with shlex. */
function quote(word) {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function main() {
  const what = process.argv[2] ?? 'info';
  const known = ['include_dirs', 'cflags', 'defines', 'library_dirs', 'libraries', 'ldflags', 'torch_dir', 'info'];
  if (!known.includes(what)) fail(`torch-paths: unknown request '${what}' (one of: ${known.join(', ')})`);

  const torch = locate();
  if (torch.version && tooOld(torch.version)) {
    fail(`poser-torch: libtorch ${torch.version} found (${torch.source}) is too old; ${MIN_VERSION.join('.')} or newer is needed.`);
  }
  const out = {
    source: torch.source,
    version: torch.version,
    include_dirs: torch.includeDirs,
    cflags: torch.includeDirs.filter((d) => !DEFAULT_INCLUDE_DIRS.has(d)).flatMap((d) => ['-isystem', d]),
    defines: [`_GLIBCXX_USE_CXX11_ABI=${torch.abi}`],
    library_dirs: [torch.libDir],
    libraries: libraries(torch.libDir),
    ldflags: SYSTEM_LIB_DIRS.has(torch.libDir) ? [] : [`-Wl,-rpath,${torch.libDir}`],
    torch_dir: torch.cmakeDir,
  };
  if (what === 'torch_dir') {
    if (!torch.cmakeDir) fail(`poser-torch: the libtorch found (${torch.source}) has no TorchConfig.cmake, which the CMake build needs; use node-gyp (npx node-gyp rebuild) or set LIBTORCH.`);
    // Unquoted: CMake reads the whole line as one path.
    process.stdout.write(`${torch.cmakeDir}\n`);
  } else if (what === 'info') {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    process.stdout.write(`${out[what].map(quote).join(' ')}\n`);
  }
}

main();
