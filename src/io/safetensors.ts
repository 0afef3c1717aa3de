// SPDX-License-Identifier: MIT
// safetensors: the weight format of Hugging Face and of `torch` users who avoid pickle.
//
// File layout (https://github.com/huggingface/safetensors):
//
//   [8 bytes]  N, the header length, unsigned 64-bit little-endian
//   [N bytes]  UTF-8 JSON object: { "__metadata__": {str: str}?,
//                                   name: { "dtype": "F32", "shape": [d0, ...], "data_offsets": [begin, end] }, ... }
//              (may be padded with trailing spaces)
//   [rest]     the tensors' bytes, little-endian, row-major; offsets are relative to this region
//
// The reader treats every file as untrusted: each field is checked, byte counts are checked
// against the shape, the tensors must tile the data region exactly (no gaps, no overlaps, no
// trailing bytes — the rule of the reference implementation), and nothing is allocated from a
// size the file claims before that size has been checked against the bytes actually present.
// Every problem is a SafetensorsError saying what and where.
//
// What is read: F32, F16, BF16, F64 (to float32); I32, I64, U32, U64, I16, U16, I8, U8, BOOL
// (to int32; 64-bit and U32 values must fit in int32). What is written: float32 tensors as F32,
// int32 tensors as I32, except `*num_batches_tracked`, written as I64 as torch stores it.
//
// Files: `loadSafetensors(path)` / `saveSafetensors(map, path)` use node:fs, imported only
// inside those functions, so the library still bundles for browsers, where bytes work.

import { WgslgradError } from '../tensor/errors.js';
import { Tensor } from '../tensor/tensor.js';
import { tensor } from '../ops/creation.js';
import { MAX_RANK } from '../tensor/shape.js';

/** A file that is not valid safetensors, or a tensor that cannot be represented. */
export class SafetensorsError extends WgslgradError {}

/** Header lengths above this are refused before anything is decoded. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
/** Shapes with more dimensions than this are refused (torch allows 64). */
const MAX_FILE_RANK = 64;

const DTYPE_BYTES: Readonly<Record<string, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1,
};
export type SafetensorsDtype = keyof typeof DTYPE_BYTES;

/** One tensor's entry in the header, validated. Offsets are absolute (from the file start). */
export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  /** In header order. */
  entries: SafetensorsEntry[];
}

/** A decoded tensor on the host. */
export interface HostTensor {
  dtype: 'float32' | 'int32';
  shape: number[];
  data: Float32Array | Int32Array;
  /** The dtype stored in the file. */
  fileDtype: string;
}

function fail(message: string): never {
  throw new SafetensorsError(`safetensors: ${message}`);
}

function asBytes(input: Uint8Array | ArrayBuffer): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  return fail(`expected a Uint8Array or ArrayBuffer, got ${Object.prototype.toString.call(input)}`);
}

// ---- reading: the header ----------------------------------------------------------------------

/** Parse and validate the header (no tensor data is decoded). */
export function parseSafetensorsHeader(input: Uint8Array | ArrayBuffer): SafetensorsHeader {
  const bytes = asBytes(input);
  if (bytes.length < 8) fail(`the input is ${bytes.length} bytes; a file starts with an 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  if (hi !== 0 || lo > MAX_HEADER_BYTES) {
    fail(`header length ${hi * 2 ** 32 + lo} is larger than the ${MAX_HEADER_BYTES}-byte limit (corrupt file?)`);
  }
  const headerLength = lo;
  if (8 + headerLength > bytes.length) {
    fail(`header length ${headerLength} runs past the end of the ${bytes.length}-byte input (truncated file?)`);
  }
  if (headerLength < 2) fail(`header length ${headerLength} is too small for a JSON object`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    return fail('the header is not valid UTF-8');
  }
  if (text[0] !== '{') fail(`the header must start with '{', got ${JSON.stringify(text.slice(0, 16))}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`the header is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('the header must be a JSON object');

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  let metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(info);
      continue;
    }
    entries.push(parseEntry(name, info, dataStart, dataLength));
  }
  checkTiling(entries, dataStart, dataLength);
  return { metadata, entries };
}

function parseMetadata(info: unknown): Record<string, string> {
  if (typeof info !== 'object' || info === null || Array.isArray(info)) fail('__metadata__ must be an object of strings');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(`__metadata__['${k}'] must be a string, got ${typeof v}`);
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function parseEntry(name: string, info: unknown, dataStart: number, dataLength: number): SafetensorsEntry {
  const where = `tensor '${name}'`;
  if (name === '') fail('a tensor has an empty name');
  if (typeof info !== 'object' || info === null || Array.isArray(info)) fail(`${where}: entry must be an object`);
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== 'string') fail(`${where}: dtype must be a string`);
  const itemBytes = Object.prototype.hasOwnProperty.call(DTYPE_BYTES, dtype) ? DTYPE_BYTES[dtype] : 0;
  if (!itemBytes) fail(`${where}: unknown dtype ${JSON.stringify(dtype.slice(0, 32))}`);
  if (!Array.isArray(shape)) fail(`${where}: shape must be an array`);
  if (shape.length > MAX_FILE_RANK) fail(`${where}: shape has ${shape.length} dimensions (at most ${MAX_FILE_RANK})`);
  // numel, checked dimension by dimension so it can never exceed the bytes present.
  let numel = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) fail(`${where}: invalid dimension ${JSON.stringify(d)} in shape`);
  }
  if (!shape.includes(0)) {
    for (const d of shape as number[]) {
      numel *= d;
      if (numel * itemBytes > dataLength) fail(`${where}: shape [${shape.join(', ')}] of ${dtype} needs more bytes than the ${dataLength}-byte data region holds`);
    }
  } else {
    numel = 0;
  }
  if (!Array.isArray(offsets) || offsets.length !== 2) fail(`${where}: data_offsets must be [begin, end]`);
  const [begin, end] = offsets as unknown[];
  if (typeof begin !== 'number' || typeof end !== 'number' || !Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin) {
    fail(`${where}: invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  if (end > dataLength) fail(`${where}: data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data region (truncated file?)`);
  if (end - begin !== numel * itemBytes) {
    fail(`${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but shape [${shape.join(', ')}] of ${dtype} needs ${numel * itemBytes}`);
  }
  return { name, dtype, shape: [...(shape as number[])], begin: dataStart + begin, end: dataStart + end };
}

/** The tensors must cover the data region exactly once: no holes, no overlaps, nothing after. */
function checkTiling(entries: readonly SafetensorsEntry[], dataStart: number, dataLength: number): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = dataStart;
  for (const e of sorted) {
    if (e.begin < cursor) fail(`tensor '${e.name}' (bytes ${e.begin - dataStart}..${e.end - dataStart}) overlaps the tensor before it`);
    if (e.begin > cursor) fail(`bytes ${cursor - dataStart}..${e.begin - dataStart} of the data region belong to no tensor`);
    cursor = e.end;
  }
  if (cursor !== dataStart + dataLength) {
    fail(`the data region is ${dataLength} bytes but the tensors cover ${cursor - dataStart} (trailing bytes or a wrong header?)`);
  }
}

// ---- reading: the data ------------------------------------------------------------------------

let halfTable: Float32Array | null = null;

/** IEEE binary16 bits -> float32, for all 65536 values (built once). */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  halfTable = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    let v: number;
    if (exp === 0) v = frac * 2 ** -24; // zero and subnormals
    else if (exp === 31) v = frac ? NaN : Infinity;
    else v = (1 + frac / 1024) * 2 ** (exp - 15);
    halfTable[h] = sign * v;
  }
  return halfTable;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Decode one validated entry into a host typed array (a copy: it never aliases `bytes`). */
export function decodeEntry(bytes: Uint8Array, e: SafetensorsEntry): HostTensor {
  const n = (e.end - e.begin) / DTYPE_BYTES[e.dtype];
  const view = new DataView(bytes.buffer, bytes.byteOffset + e.begin, e.end - e.begin);
  const floats = (fill: (out: Float32Array) => void): HostTensor => {
    const out = new Float32Array(n);
    fill(out);
    return { dtype: 'float32', shape: e.shape, data: out, fileDtype: e.dtype };
  };
  const ints = (read: (i: number) => number): HostTensor => {
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const v = read(i);
      if (v < INT32_MIN || v > INT32_MAX) {
        fail(`tensor '${e.name}': ${e.dtype} value ${v} at index ${i} does not fit in int32`);
      }
      out[i] = v;
    }
    return { dtype: 'int32', shape: e.shape, data: out, fileDtype: e.dtype };
  };
  switch (e.dtype) {
    case 'F32':
      // Aligned on a little-endian host: one bulk copy; otherwise element by element.
      if (LITTLE_ENDIAN_HOST && (bytes.byteOffset + e.begin) % 4 === 0) {
        const start = bytes.byteOffset + e.begin;
        return { dtype: 'float32', shape: e.shape, data: new Float32Array(bytes.buffer.slice(start, start + 4 * n)), fileDtype: e.dtype };
      }
      return floats((out) => {
        for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      });
    case 'F64':
      return floats((out) => {
        for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      });
    case 'F16':
      return floats((out) => {
        const table = halfToFloatTable();
        for (let i = 0; i < n; i++) out[i] = table[view.getUint16(2 * i, true)];
      });
    case 'BF16':
      return floats((out) => {
        const bits = new Uint32Array(out.buffer);
        for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      });
    case 'I32':
      return ints((i) => view.getInt32(4 * i, true));
    case 'U32':
      return ints((i) => view.getUint32(4 * i, true));
    case 'I64':
      // value = hi * 2^32 + lo; fits in int32 exactly when hi is the sign extension of lo.
      return ints((i) => view.getInt32(8 * i + 4, true) * 2 ** 32 + view.getUint32(8 * i, true));
    case 'U64':
      return ints((i) => view.getUint32(8 * i + 4, true) * 2 ** 32 + view.getUint32(8 * i, true));
    case 'I16':
      return ints((i) => view.getInt16(2 * i, true));
    case 'U16':
      return ints((i) => view.getUint16(2 * i, true));
    case 'I8':
      return ints((i) => view.getInt8(i));
    case 'U8':
      return ints((i) => view.getUint8(i));
    case 'BOOL':
      return ints((i) => (view.getUint8(i) ? 1 : 0));
    default:
      return fail(`tensor '${e.name}': dtype ${e.dtype} is not supported (read: F32, F16, BF16, F64 and integer types)`);
  }
}

/** Every tensor of a safetensors file as host typed arrays (no GPU needed). */
export function parseSafetensors(input: Uint8Array | ArrayBuffer): Map<string, HostTensor> {
  const bytes = asBytes(input);
  const header = parseSafetensorsHeader(bytes);
  const out = new Map<string, HostTensor>();
  for (const e of header.entries) out.set(e.name, decodeEntry(bytes, e));
  return out;
}

async function readBytes(pathOrBytes: string | Uint8Array | ArrayBuffer): Promise<Uint8Array> {
  if (typeof pathOrBytes !== 'string') return asBytes(pathOrBytes);
  const fs = await import('node:fs/promises');
  try {
    return await fs.readFile(pathOrBytes);
  } catch (err) {
    return fail(`cannot read '${pathOrBytes}': ${(err as Error).message}`);
  }
}

/**
 * Load a safetensors file (a path, in Node) or its bytes onto the GPU: name -> Tensor, in file
 * order. Floats become float32 tensors, integers int32 (out-of-range values are an error).
 */
export async function loadSafetensors(pathOrBytes: string | Uint8Array | ArrayBuffer): Promise<Map<string, Tensor>> {
  const bytes = await readBytes(pathOrBytes);
  const header = parseSafetensorsHeader(bytes);
  for (const e of header.entries) {
    if (e.shape.length > MAX_RANK) fail(`tensor '${e.name}' has ${e.shape.length} dimensions; tensors support at most ${MAX_RANK}`);
  }
  const out = new Map<string, Tensor>();
  try {
    // Decode and upload one tensor at a time: the host never holds a second copy of the file.
    for (const e of header.entries) {
      const host = decodeEntry(bytes, e);
      const t = tensor(host.data, host.shape, { dtype: host.dtype });
      t.name = e.name;
      out.set(e.name, t);
    }
  } catch (err) {
    for (const t of out.values()) t.dispose();
    throw err;
  }
  return out;
}

// ---- writing ----------------------------------------------------------------------------------

/** One tensor to encode: values (converted to `dtype`) or raw little-endian bytes. */
export type EncodeEntry =
  | { dtype: 'F32'; shape: readonly number[]; data: Float32Array }
  | { dtype: 'I32' | 'I64'; shape: readonly number[]; data: Int32Array }
  | { dtype: SafetensorsDtype; shape: readonly number[]; bytes: Uint8Array };

/**
 * The bytes of a safetensors file holding `tensors` (in map order) and string `metadata`.
 * The header is padded with spaces to a multiple of 8 bytes, as the reference writer does.
 * Metadata values must be strings.
 */
export function encodeSafetensors(tensors: ReadonlyMap<string, EncodeEntry>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  // "format": "pt" as torch's writer puts it (some loaders check it); the caller may override.
  header.__metadata__ = { format: 'pt', ...metadata };
  for (const [k, v] of Object.entries(header.__metadata__ as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(`metadata '${k}' must be a string, got ${typeof v}`);
  }
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, entry] of tensors) {
    if (typeof name !== 'string' || name === '' || name === '__metadata__') fail(`cannot write a tensor named ${JSON.stringify(name)}`);
    const blob = entryBytes(name, entry);
    const numel = entry.shape.reduce((a, d) => a * d, 1);
    if (blob.length !== numel * DTYPE_BYTES[entry.dtype]) {
      fail(`tensor '${name}': ${blob.length} bytes do not match shape [${entry.shape.join(', ')}] of ${entry.dtype}`);
    }
    Object.defineProperty(header, name, {
      value: { dtype: entry.dtype, shape: [...entry.shape], data_offsets: [offset, offset + blob.length] },
      enumerable: true,
    });
    offset += blob.length;
    blobs.push(blob);
  }
  const jsonBytes = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(jsonBytes.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, padded, true);
  view.setUint32(4, 0, true);
  out.set(jsonBytes, 8);
  out.fill(0x20, 8 + jsonBytes.length, 8 + padded);
  let at = 8 + padded;
  for (const b of blobs) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

function entryBytes(name: string, entry: EncodeEntry): Uint8Array {
  if ('bytes' in entry) {
    if (!Object.prototype.hasOwnProperty.call(DTYPE_BYTES, entry.dtype)) fail(`tensor '${name}': unknown dtype ${entry.dtype}`);
    return entry.bytes;
  }
  const n = entry.data.length;
  if (LITTLE_ENDIAN_HOST && entry.dtype !== 'I64') {
    // Raw bytes: bit-exact, NaN payloads included.
    return new Uint8Array(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength).slice();
  }
  const out = new Uint8Array(n * DTYPE_BYTES[entry.dtype]);
  const view = new DataView(out.buffer);
  switch (entry.dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) view.setFloat32(4 * i, entry.data[i], true);
      break;
    case 'I32':
      for (let i = 0; i < n; i++) view.setInt32(4 * i, entry.data[i], true);
      break;
    case 'I64':
      for (let i = 0; i < n; i++) {
        view.setInt32(8 * i, entry.data[i], true);
        view.setInt32(8 * i + 4, entry.data[i] < 0 ? -1 : 0, true); // sign extension
      }
      break;
    default:
      fail(`tensor '${name}': cannot encode values as ${(entry as { dtype: string }).dtype}`);
  }
  return out;
}

/** How saveSafetensors stores an int32 tensor: I64 for BatchNorm counters (as torch), else I32. */
function intDtypeFor(name: string): 'I32' | 'I64' {
  return name === 'num_batches_tracked' || name.endsWith('.num_batches_tracked') ? 'I64' : 'I32';
}

/** Read tensors back from the GPU and encode them (works in browsers too). */
export async function serializeSafetensors(tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>, metadata?: Record<string, string>): Promise<Uint8Array> {
  const source = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const entries = new Map<string, EncodeEntry>();
  for (const [name, t] of source) {
    if (!(t instanceof Tensor)) fail(`'${name}' is not a Tensor`);
    if (t.isDisposed) fail(`tensor '${name}' was disposed`);
    const data = await t.data();
    entries.set(
      name,
      t.dtype === 'float32'
        ? { dtype: 'F32', shape: t.shape, data: data as Float32Array }
        : { dtype: intDtypeFor(name), shape: t.shape, data: data as Int32Array },
    );
  }
  return encodeSafetensors(entries, metadata);
}

/**
 * Write tensors (e.g. `model.stateDict()`) to a safetensors file, atomically: the bytes go to
 * a temporary file in the same directory, which is then renamed over `path`, so a crash never
 * leaves a half-written file behind. Node only (use serializeSafetensors in a browser).
 */
export async function saveSafetensors(tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>, path: string, metadata?: Record<string, string>): Promise<void> {
  const bytes = await serializeSafetensors(tensors, metadata);
  const fs = await import('node:fs/promises');
  const tmp = `${path}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}.tmp`;
  try {
    const handle = await fs.open(tmp, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, path);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    if (err instanceof SafetensorsError) throw err;
    fail(`cannot write '${path}': ${(err as Error).message}`);
  }
}
