// A catalogue of malformed model directories: each must give a typed
// PoserError whose message names the problem, never a crash or a silently
// wrong model. The safetensors rules are those of the reference
// implementation (see native/core/safetensors_format.h).
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Model, PoserError, type PoserErrorCode } from '../../src/index.js';
import { SMALL, tempDir, writeRandomModel } from '../helpers/random-model.js';
import { readSafetensors, writeSafetensors } from '../helpers/safetensors.js';

type Header = Record<string, { dtype: string; shape: unknown; data_offsets: unknown } | Record<string, unknown>>;

const WEIGHTS = 'model.safetensors';

/** The header (parsed) and data section of a safetensors file. */
function readParts(path: string): { header: Header; data: Buffer } {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  return { header: JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Header, data: buf.subarray(8 + n) };
}

/** Writes a header text and data as a safetensors file; `length` overrides the 8-byte header length. */
function writeParts(path: string, headerText: string | Buffer, data: Buffer, length?: bigint): void {
  const header = Buffer.isBuffer(headerText) ? headerText : Buffer.from(headerText, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(length ?? BigInt(header.length));
  writeFileSync(path, Buffer.concat([len, header, data]));
}

/** A fresh random model directory. */
function model(): string {
  return writeRandomModel(tempDir('poser-malformed-'));
}

/** A random model whose weights file is rewritten from its parsed parts. */
function rewritten(edit: (p: { header: Header; data: Buffer }) => { header: string | Buffer; data?: Buffer; length?: bigint }): string {
  const dir = model();
  const path = join(dir, WEIGHTS);
  const parts = readParts(path);
  const out = edit(parts);
  writeParts(path, out.header, out.data ?? parts.data, out.length);
  return dir;
}

/** A random model with one header edit, otherwise well-formed JSON. */
function edited(edit: (h: Header) => void): string {
  return rewritten(({ header }) => {
    edit(header);
    return { header: JSON.stringify(header) };
  });
}

/** The random model as two shards plus an index; `index` may edit the index JSON. */
function sharded(index: (weightMap: Record<string, string>, files: string[]) => unknown = (w) => ({ metadata: {}, weight_map: w })): string {
  const dir = model();
  const tensors = [...readSafetensors(join(dir, WEIGHTS))];
  unlinkSync(join(dir, WEIGHTS));
  const files = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const half = Math.ceil(tensors.length / 2);
  const weightMap: Record<string, string> = {};
  [tensors.slice(0, half), tensors.slice(half)].forEach((shard, i) => {
    writeSafetensors(join(dir, files[i]), Object.fromEntries(shard.map(([n, t]) => [n, { shape: t.shape, data: t.data as Float32Array }])));
    for (const [name] of shard) weightMap[name] = files[i];
  });
  const json = index(weightMap, files);
  writeFileSync(join(dir, 'model.safetensors.index.json'), typeof json === 'string' ? json : JSON.stringify(json));
  return dir;
}

const NORM = 'model.norm.weight'; // [32] F32: 128 bytes
const entry = (h: Header, name: string) => h[name] as { dtype: string; shape: unknown; data_offsets: [number, number] };
/** Name of the tensor whose data comes first. */
const first = (h: Header) => Object.keys(h).filter((k) => k !== '__metadata__').sort((a, b) => entry(h, a).data_offsets[0] - entry(h, b).data_offsets[0])[0];

interface Case {
  name: string;
  make: () => string;
  code: PoserErrorCode;
  message: RegExp;
}

const cases: Case[] = [
  // --- the file and its header length
  {
    name: 'truncated to half its size',
    make: () => {
      const dir = model();
      const path = join(dir, WEIGHTS);
      truncateSync(path, Math.floor(readFileSync(path).length / 2));
      return dir;
    },
    code: 'E_FORMAT',
    message: /model\.safetensors: tensor .* out of range/,
  },
  {
    name: 'shorter than the 8-byte header length',
    make: () => {
      const dir = model();
      writeFileSync(join(dir, WEIGHTS), Buffer.from([1, 2, 3]));
      return dir;
    },
    code: 'E_FORMAT',
    message: /truncated safetensors file \(3 bytes/,
  },
  {
    name: 'an empty weights file',
    make: () => {
      const dir = model();
      writeFileSync(join(dir, WEIGHTS), '');
      return dir;
    },
    code: 'E_FORMAT',
    message: /model\.safetensors: file is empty/,
  },
  {
    name: 'header length larger than the file',
    make: () => rewritten(({ header, data }) => ({ header: JSON.stringify(header), length: BigInt(data.length * 10) })),
    code: 'E_FORMAT',
    message: /header length \d+ larger than the file/,
  },
  {
    name: 'header length over the 100 MB limit (overflow-sized)',
    make: () => rewritten(({ header }) => ({ header: JSON.stringify(header), length: 0xffff_ffff_ffff_fff0n })),
    code: 'E_FORMAT',
    message: /header length 18446744073709551600 exceeds the format's limit of 100000000 bytes/,
  },
  {
    name: 'header length 0',
    make: () => rewritten(({ header }) => ({ header: JSON.stringify(header), length: 0n })),
    code: 'E_FORMAT',
    message: /header length is 0/,
  },
  {
    name: 'header length one byte short (padded header: every tensor would be read off by one)',
    make: () => rewritten(({ header }) => {
      const text = JSON.stringify(header) + '        ';
      return { header: text, length: BigInt(Buffer.byteLength(text) - 1) };
    }),
    code: 'E_FORMAT',
    message: /1 byte left over after the last tensor.*is the header length right/,
  },
  {
    name: 'header length one byte short (unpadded header: JSON cut)',
    make: () => rewritten(({ header }) => {
      const text = JSON.stringify(header);
      return { header: text, length: BigInt(Buffer.byteLength(text) - 1) };
    }),
    code: 'E_FORMAT',
    message: /malformed JSON/,
  },
  {
    name: 'header length one byte long',
    make: () => rewritten(({ header, data }) => {
      const text = JSON.stringify(header);
      const bytes = Buffer.from(data);
      bytes[0] = 0; // the byte the header now swallows
      return { header: text, data: bytes, length: BigInt(Buffer.byteLength(text) + 1) };
    }),
    code: 'E_FORMAT',
    message: /model\.safetensors: header padded with byte 0x00/,
  },
  // --- header text
  {
    name: 'NUL bytes as header padding',
    make: () => rewritten(({ header }) => ({ header: Buffer.concat([Buffer.from(JSON.stringify(header)), Buffer.alloc(5)]) })),
    code: 'E_FORMAT',
    message: /padded with byte 0x00 .*only spaces, 0x20, may pad the header/,
  },
  {
    name: 'a newline as header padding',
    make: () => rewritten(({ header }) => ({ header: JSON.stringify(header) + '\n   ' })),
    code: 'E_FORMAT',
    message: /padded with byte 0x0a/,
  },
  {
    name: 'a header that is a JSON array',
    make: () => rewritten(({ header }) => ({ header: JSON.stringify([header]) })),
    code: 'E_FORMAT',
    message: /header does not start with '\{' \(first byte 0x5b\)/,
  },
  {
    name: 'malformed JSON',
    make: () => rewritten(({ header }) => ({ header: JSON.stringify(header).replace('"dtype":', '"dtype"') })),
    code: 'E_FORMAT',
    message: /model\.safetensors: header: malformed JSON at byte \d+/,
  },
  {
    name: 'invalid UTF-8 in a tensor name',
    make: () => rewritten(({ header }) => ({ header: Buffer.from(JSON.stringify(header).replace(NORM, 'model.norm.w\u00e9ight'), 'latin1') })),
    code: 'E_FORMAT',
    message: /malformed JSON.*UTF-8/,
  },
  {
    name: 'a tensor named twice',
    make: () => rewritten(({ header }) => {
      const text = JSON.stringify(header);
      return { header: `{"${NORM}": ${JSON.stringify(header[NORM])}, ${text.slice(1)}` };
    }),
    code: 'E_FORMAT',
    message: /duplicate key "model\.norm\.weight" in the object at the top level/,
  },
  {
    name: 'a field repeated inside a tensor entry',
    make: () => rewritten(({ header }) => ({ header: JSON.stringify(header).replace('"dtype":"F32"', '"dtype":"F16","dtype":"F32"') })),
    code: 'E_FORMAT',
    message: /duplicate key "dtype"/,
  },
  {
    name: 'a metadata key repeated',
    make: () => rewritten(({ header }) => ({ header: `{"__metadata__": {"format": "pt", "format": "np"}, ${JSON.stringify(header).slice(1)}` })),
    code: 'E_FORMAT',
    message: /duplicate key "format" in the object at "__metadata__"/,
  },
  {
    name: 'a non-string metadata value',
    make: () => edited((h) => (h.__metadata__ = { format: 'pt', step: 5 })),
    code: 'E_FORMAT',
    message: /"__metadata__" must map strings to strings, but "step" is 5/,
  },
  {
    name: 'metadata that is not an object',
    make: () => edited((h) => (h.__metadata__ = ['format', 'pt'] as never)),
    code: 'E_FORMAT',
    message: /"__metadata__" must be an object of strings, not \["format","pt"\]/,
  },
  {
    name: 'a shape nested 70,000 deep',
    make: () => rewritten(({ header }) => {
      const text = JSON.stringify(header).replace(`"${NORM}":{"dtype":"F32","shape":[32]`, `"${NORM}":{"dtype":"F32","shape":${'['.repeat(70_000)}32${']'.repeat(70_000)}`);
      return { header: text };
    }),
    code: 'E_FORMAT',
    message: /JSON nested deeper than 64 levels \(at "model\.norm\.weight"\."shape"\[0\]/,
  },
  {
    name: 'a header entry that is not an object',
    make: () => edited((h) => (h[NORM] = [1, 2] as never)),
    code: 'E_FORMAT',
    message: /tensor model\.norm\.weight: header entry is not an object: \[1,2\]/,
  },
  // --- tensor entries
  {
    name: 'an unknown dtype',
    make: () => edited((h) => (entry(h, NORM).dtype = 'Q4')),
    code: 'E_DTYPE',
    message: /tensor model\.norm\.weight: unsupported dtype "Q4"/,
  },
  {
    name: 'a dtype that is not a string',
    make: () => edited((h) => (entry(h, NORM).dtype = 32 as never)),
    code: 'E_FORMAT',
    message: /tensor model\.norm\.weight: missing or non-string "dtype": 32/,
  },
  {
    name: 'a negative shape entry',
    make: () => edited((h) => (entry(h, NORM).shape = [-32])),
    code: 'E_FORMAT',
    message: /tensor model\.norm\.weight: shape \[-32\] must hold non-negative integers/,
  },
  {
    name: 'a non-integer shape entry',
    make: () => edited((h) => (entry(h, NORM).shape = [16, 2.5])),
    code: 'E_FORMAT',
    message: /shape \[16,2\.5\] must hold non-negative integers \(found 2\.5\)/,
  },
  {
    name: 'a shape whose element count overflows',
    make: () => edited((h) => (entry(h, NORM).shape = [2 ** 40, 2 ** 40])),
    code: 'E_FORMAT',
    message: /tensor model\.norm\.weight: shape \[1099511627776,1099511627776\] is too large/,
  },
  {
    name: 'a shape that disagrees with the offsets',
    make: () => edited((h) => (entry(h, NORM).shape = [31])),
    code: 'E_FORMAT',
    message: /tensor model\.norm\.weight: size mismatch: dtype F32 and shape \[31\] need 124 bytes but data offsets \[\d+,\d+\] span 128 bytes/,
  },
  {
    name: 'data_offsets that are not a pair',
    make: () => edited((h) => (entry(h, NORM).data_offsets = [0] as never)),
    code: 'E_FORMAT',
    message: /tensor model\.norm\.weight: "data_offsets" must be \[begin, end\]/,
  },
  {
    name: 'offsets past the end of the data',
    make: () => edited((h) => (entry(h, NORM).data_offsets = [10_000_000, 10_000_128])),
    code: 'E_FORMAT',
    message: /tensor model\.norm\.weight: data offsets \[10000000,10000128\] out of range/,
  },
  {
    name: 'overlapping offsets',
    make: () => edited((h) => {
      const a = entry(h, first(h)).data_offsets;
      entry(h, NORM).data_offsets = [a[0], a[0] + 128];
    }),
    code: 'E_FORMAT',
    message: /tensor .* at data offsets \[0,\d+\] overlaps tensor model\.norm\.weight at \[0,128\]/,
  },
  {
    name: 'a gap between tensors (the first not at 0)',
    make: () => rewritten(({ header, data }) => {
      for (const k of Object.keys(header)) entry(header, k).data_offsets = entry(header, k).data_offsets.map((x) => x + 4) as [number, number];
      return { header: JSON.stringify(header), data: Buffer.concat([Buffer.alloc(4), data]) };
    }),
    code: 'E_FORMAT',
    message: /leaves a gap: bytes \[0,4\] of the data section belong to no tensor \(the first tensor must begin at 0\)/,
  },
  {
    name: 'bytes left over after the last tensor',
    make: () => rewritten(({ header, data }) => ({ header: JSON.stringify(header), data: Buffer.concat([data, Buffer.alloc(16)]) })),
    code: 'E_FORMAT',
    message: /16 bytes left over after the last tensor/,
  },
  // --- the weights against the config
  {
    name: 'a tensor the config needs is missing',
    make: () => rewritten(({ header, data }) => {
      // Drop the last tensor and its bytes, so the file itself stays valid.
      const names = Object.keys(header).sort((a, b) => entry(header, b).data_offsets[0] - entry(header, a).data_offsets[0]);
      const last = names[0];
      const cut = entry(header, last).data_offsets[0];
      delete header[last];
      return { header: JSON.stringify(header), data: data.subarray(0, cut) };
    }),
    code: 'E_SHAPE',
    message: /missing tensor '.*' \(the config implies shape \[/,
  },
  {
    name: 'a weight shape that disagrees with the config',
    make: () => writeRandomModel(tempDir('poser-malformed-'), SMALL, { configOverride: { intermediate_size: 40 } }),
    code: 'E_SHAPE',
    message: /gate_proj\.weight' has shape \[48, 32\] but the config implies \[40, 32\]/,
  },
  {
    name: 'an integer dtype for a weight',
    make: () => edited((h) => (entry(h, NORM).dtype = 'I32')),
    code: 'E_DTYPE',
    message: /tensor 'model\.norm\.weight' has non-floating dtype Int/,
  },
  {
    name: 'no weights at all',
    make: () => {
      const dir = model();
      unlinkSync(join(dir, WEIGHTS));
      return dir;
    },
    code: 'E_IO',
    message: /no model weights found \(tried .*model\.safetensors\.index\.json and .*model\.safetensors\)/,
  },
  {
    name: 'a weights "file" that is a directory',
    make: () => {
      const dir = model();
      unlinkSync(join(dir, WEIGHTS));
      mkdirSync(join(dir, WEIGHTS));
      return dir;
    },
    code: 'E_IO',
    message: /model\.safetensors: not a regular file/,
  },
  // --- sharded checkpoints
  {
    name: 'an index that is not valid JSON',
    make: () => sharded(() => '{"weight_map": {'),
    code: 'E_FORMAT',
    message: /model\.safetensors\.index\.json: malformed JSON/,
  },
  {
    name: 'an index naming a missing shard',
    make: () => sharded((w) => ({ weight_map: { ...w, [NORM]: 'model-00003-of-00002.safetensors' } })),
    code: 'E_IO',
    message: /model-00003-of-00002\.safetensors: cannot open/,
  },
  {
    name: 'an index naming a tensor twice',
    make: () => sharded((w, files) => {
      const text = JSON.stringify({ weight_map: w });
      return text.replace('"weight_map":{', `"weight_map":{"${NORM}":"${files[0]}",`);
    }),
    code: 'E_FORMAT',
    message: /model\.safetensors\.index\.json: duplicate key "model\.norm\.weight" in the object at "weight_map"/,
  },
  {
    name: 'a weight_map that is not an object',
    make: () => sharded((w) => ({ weight_map: Object.entries(w) })),
    code: 'E_FORMAT',
    message: /missing or non-object "weight_map": \[\["/,
  },
  {
    name: 'a weight_map entry that is not a string',
    make: () => sharded((w) => ({ weight_map: { ...w, [NORM]: 2 } })),
    code: 'E_FORMAT',
    message: /weight_map entry for model\.norm\.weight is not a string: 2/,
  },
  {
    name: 'a shard path outside the model directory',
    make: () => sharded((w) => ({ weight_map: { ...w, [NORM]: '../model-00001-of-00002.safetensors' } })),
    code: 'E_FORMAT',
    message: /weight_map entry for model\.norm\.weight names an invalid shard file "\.\.\/model-00001/,
  },
  {
    name: 'an empty weight_map',
    make: () => sharded(() => ({ weight_map: {} })),
    code: 'E_FORMAT',
    message: /weight_map is empty/,
  },
  {
    name: 'a tensor listed in the index but absent from its shard',
    make: () => sharded((w, files) => ({ weight_map: { ...w, [NORM]: w[NORM] === files[0] ? files[1] : files[0] } })),
    code: 'E_FORMAT',
    message: /tensor model\.norm\.weight listed in .*index\.json is missing from the shard/,
  },
  {
    name: 'a shard that breaks the format (bytes left over)',
    make: () => {
      const dir = sharded();
      const path = join(dir, 'model-00002-of-00002.safetensors');
      writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.alloc(3)]));
      return dir;
    },
    code: 'E_FORMAT',
    message: /model-00002-of-00002\.safetensors: 3 bytes left over/,
  },
  // --- config.json
  {
    name: 'no config.json',
    make: () => {
      const dir = model();
      unlinkSync(join(dir, 'config.json'));
      return dir;
    },
    code: 'E_IO',
    message: /config\.json/,
  },
  {
    name: 'config.json that is not JSON',
    make: () => {
      const dir = model();
      writeFileSync(join(dir, 'config.json'), '{"hidden_size": 32,');
      return dir;
    },
    code: 'E_FORMAT',
    message: /config\.json/,
  },
  {
    name: 'a config field of the wrong type',
    make: () => writeRandomModel(tempDir('poser-malformed-'), SMALL, { configOverride: { hidden_size: '32' } }),
    code: 'E_FORMAT',
    message: /config\.json.*hidden_size/,
  },
  {
    name: 'a config whose heads do not divide the hidden size',
    make: () => writeRandomModel(tempDir('poser-malformed-'), SMALL, { configOverride: { num_attention_heads: 5 } }),
    code: 'E_FORMAT',
    message: /hidden_size 32 is not divisible by num_attention_heads 5/,
  },
];

async function loadError(dir: string): Promise<PoserError> {
  try {
    const m = await Model.load(dir, { tokenizer: false });
    m.dispose();
  } catch (error) {
    if (!(error instanceof PoserError)) throw new Error(`not a PoserError: ${String(error)}`, { cause: error });
    return error;
  }
  throw new Error(`loading ${dir} unexpectedly succeeded`);
}

describe('malformed model directories', () => {
  it('has at least 30 cases', () => expect(cases.length).toBeGreaterThanOrEqual(30));

  it.each(cases)('$name', async ({ make, code, message }) => {
    const dir = make();
    try {
      const e = await loadError(dir);
      expect(e.message).toMatch(message);
      expect(e.code).toBe(code);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the unbroken model loads (the catalogue breaks only what it names)', async () => {
    for (const dir of [model(), sharded()]) {
      const m = await Model.load(dir, { tokenizer: false });
      expect((await m.forward([[1, 2, 3]])).logits!.shape).toEqual([1, SMALL.vocab_size]);
      m.dispose();
    }
  });
});

describe('weights the model owns', () => {
  const ids = [[3, 1, 4, 1, 5, 9, 2, 6]];
  const logitsOf = async (m: Model) => Array.from((await m.forward(ids, { logits: 'all' })).logits!.data);

  it('overwriting and truncating the weights file after load changes nothing and does not crash', async () => {
    for (const dtype of ['float32', 'bfloat16'] as const) {
      const dir = model();
      const path = join(dir, WEIGHTS);
      const m = await Model.load(dir, { tokenizer: false, dtype });
      const before = await logitsOf(m);
      // Rewrite every byte in place (same inode), as a careless writer would.
      const fd = openSync(path, 'r+');
      writeSync(fd, Buffer.alloc(readFileSync(path).length, 0x7f));
      closeSync(fd);
      expect(await logitsOf(m)).toEqual(before);
      truncateSync(path, 0);
      expect(await logitsOf(m)).toEqual(before);
      unlinkSync(path);
      expect(await logitsOf(m)).toEqual(before);
      m.dispose();
    }
  });

  it('mmap: true loads the same model', async () => {
    const dir = model();
    const owned = await Model.load(dir, { tokenizer: false });
    const mapped = await Model.load(dir, { tokenizer: false, mmap: true });
    expect(await logitsOf(mapped)).toEqual(await logitsOf(owned));
    owned.dispose();
    mapped.dispose();
    await expect(Model.load(dir, { mmap: 'yes' as never })).rejects.toMatchObject({ code: 'E_ARG', message: /mmap/ });
  });
});
