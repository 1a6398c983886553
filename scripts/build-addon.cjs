#!/usr/bin/env node
// Builds the native addon with cmake-js into build-cmake/: the package's install
// step (so also `npm rebuild poser-torch`) and `npm run build:native`.
//
// cmake-js answers a failed build with a clean rebuild, and its clean deletes the
// build directory, addon included. So the addon that was there is set aside
// first and put back if the build fails: a failed rebuild leaves the working
// addon in place (and still exits non-zero). Extra arguments go to cmake-js.
//
// The Node headers come from the node-api-headers package (package.json's
// binary.napi_versions puts cmake-js in Node-API mode): nothing is downloaded.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const addon = path.join(root, 'build-cmake', 'Release', 'poser_native.node');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });

let backup;
if (fs.existsSync(addon)) {
  backup = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'poser-addon-')), 'poser_native.node');
  fs.cpSync(addon, backup, { preserveTimestamps: true });
}

const args = [cmakeJs, 'compile', '--out', 'build-cmake', ...process.argv.slice(2)];
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
const ok = result.status === 0;

if (backup) {
  if (!ok) {
    fs.mkdirSync(path.dirname(addon), { recursive: true });
    // Through a temporary name and a rename, so the loader never sees half a file.
    fs.cpSync(backup, `${addon}.tmp`, { preserveTimestamps: true });
    fs.renameSync(`${addon}.tmp`, addon);
    console.error(`poser-torch: the addon build failed; the previous addon is kept at ${addon}`);
  }
  fs.rmSync(path.dirname(backup), { recursive: true, force: true });
}
if (result.error) console.error(`poser-torch: could not run cmake-js: ${result.error.message}`);
process.exit(ok ? 0 : (result.status ?? 1));
