// A sharded checkpoint (model.safetensors.index.json) loads like the single file.
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { Model } from '../../src/index.js';
import { FIXTURE_DIR, fixtureBatch } from '../helpers/fixture.js';
import { tempDir } from '../helpers/random-model.js';
import { readSafetensors, writeSafetensors } from '../helpers/safetensors.js';

it('loads a two-shard checkpoint with identical outputs', async () => {
  const dir = tempDir();
  const weights = [...readSafetensors(join(FIXTURE_DIR, 'model.safetensors'))];
  const shards = [weights.slice(0, 10), weights.slice(10)];
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    writeSafetensors(join(dir, file), Object.fromEntries(shard.map(([n, t]) => [n, { shape: t.shape, data: t.data as Float32Array }])));
    for (const [name] of shard) weightMap[name] = file;
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  copyFileSync(join(FIXTURE_DIR, 'config.json'), join(dir, 'config.json'));
  const sharded = await Model.load(dir);
  const single = await Model.load(FIXTURE_DIR);
  const a = await sharded.forward(fixtureBatch(), { logits: 'all' });
  const b = await single.forward(fixtureBatch(), { logits: 'all' });
  expect(Array.from(a.logits!.data)).toEqual(Array.from(b.logits!.data));
  sharded.dispose();
  single.dispose();
});
