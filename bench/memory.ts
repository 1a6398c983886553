// Resident memory over many forwards with captures: should stay flat.
//
//   npx tsx --expose-gc bench/memory.ts [--threads N] [--calls 1000] [--quick]
//
// 1000 forward calls on the zoo-sized random model (B=16, ~60-token prompts),
// each capturing at a few hooks (one at every position) with last-position
// logits, reading every result. Prints process.memoryUsage() after call 100
// (warm) and after the last call, and the difference; target: within 20 MB.
// Without --expose-gc the script enables gc itself through v8 flags.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Model } from '../src/model/model.js';
import { blockHook, residPost } from '../src/model/hooks.js';
import type { Intervention } from '../src/model/interventions.js';
import { getNumThreads, setNumThreads } from '../src/native/binding.js';
import { ZOO_CONFIG, applyThreadEnv, fmt, parseArgs, randomModel, randomRows, table } from './common.js';

const args = parseArgs();
applyThreadEnv(args);
setNumThreads(args.threads);
const calls = Number(args.values.get('calls') ?? (args.quick ? 300 : 1000));
const WARM = 100;
const TARGET_MB = 20;

let gc = (globalThis as { gc?: () => void }).gc;
let gcSource = '--expose-gc';
if (!gc) {
  setFlagsFromString('--expose-gc');
  gc = runInNewContext('gc') as () => void;
  gcSource = 'v8.setFlagsFromString';
}

const model = await Model.load(randomModel('llama-zoo', ZOO_CONFIG), { tokenizer: false });
const batch = model.encode(randomRows(16, 55, 65, model.vocabSize, 5));
const interventions: Intervention[] = [
  { hook: 'hook_embed', op: 'capture' },
  { hook: blockHook(1, 'hook_attn_out'), op: 'capture' },
  { hook: residPost(2), op: 'capture', positions: 'all' },
  { hook: 'ln_final.hook_normalized', op: 'capture', positions: [-2, -1] },
];
console.log(`threads ${getNumThreads()}; gc via ${gcSource}; ${calls} forwards, B=${batch.batch} x T=${batch.length}, ` +
  `captures at ${interventions.map((i) => i.hook).join(', ')}, logits 'last'`);

const MB = 1024 * 1024;
const snapshot = () => {
  gc!();
  const m = process.memoryUsage();
  return { rss: m.rss / MB, heap: m.heapUsed / MB, external: m.external / MB, arrayBuffers: m.arrayBuffers / MB };
};
const marks: { call: number; mem: ReturnType<typeof snapshot> }[] = [{ call: 0, mem: snapshot() }];
let checksum = 0;
const start = performance.now();
for (let i = 1; i <= calls; i++) {
  const out = await model.forward(batch, { logits: 'last', interventions });
  for (const c of Object.values(out.captures)) checksum += c.data[c.data.length - 1];
  checksum += out.logits!.data[0];
  if (i === WARM || i === calls || (i % Math.max(1, Math.floor(calls / 5)) === 0 && i > WARM)) marks.push({ call: i, mem: snapshot() });
}
const elapsed = (performance.now() - start) / 1000;

console.log(table(['after call', 'rss MB', 'heapUsed MB', 'external MB', 'arrayBuffers MB'],
  marks.map(({ call, mem }) => [String(call), fmt(mem.rss), fmt(mem.heap), fmt(mem.external), fmt(mem.arrayBuffers)])));
const warm = marks.find((m) => m.call === WARM)!.mem;
const end = marks[marks.length - 1].mem;
const growth = end.rss - warm.rss;
const after = marks.filter((m) => m.call >= WARM).map((m) => m.mem.rss);
console.log(`rss at call ${WARM}: ${fmt(warm.rss)} MB; at call ${calls}: ${fmt(end.rss)} MB; difference ${growth >= 0 ? '+' : ''}${fmt(growth)} MB ` +
  `(${fmt((growth * 1024) / Math.max(1, calls - WARM), 1)} KB per call; target: growth within ${TARGET_MB} MB: ${growth <= TARGET_MB ? 'OK' : 'EXCEEDED'})`);
console.log(`rss range over calls ${WARM}-${calls}: ${fmt(Math.min(...after))}-${fmt(Math.max(...after))} MB`);
console.log(`${calls} forwards in ${fmt(elapsed, 1)} s (${fmt((elapsed / calls) * 1000, 2)} ms each); checksum ${checksum.toFixed(3)}`);
model.dispose();
