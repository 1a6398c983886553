// A small, independent safetensors reader/writer for tests: reads fixtures
// written by Python and crafts (possibly broken) model files.
import { readFileSync, writeFileSync } from 'node:fs';

export interface TestTensor {
  dtype: string;
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array;
}

export function readSafetensors(path: string): Map<string, TestTensor> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out = new Map<string, TestTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [b, e] = info.data_offsets;
    const bytes = buf.subarray(8 + n + b, 8 + n + e);
    const copy = new Uint8Array(bytes).buffer;
    let data: TestTensor['data'];
    if (info.dtype === 'F32') data = new Float32Array(copy);
    else if (info.dtype === 'F64') data = new Float64Array(copy);
    else if (info.dtype === 'I64') data = new BigInt64Array(copy);
    else if (info.dtype === 'I32') data = new Int32Array(copy);
    else throw new Error(`test reader: dtype ${info.dtype} not handled`);
    out.set(name, { dtype: info.dtype, shape: info.shape, data });
  }
  return out;
}

/** Writes F32 tensors; `header` edits let tests break the file on purpose. */
export function writeSafetensors(
  path: string,
  tensors: Record<string, { shape: number[]; data: Float32Array }>,
  edit: (header: Record<string, unknown>) => void = () => {},
): void {
  const header: Record<string, unknown> = {};
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  edit(header);
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileSync(path, Buffer.concat([len, Buffer.from(json), ...chunks]));
}

/** Float32 view of a test tensor. */
export function f32(t: TestTensor | undefined): Float32Array {
  if (!t) throw new Error('missing fixture tensor');
  return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as Float64Array);
}

/** max |a - b| / max |b|: the relative error the parity tests bound. */
export function relError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} != ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / (scale || 1);
}

export function maxAbsDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
  return diff;
}
