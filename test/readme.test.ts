// The README's TypeScript examples run as written (against the source tree).
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(`${root}/README.md`, 'utf8');
// Examples that need a built zoo (models/zoo) are left out: the suite does not build the default zoo.
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).filter((code) => !code.includes('models/zoo'));

it('the README has TypeScript examples', () => {
  expect(blocks.length).toBeGreaterThanOrEqual(2);
});

blocks.forEach((code, i) => {
  it(`README example ${i + 1} runs`, async () => {
    const path = `${root}/test/.readme-example-${i}.ts`;
    const source = code.replace(/from 'poser-torch'/g, `from '${root}/src/index.js'`).replaceAll("'test/fixtures/", `'${root}/test/fixtures/`).replaceAll("'node_modules/poser-torch/examples/", `'${root}/examples/`);
    writeFileSync(path, `${source}\nexport const done = true;\n`);
    try {
      const mod = await import(/* @vite-ignore */ path);
      expect(mod.done).toBe(true);
    } finally {
      unlinkSync(path);
    }
  });
});
