// A small GGUF writer for tests: turns the tiny-llama fixture into a GGUF file
// the way llama.cpp's converter does (names, metadata, Q/K row order), and
// crafts broken files on purpose.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_DIR } from './fixture.js';
import { f32, readSafetensors } from './safetensors.js';

export type MetaValue =
  | { type: 'uint32' | 'int32' | 'float32' | 'uint64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array<string>'; value: string[] }
  | { type: 'array<int32>'; value: number[] };

export interface GgufTensorSpec {
  name: string;
  /** Row-major shape (written reversed, as GGUF stores dimensions). */
  shape: number[];
  /** ggml type id (0 = F32) and its raw bytes. */
  type: number;
  bytes: Buffer;
}

const TYPE_IDS = { uint32: 4, int32: 5, float32: 6, bool: 7, string: 8, array: 9, uint64: 10 } as const;

class Out {
  parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): this {
    this.parts.push(b);
    this.length += b.length;
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    return this.push(b);
  }
  u64(v: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    return this.push(b);
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.u64(b.length).push(b);
  }
}

export function f32Bytes(data: Float32Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Writes a GGUF v3 (or `version`) file, alignment 32. */
export function writeGguf(path: string, metadata: Record<string, MetaValue>, tensors: GgufTensorSpec[], version = 3): void {
  const out = new Out();
  out.u32(0x46554747).u32(version).u64(tensors.length).u64(Object.keys(metadata).length);
  for (const [key, m] of Object.entries(metadata)) {
    out.str(key);
    if (m.type === 'array<string>' || m.type === 'array<int32>') {
      out.u32(TYPE_IDS.array).u32(m.type === 'array<string>' ? TYPE_IDS.string : TYPE_IDS.int32).u64(m.value.length);
      for (const v of m.value) {
        if (typeof v === 'string') out.str(v);
        else {
          const b = Buffer.alloc(4);
          b.writeInt32LE(v);
          out.push(b);
        }
      }
      continue;
    }
    out.u32(TYPE_IDS[m.type]);
    const b = Buffer.alloc(m.type === 'uint64' ? 8 : m.type === 'bool' ? 1 : m.type === 'string' ? 0 : 4);
    if (m.type === 'uint32') b.writeUInt32LE(m.value);
    else if (m.type === 'int32') b.writeInt32LE(m.value);
    else if (m.type === 'float32') b.writeFloatLE(m.value);
    else if (m.type === 'uint64') b.writeBigUInt64LE(BigInt(m.value));
    else if (m.type === 'bool') b.writeUInt8(m.value ? 1 : 0);
    if (m.type === 'string') out.str(m.value);
    else out.push(b);
  }
  let offset = 0;
  const align = (n: number) => Math.ceil(n / 32) * 32;
  for (const t of tensors) {
    out.str(t.name).u32(t.shape.length);
    for (const d of [...t.shape].reverse()) out.u64(d);
    out.u32(t.type).u64(offset);
    offset = align(offset + t.bytes.length);
  }
  out.push(Buffer.alloc(align(out.length) - out.length));
  for (const t of tensors) {
    out.push(t.bytes);
    out.push(Buffer.alloc(align(t.bytes.length) - t.bytes.length));
  }
  writeFileSync(path, Buffer.concat(out.parts));
}

/** llama.cpp's converter order of Q/K rows: per head, HF rows (i, j) stored as (j, i). */
export function permuteRows(data: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const out = new Float32Array(data.length);
  const half = rows / heads / 2;
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < half; j++) {
        const from = h * 2 * half + i * half + j;
        const to = h * 2 * half + 2 * j + i;
        out.set(data.subarray(from * cols, (from + 1) * cols), to * cols);
      }
  return out;
}

const BLOCK_NAMES: Record<string, string> = {
  'input_layernorm.weight': 'attn_norm.weight',
  'self_attn.q_proj.weight': 'attn_q.weight',
  'self_attn.k_proj.weight': 'attn_k.weight',
  'self_attn.v_proj.weight': 'attn_v.weight',
  'self_attn.o_proj.weight': 'attn_output.weight',
  'post_attention_layernorm.weight': 'ffn_norm.weight',
  'mlp.gate_proj.weight': 'ffn_gate.weight',
  'mlp.up_proj.weight': 'ffn_up.weight',
  'mlp.down_proj.weight': 'ffn_down.weight',
};

function ggufName(hf: string): string {
  if (hf === 'model.embed_tokens.weight') return 'token_embd.weight';
  if (hf === 'model.norm.weight') return 'output_norm.weight';
  if (hf === 'lm_head.weight') return 'output.weight';
  const m = /^model\.layers\.(\d+)\.(.+)$/.exec(hf);
  if (!m || !BLOCK_NAMES[m[2]]) throw new Error(`no GGUF name for ${hf}`);
  return `blk.${m[1]}.${BLOCK_NAMES[m[2]]}`;
}

export interface TinyGgufOptions {
  /** Leave Q/K rows in HF order (a file the reader must get wrong). */
  skipPermutation?: boolean;
  /** Edits to the metadata (undefined deletes a key). */
  metadata?: Record<string, MetaValue | undefined>;
  /** Edits to the tensor list. */
  tensors?: (tensors: GgufTensorSpec[]) => GgufTensorSpec[];
  /** Copy the fixture's tokenizer.json beside the file. */
  tokenizer?: boolean;
  version?: number;
}

/** The tiny-llama fixture (config.json + model.safetensors) as `dir/tiny-llama.gguf`. */
export function writeTinyLlamaGguf(dir: string, options: TinyGgufOptions = {}): string {
  const config = JSON.parse(readFileSync(join(FIXTURE_DIR, 'config.json'), 'utf8')) as Record<string, number>;
  const weights = readSafetensors(join(FIXTURE_DIR, 'model.safetensors'));
  const heads = config.num_attention_heads;
  const kvHeads = config.num_key_value_heads;
  let tensors: GgufTensorSpec[] = [];
  for (const [name, t] of weights) {
    let data = f32(t);
    if (!options.skipPermutation && name.endsWith('q_proj.weight')) data = permuteRows(data, t.shape[0], t.shape[1], heads);
    if (!options.skipPermutation && name.endsWith('k_proj.weight')) data = permuteRows(data, t.shape[0], t.shape[1], kvHeads);
    tensors.push({ name: ggufName(name), shape: t.shape, type: 0, bytes: f32Bytes(data) });
  }
  if (options.tensors) tensors = options.tensors(tensors);
  const metadata: Record<string, MetaValue> = {
    'general.architecture': { type: 'string', value: 'llama' },
    'general.name': { type: 'string', value: 'tiny-llama fixture' },
    'llama.block_count': { type: 'uint32', value: config.num_hidden_layers },
    'llama.context_length': { type: 'uint32', value: config.max_position_embeddings },
    'llama.embedding_length': { type: 'uint32', value: config.hidden_size },
    'llama.feed_forward_length': { type: 'uint32', value: config.intermediate_size },
    'llama.attention.head_count': { type: 'uint32', value: heads },
    'llama.attention.head_count_kv': { type: 'uint32', value: kvHeads },
    'llama.rope.freq_base': { type: 'float32', value: config.rope_theta },
    'llama.attention.layer_norm_rms_epsilon': { type: 'float32', value: config.rms_norm_eps },
    'llama.rope.dimension_count': { type: 'uint32', value: config.hidden_size / heads },
    // The fixture's byte-level vocabulary (tokenizer.json), as llama.cpp stores it.
    'tokenizer.ggml.model': { type: 'string', value: 'gpt2' },
    'tokenizer.ggml.pre': { type: 'string', value: 'default' },
    'tokenizer.ggml.tokens': { type: 'array<string>', value: fixtureVocabulary() },
    'tokenizer.ggml.merges': { type: 'array<string>', value: [] },
  };
  for (const [k, v] of Object.entries(options.metadata ?? {})) {
    if (v === undefined) delete metadata[k];
    else metadata[k] = v;
  }
  const path = join(dir, 'tiny-llama.gguf');
  writeGguf(path, metadata, tensors, options.version);
  if (options.tokenizer) copyFileSync(join(FIXTURE_DIR, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  return path;
}

function fixtureVocabulary(): string[] {
  const json = JSON.parse(readFileSync(join(FIXTURE_DIR, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } };
  const tokens: string[] = [];
  for (const [token, id] of Object.entries(json.model.vocab)) tokens[id] = token;
  return tokens;
}
