// The packaged example model (examples/tiny-llama, what the README's first example
// loads after `npm install`) is the parity-test fixture, byte for byte: regenerating
// the fixture without copying it over fails here.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

it.each(['config.json', 'model.safetensors', 'tokenizer.json'])('examples/tiny-llama/%s equals the fixture', (file) => {
  const example = readFileSync(`${root}/examples/tiny-llama/${file}`);
  const fixture = readFileSync(`${root}/test/fixtures/tiny-llama/${file}`);
  expect(example.equals(fixture)).toBe(true);
});
