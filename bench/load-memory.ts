// Resident memory that loading a model adds, against the weight bytes in the
// compute dtype: by default weights are read into memory the model owns, so
// the ratio should be close to 1 (target <= 1.1), with no lasting second copy.
//
//   npx tsx bench/load-memory.ts [--stored F32|BF16|F16] [--dtype float32|bfloat16] [--mmap]
//                                [--layers 3] [--hidden 512] [--intermediate 1376] [--json]
//
// Writes a ~55 MB (float32, by default) random LLaMA checkpoint with test/helpers/random-model.ts
// into a temporary directory, then measures in a fresh child process: VmRSS after
// loading the tiny fixture (libtorch initialised) and after loading the model,
// and the peak (VmHWM, reset before the load), each as a multiple of the weight bytes.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, writeRandomModel, type TinyConfig } from '../test/helpers/random-model.js';
import { readSafetensors, writeSafetensors, type StoredDtype } from '../test/helpers/safetensors.js';
import { FIXTURE_DIR, fmt, parseArgs } from './common.js';

const args = parseArgs();
const MB = 1024 * 1024;

function status(field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return Number(line!.split(/\s+/)[1]) * 1024;
}

if (args.values.has('child')) {
  const { Model } = await import('../src/model/model.js');
  const dir = args.values.get('child')!;
  const dtype = (args.values.get('dtype') ?? 'float32') as 'float32' | 'bfloat16';
  const gc = () => (globalThis as { gc?: () => void }).gc?.();
  const warm = await Model.load(FIXTURE_DIR, { dtype });
  await warm.forward([[1, 2, 3]]);
  warm.dispose();
  await new Promise((r) => setTimeout(r, 50));
  gc();
  const before = status('VmRSS');
  writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
  const model = await Model.load(dir, { dtype, mmap: args.flags.has('mmap'), tokenizer: false });
  gc();
  const after = status('VmRSS');
  const peak = status('VmHWM');
  const { parameters } = await model.parameterNames();
  let elements = 0;
  const seen = new Set<string>();
  for (const name of parameters) {
    if (name === 'lm_head.weight' && model.config.tie_word_embeddings) continue;
    if (seen.has(name)) continue;
    seen.add(name);
    elements += (await model.parameter(name)).data.length;
  }
  const weightBytes = elements * (dtype === 'float32' ? 4 : 2);
  console.log(JSON.stringify({ weightBytes, added: after - before, peakAdded: peak - before }));
  model.dispose();
} else {
  const stored = (args.values.get('stored') ?? 'F32') as StoredDtype;
  const size = (key: string, fallback: number) => Number(args.values.get(key) ?? fallback);
  const config: TinyConfig = {
    vocab_size: 4096,
    hidden_size: size('hidden', 512),
    intermediate_size: size('intermediate', 1376),
    num_hidden_layers: size('layers', 3),
    num_attention_heads: 8,
    num_key_value_heads: 8,
  };
  const dir = writeRandomModel(tempDir('poser-load-memory-'), config);
  if (stored !== 'F32') {
    const path = join(dir, 'model.safetensors');
    const tensors = Object.fromEntries([...readSafetensors(path)].map(([n, t]) => [n, { shape: t.shape, data: t.data as Float32Array }]));
    writeSafetensors(path, tensors, undefined, stored);
  }
  const rest = process.argv.slice(2);
  const child = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', fileURLToPath(import.meta.url), ...rest, '--child', dir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  rmSync(dir, { recursive: true, force: true });
  if (child.status !== 0) throw new Error(`measuring child failed (status ${child.status})`);
  const r = JSON.parse(child.stdout.trim().split('\n').pop()!) as { weightBytes: number; added: number; peakAdded: number };
  if (args.flags.has('json')) console.log(JSON.stringify({ ...r, ratio: r.added / r.weightBytes, peakRatio: r.peakAdded / r.weightBytes }));
  else console.log(
    `stored ${stored}, compute ${args.values.get('dtype') ?? 'float32'}${args.flags.has('mmap') ? ', mmap' : ''}: ` +
      `weights ${fmt(r.weightBytes / MB)} MB in the compute dtype; resident after load +${fmt(r.added / MB)} MB ` +
      `(${(r.added / r.weightBytes).toFixed(3)}x; target <= 1.1x); peak during load +${fmt(r.peakAdded / MB)} MB (${(r.peakAdded / r.weightBytes).toFixed(3)}x)`,
  );
}
