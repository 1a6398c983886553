// Without a built addon, the error tells a consumer how to build it.
import { afterEach, expect, it } from 'vitest';
import { PoserError } from '../../src/errors.js';

const saved = process.env.POSER_NATIVE_ADDON;
afterEach(() => {
  if (saved === undefined) delete process.env.POSER_NATIVE_ADDON;
  else process.env.POSER_NATIVE_ADDON = saved;
});

it('a missing addon is an E_BINDING error that names the path and `npm rebuild poser-torch`', async () => {
  process.env.POSER_NATIVE_ADDON = '/nonexistent/poser_native.node';
  // A module instance of its own: vitest isolates test files, and nothing here loaded the addon before.
  const { binding } = await import('../../src/native/binding.js');
  let error: unknown;
  try {
    binding();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(PoserError);
  expect((error as PoserError).code).toBe('E_BINDING');
  expect((error as PoserError).message).toContain('/nonexistent/poser_native.node');
  expect((error as PoserError).message).toContain('npm rebuild poser-torch');
});
