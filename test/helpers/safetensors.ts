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

/** float32 -> bfloat16 bits, round to nearest even. */
function toBf16(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** float32 -> IEEE half bits (normal range, round to nearest). */
function toF16(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a < 6.103515625e-5) return sign | Math.round(a / 5.960464477539063e-8);
  const e = Math.floor(Math.log2(a));
  const m = Math.round((a / 2 ** e - 1) * 1024);
  return m === 1024 ? sign | ((e + 16) << 10) : sign | ((e + 15) << 10) | m;
}

export type StoredDtype = 'F32' | 'F16' | 'BF16';

function encode(data: Float32Array, dtype: StoredDtype): Buffer {
  if (dtype === 'F32') return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const bits = Uint16Array.from(data, dtype === 'BF16' ? toBf16 : toF16);
  return Buffer.from(bits.buffer);
}

/** Writes tensors stored as `dtype`; `header` edits let tests break the file on purpose. */
export function writeSafetensors(
  path: string,
  tensors: Record<string, { shape: number[]; data: Float32Array }>,
  edit: (header: Record<string, unknown>) => void = () => {},
  dtype: StoredDtype = 'F32',
): void {
  const header: Record<string, unknown> = {};
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = encode(t.data, dtype);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
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
