#!/usr/bin/env node
/**
 * The `poser` command line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { PoserError } from '../errors.js';
import { buildInfo, packageRoot } from '../native/binding.js';
import { loadedBlas, openblasCoretype } from '../native/blas.js';
import { registerBenchmarkCommands } from './benchmark.js';
import { registerDataCommands } from './data.js';
import { registerDetectCommand } from './detect.js';
import { registerReportCommand } from './report.js';

const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };

const program = new Command();
program.name('poser').description('Detect alignment-faking language models by reading and manipulating their internals.').version(pkg.version);

program
  .command('info')
  .description('print what the native addon was built against (libtorch, CUDA, threads)')
  .action(() => {
    const info = buildInfo();
    console.log(`libtorch ${info.torchVersion}; CUDA ${info.cudaAvailable ? `available (${info.cudaDeviceCount} devices)` : 'not available'}; C++11 ABI ${info.cxx11Abi ? 'on' : 'off'}`);
    const blas = openblasCoretype();
    console.log(`OpenBLAS kernels: ${blas.coretype ?? 'detected by OpenBLAS'} (${blas.source === 'user' ? 'OPENBLAS_CORETYPE from the environment' : blas.source === 'auto' ? 'chosen from the CPU flags; set OPENBLAS_CORETYPE to override' : 'no choice made'})`);
    console.log(`BLAS loaded: ${loadedBlas() ?? 'unknown (no /proc/self/maps)'}; freed memory kept in the process: ${info.keepsFreedMemory ? 'yes' : 'no'}`);
    console.log(info.parallelInfo.trim());
  });

registerDataCommands(program);
(await import('./zoo.js')).registerZooCommands(program);
registerBenchmarkCommands(program);
registerDetectCommand(program);
registerReportCommand(program);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof PoserError) {
    console.error(`poser: ${error.message} [${error.code}]`);
  } else {
    console.error(`poser: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  }
  process.exitCode = 1;
});
