/**
 * A small safetensors writer (and header reader) in TypeScript, for writing
 * weights created in JS (e.g. the initial weights of a model to train) without
 * a round trip through native code.
 */
import { closeSync, openSync, readSync, renameSync, rmSync, writeSync, fsyncSync } from 'node:fs';
import { dirname } from 'node:path';
import { fsyncPath, removeStaleTemporaries, temporaryName } from './atomic.js';
import { PoserError } from '../errors.js';

/** A float32 tensor to write. */
export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

/** One entry of a safetensors header. */
export interface SafetensorsEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/**
 * Writes F32 tensors to `path` (through a temporary file and a rename, so a
 * killed writer never leaves a half-written file). Tensors are stored in name
 * order; the header is padded to a multiple of 8 bytes.
 */
export function writeSafetensorsF32(path: string, tensors: Record<string, F32Tensor>, metadata: Record<string, string> = {}): void {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new PoserError('E_SHAPE', `safetensors: tensor '${name}' has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  removeStaleTemporaries(path);
  const tmp = temporaryName(path);
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, len);
      writeSync(fd, Buffer.from(json, 'utf8'));
      for (const name of names) {
        const d = tensors[name].data;
        writeSync(fd, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      }
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    fsyncPath(dirname(path));
  } catch (error) {
    rmSync(tmp, { force: true });
    throw new PoserError('E_IO', `${path}: cannot write: ${(error as Error).message}`, { cause: error });
  }
}

/** Reads the header of a safetensors file (tensor names, dtypes, shapes, offsets). */
export function readSafetensorsHeader(path: string): { entries: Record<string, SafetensorsEntry>; metadata: Record<string, string> } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new PoserError('E_IO', `${path}: cannot open: ${(error as Error).message}`, { cause: error });
  }
  try {
    const len = Buffer.alloc(8);
    if (readSync(fd, len, 0, 8, 0) !== 8) throw new PoserError('E_FORMAT', `${path}: too short for a safetensors file`);
    const n = Number(len.readBigUInt64LE(0));
    if (n <= 0 || n > 100 * 1024 * 1024) throw new PoserError('E_FORMAT', `${path}: implausible header length ${n}`);
    const buf = Buffer.alloc(n);
    if (readSync(fd, buf, 0, n, 8) !== n) throw new PoserError('E_FORMAT', `${path}: truncated header`);
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(buf.toString('utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new PoserError('E_FORMAT', `${path}: the header is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new PoserError('E_FORMAT', `${path}: the header is not a JSON object`);
    const metadata = (raw.__metadata__ ?? {}) as Record<string, string>;
    delete raw.__metadata__;
    return { entries: raw as Record<string, SafetensorsEntry>, metadata };
  } finally {
    closeSync(fd);
  }
}
