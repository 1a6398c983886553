/**
 * `poser report <results.json>`: renders the HTML report (tables and plots)
 * again from a results.json, e.g. one copied from another machine.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { htmlReport, type BenchmarkResults } from '../benchmark/index.js';
import { PoserError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';

/** Reads results.json, writes the HTML report (default: report.html beside it); returns the path written. */
export async function renderReport(resultsPath: string, out?: string): Promise<string> {
  if (!existsSync(resultsPath)) throw new PoserError('E_IO', `${resultsPath}: no such file`);
  let results: BenchmarkResults;
  try {
    results = JSON.parse(readFileSync(resultsPath, 'utf8')) as BenchmarkResults;
  } catch (error) {
    throw new PoserError('E_FORMAT', `${resultsPath}: not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (!results || typeof results !== 'object' || results.version !== 1 || !Array.isArray(results.benchmarks)) {
    throw new PoserError('E_FORMAT', `${resultsPath}: not a results.json written by \`poser benchmark run\` (version 1 with benchmarks)`);
  }
  const path = out ?? join(dirname(resultsPath), 'report.html');
  writeFileAtomic(path, await htmlReport(results));
  return path;
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('render the HTML report (accuracy tables and curves) from a results.json of `poser benchmark run`')
    .argument('<results.json>', 'results file')
    .option('--out <file>', 'HTML file to write (default: report.html beside results.json)')
    .action(async (results: string, flags: { out?: string }) => {
      console.log(`wrote ${await renderReport(results, flags.out)}`);
    });
}
