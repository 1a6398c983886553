// One command-line vocabulary: every zoo, benchmark and detect command takes
// `--zoo <dir>` (old names `--out`/`--dir` still work, hidden), and
// `benchmark run` writes into the zoo; the build's bar shows our ETA, not
// cli-progress's raw seconds.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Format } from 'cli-progress';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { benchmarkOutputs, registerBenchmarkCommands } from '../../src/cli/benchmark.js';
import { dataFlag, registerDetectCommand } from '../../src/cli/detect.js';
import { BUILD_BAR_FORMAT, buildBarPayload, registerZooCommands } from '../../src/cli/zoo.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function program(): Command {
  const p = new Command().name('poser').exitOverride();
  registerZooCommands(p);
  registerBenchmarkCommands(p);
  registerDetectCommand(p);
  return p;
}

const sub = (p: Command, path: string[]) => path.reduce((c, name) => c.commands.find((x) => x.name() === name)!, p);

const ZOO_COMMANDS = [['zoo', 'build'], ['zoo', 'eval'], ['zoo', 'benchmark'], ['zoo', 'upgrade'], ['zoo', 'check-logits'], ['benchmark', 'run'], ['detect']];

describe('--zoo everywhere', () => {
  it('is in the help of every zoo, benchmark and detect command; the old names are not shown', () => {
    const p = program();
    for (const path of ZOO_COMMANDS) {
      const help = sub(p, path).helpInformation();
      expect(help, path.join(' ')).toMatch(/--zoo <dir>/);
      expect(help, path.join(' ')).not.toMatch(/--dir /);
      if (path[0] === 'zoo') expect(help, path.join(' ')).not.toMatch(/--out <dir>/);
    }
  });

  it('reaches the command under --zoo and under the old names, and refuses the two disagreeing', async () => {
    // A zoo that is not there: the command fails naming the directory it was given.
    for (const args of [['zoo', 'eval', '--zoo', '/nowhere/z1'], ['zoo', 'eval', '--dir', '/nowhere/z1'], ['zoo', 'upgrade', '--dir', '/nowhere/z1'], ['zoo', 'benchmark', '--zoo', '/nowhere/z1']]) {
      await expect(program().parseAsync(args, { from: 'user' }), args.join(' ')).rejects.toMatchObject({ message: expect.stringContaining('/nowhere/z1') });
    }
    await expect(program().parseAsync(['zoo', 'eval', '--zoo', '/a', '--dir', '/b'], { from: 'user' })).rejects.toMatchObject({ code: 'E_ARG', message: expect.stringContaining('--zoo /a') });
    await expect(program().parseAsync(['zoo', 'build', '--zoo', '/a', '--out', '/b'], { from: 'user' })).rejects.toMatchObject({ code: 'E_ARG' });
  });

  it('benchmark run writes report.md, results.json and report.html into the zoo unless told otherwise', () => {
    expect(benchmarkOutputs({ zoo: '/z' })).toEqual({ zoo: '/z', markdown: '/z/report.md', json: '/z/results.json', html: '/z/report.html' });
    expect(benchmarkOutputs({})).toEqual({ zoo: 'models/zoo', markdown: 'models/zoo/report.md', json: 'models/zoo/results.json', html: 'models/zoo/report.html' });
    expect(benchmarkOutputs({ zoo: '/z', out: '/r/a.md' })).toMatchObject({ markdown: '/r/a.md', json: '/z/results.json', html: '/r/report.html' });
    expect(benchmarkOutputs({ zoo: '/z', html: '/h.html', json: '/j.json' })).toMatchObject({ markdown: '/z/report.md', json: '/j.json', html: '/h.html' });
  });

  it('detect takes its data from --zoo or --data, not both', () => {
    expect(dataFlag({ zoo: '/z' })).toEqual(['/z']);
    expect(dataFlag({ data: ['a.json'] })).toEqual(['a.json']);
    expect(() => dataFlag({ zoo: '/z', data: ['a'] })).toThrow(expect.objectContaining({ code: 'E_ARG' }));
    expect(() => dataFlag({})).toThrow(expect.objectContaining({ code: 'E_ARG', message: expect.stringContaining('--zoo') }));
  });
});

describe('zoo build progress bar', () => {
  it('shows the build ETA as m:ss and elapsed time (no payload key is one of cli-progress\'s own)', () => {
    const payload = buildBarPayload({ phase: 'finetune', model: 'saint-0', step: 3, steps: 10, loss: 0.5, done: 5, total: 10, etaSeconds: 125 } as never, 0, 61_000);
    const options = { format: BUILD_BAR_FORMAT, barsize: 10, barCompleteString: '='.repeat(10), barIncompleteString: '-'.repeat(10), barGlue: '', autopadding: false, autopaddingChar: '   ' };
    // cli-progress's own ETA (999 s) must not replace ours.
    const line = Format.Formatter(options as never, { progress: 0.5, eta: 999, startTime: Date.now(), stopTime: null, total: 10, value: 5, maxWidth: 200 } as never, payload);
    expect(line).toContain('ETA 2:05');
    expect(line).toContain('elapsed 1:01');
    expect(line).toContain('finetune saint-0 3/10 | loss 0.500');
    expect(line).not.toContain('999');
  });
});

describe('errors of the command line', () => {
  it('prints one `poser: <message> [CODE]` line per error and exits 1 (spawned)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), 'data', 'check', '/nowhere/a.json', '/nowhere/b.json'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual(['poser: /nowhere/a.json: no such file [E_IO]', 'poser: /nowhere/b.json: no such file [E_IO]']);
  }, 60_000);
});
