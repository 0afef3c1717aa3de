// safetensors: reading the PyTorch-written fixtures, dtype conversions, every kind of malformed
// file rejected with a SafetensorsError, GPU load/save round trips (bit-exact), atomic writes.
import { describe, it, expect } from 'vitest';
import { readFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as wg from '../../src/index.js';
import { useDevice, fixturePath } from '../helpers.js';

useDevice();

const { parseSafetensors, parseSafetensorsHeader, encodeSafetensors, loadSafetensors, saveSafetensors, SafetensorsError } = wg.io;
type EncodeEntry = wg.io.EncodeEntry;

/** A file from a raw header object (any JSON) and a data region. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(0), headerLength?: number): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength ?? json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function u16bytes(values: number[]): Uint8Array {
  const b = new Uint8Array(values.length * 2);
  values.forEach((v, i) => new DataView(b.buffer).setUint16(2 * i, v, true));
  return b;
}

function expectError(bytes: Uint8Array, pattern: RegExp): void {
  let err: unknown;
  try {
    parseSafetensors(bytes);
  } catch (e) {
    err = e;
  }
  expect(err, `expected a SafetensorsError matching ${pattern}`).toBeInstanceOf(SafetensorsError);
  expect((err as Error).message).toMatch(pattern);
}

const f32 = (shape: number[], data: number[]): EncodeEntry => ({ dtype: 'F32', shape, data: Float32Array.from(data) });

describe('parseSafetensors (host only)', () => {
  it('reads the PyTorch-written CIFAR ResNet-20 fixture', () => {
    const bytes = readFileSync(fixturePath('cifar_resnet20_A.safetensors'));
    const header = parseSafetensorsHeader(bytes);
    expect(header.metadata).toEqual({ format: 'pt' });
    const tensors = parseSafetensors(bytes);
    expect(tensors.size).toBe(116);
    expect([...tensors.keys()].slice(0, 6)).toEqual([
      'conv1.weight', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'bn1.num_batches_tracked',
    ]);
    const nbt = tensors.get('bn1.num_batches_tracked')!;
    expect(nbt).toMatchObject({ dtype: 'int32', shape: [], fileDtype: 'I64' });
    expect(Array.from(nbt.data)).toEqual([7]);
    expect(tensors.get('conv1.weight')!.shape).toEqual([16, 3, 3, 3]);
    expect(tensors.get('fc.weight')!.data.length).toBe(640);
  });

  it('round-trips F32/I32/I64 with identical bits (NaN payloads, -0, subnormals, infinities)', () => {
    const bits = new Uint32Array([0x7fc00001, 0x80000000, 0x00000001, 0x7f800000, 0xff800000, 0x3f800000]);
    const ints = new Int32Array([0, -1, 2147483647, -2147483648]);
    const entries = new Map<string, EncodeEntry>([
      ['floats', { dtype: 'F32', shape: [2, 3], data: new Float32Array(bits.buffer) }],
      ['ints', { dtype: 'I32', shape: [4], data: ints }],
      ['longs', { dtype: 'I64', shape: [2, 2], data: ints }],
      ['empty', { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) }],
      ['scalar', f32([], [2.5])],
    ]);
    const bytes = encodeSafetensors(entries, { hello: 'world' });
    expect((bytes.length - 8 - new DataView(bytes.buffer).getUint32(0, true)) % 1).toBe(0);
    expect(new DataView(bytes.buffer).getUint32(0, true) % 8).toBe(0); // padded header
    const back = parseSafetensors(bytes);
    expect(parseSafetensorsHeader(bytes).metadata).toEqual({ format: 'pt', hello: 'world' });
    expect(Array.from(new Uint32Array(back.get('floats')!.data.buffer))).toEqual(Array.from(bits));
    expect(Array.from(back.get('ints')!.data)).toEqual(Array.from(ints));
    expect(back.get('longs')).toMatchObject({ dtype: 'int32', shape: [2, 2], fileDtype: 'I64' });
    expect(Array.from(back.get('longs')!.data)).toEqual(Array.from(ints));
    expect(back.get('empty')!.shape).toEqual([0, 3]);
    expect(Array.from(back.get('scalar')!.data)).toEqual([2.5]);
  });

  it('converts F16, BF16, F64 to float32 and small integer types to int32', () => {
    const f64 = new Uint8Array(16);
    new DataView(f64.buffer).setFloat64(0, 0.1, true);
    new DataView(f64.buffer).setFloat64(8, -3, true);
    const bytes = encodeSafetensors(new Map<string, EncodeEntry>([
      // 1, -2, 0.5, 65504 (max), 2^-24 (smallest subnormal), inf, -0, NaN
      ['h', { dtype: 'F16', shape: [8], bytes: u16bytes([0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x7c00, 0x8000, 0x7e00]) }],
      ['bf', { dtype: 'BF16', shape: [3], bytes: u16bytes([0x3f80, 0xc0a0, 0x4049]) }],
      ['d', { dtype: 'F64', shape: [2], bytes: f64 }],
      ['u8', { dtype: 'U8', shape: [3], bytes: Uint8Array.from([0, 200, 255]) }],
      ['i8', { dtype: 'I8', shape: [2], bytes: Uint8Array.from([0xff, 0x7f]) }],
      ['b', { dtype: 'BOOL', shape: [2], bytes: Uint8Array.from([0, 1]) }],
      ['i16', { dtype: 'I16', shape: [1], bytes: u16bytes([0x8000]) }],
    ]));
    const t = parseSafetensors(bytes);
    const h = Array.from(t.get('h')!.data);
    expect(h.slice(0, 6)).toEqual([1, -2, 0.5, 65504, 2 ** -24, Infinity]);
    expect(Object.is(h[6], -0)).toBe(true);
    expect(h[7]).toBeNaN();
    expect(Array.from(t.get('bf')!.data)).toEqual([1, -5, Math.fround(3.140625)]);
    expect(Array.from(t.get('d')!.data)).toEqual([Math.fround(0.1), -3]);
    expect(Array.from(t.get('u8')!.data)).toEqual([0, 200, 255]);
    expect(Array.from(t.get('i8')!.data)).toEqual([-1, 127]);
    expect(Array.from(t.get('b')!.data)).toEqual([0, 1]);
    expect(Array.from(t.get('i16')!.data)).toEqual([-32768]);
  });

  it('I64 values outside int32 are an error, naming the tensor and the value', () => {
    const long = new Uint8Array(8);
    new DataView(long.buffer).setUint32(0, 0x80000000, true); // 2^31, hi word 0
    expectError(encodeSafetensors(new Map<string, EncodeEntry>([['big', { dtype: 'I64', shape: [1], bytes: long }]])), /'big': I64 value 2147483648 at index 0 does not fit in int32/);
    new DataView(long.buffer).setUint32(4, 0xffffffff, true); // -2^31: fits
    expect(Array.from(parseSafetensors(encodeSafetensors(new Map<string, EncodeEntry>([['ok', { dtype: 'I64', shape: [1], bytes: long }]]))).get('ok')!.data)).toEqual([-(2 ** 31)]);
  });

  const valid = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'I32', shape: [1], data_offsets: [8, 12] } };
  const data12 = new Uint8Array(12);
  const malformed: [string, () => Uint8Array, RegExp][] = [
    ['fewer than 8 bytes', () => new Uint8Array(5), /5 bytes; a file starts with an 8-byte header length/],
    ['header length past the end', () => rawFile(valid, data12, 5000), /header length 5000 runs past the end/],
    ['absurd header length (high word)', () => { const b = rawFile(valid, data12); new DataView(b.buffer).setUint32(4, 1, true); return b; }, /larger than the \d+-byte limit/],
    ['header length over the cap', () => rawFile(valid, data12, 200 * 1024 * 1024), /larger than the 104857600-byte limit/],
    ['zero header length', () => rawFile(valid, data12, 0), /too small/],
    ['invalid UTF-8', () => { const b = rawFile(valid, data12); b[9] = 0xff; return b; }, /not valid UTF-8/],
    ['not starting with {', () => rawFile(' {}'), /must start with '\{'/],
    ['malformed JSON', () => rawFile('{"a": {"dtype": "F32",'), /not valid JSON/],
    ['array header', () => rawFile('[1, 2]'), /must start with/],
    ['entry not an object', () => rawFile({ a: 3 }), /'a': entry must be an object/],
    ['dtype not a string', () => rawFile({ a: { dtype: 4, shape: [], data_offsets: [0, 4] } }, new Uint8Array(4)), /dtype must be a string/],
    ['unknown dtype', () => rawFile({ a: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /unknown dtype "F33"/],
    ['unsupported dtype', () => rawFile({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /F8_E4M3 is not supported/],
    ['shape not an array', () => rawFile({ a: { dtype: 'F32', shape: 2, data_offsets: [0, 8] } }, new Uint8Array(8)), /shape must be an array/],
    ['negative dimension', () => rawFile({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, new Uint8Array(8)), /invalid dimension -2/],
    ['fractional dimension', () => rawFile({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, new Uint8Array(8)), /invalid dimension 1.5/],
    ['huge dimensions', () => rawFile({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, new Uint8Array(8)), /needs more bytes than the 8-byte data region/],
    ['too many dimensions', () => rawFile({ a: { dtype: 'F32', shape: new Array(65).fill(1), data_offsets: [0, 4] } }, new Uint8Array(4)), /65 dimensions/],
    ['offsets not a pair', () => rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, new Uint8Array(4)), /data_offsets must be \[begin, end\]/],
    ['reversed offsets', () => rawFile({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, new Uint8Array(4)), /invalid data_offsets/],
    ['negative offset', () => rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, new Uint8Array(4)), /invalid data_offsets/],
    ['offsets past the data', () => rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(4)), /run past the 4-byte data region/],
    ['byte count vs shape', () => rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), /span 8 bytes but shape \[1\] of F32 needs 4/],
    ['overlapping tensors', () => rawFile({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /overlaps/],
    ['a hole', () => rawFile({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, new Uint8Array(12)), /bytes 4\.\.8 of the data region belong to no tensor/],
    ['trailing bytes', () => rawFile(valid, new Uint8Array(16)), /the data region is 16 bytes but the tensors cover 12/],
    ['truncated data', () => rawFile(valid, new Uint8Array(10)), /run past the 10-byte data region/],
    ['metadata not strings', () => rawFile({ __metadata__: { a: 1 } }), /__metadata__\['a'\] must be a string/],
    ['metadata not an object', () => rawFile({ __metadata__: 'x' }), /__metadata__ must be an object/],
    ['empty tensor name', () => rawFile({ '': { dtype: 'F32', shape: [0], data_offsets: [0, 0] } }), /empty name/],
    ['not bytes at all', () => 'hello' as unknown as Uint8Array, /expected a Uint8Array or ArrayBuffer/],
  ];
  it.each(malformed)('rejects %s', (_what, make, pattern) => {
    expectError(make(), pattern);
  });

  it('a valid minimal file parses; an empty header object is an empty file', () => {
    expect(parseSafetensors(rawFile(valid, data12)).size).toBe(2);
    expect(parseSafetensors(rawFile({})).size).toBe(0);
    expect(parseSafetensors(rawFile('{}    ')).size).toBe(0); // trailing-space padding
    // '__proto__' as a name stays an ordinary key
    const proto = parseSafetensors(rawFile('{"__proto__": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', new Uint8Array(4)));
    expect([...proto.keys()]).toEqual(['__proto__']);
  });
});

describe('loadSafetensors / saveSafetensors (GPU)', () => {
  it('loads a path or bytes into GPU tensors named by their keys', async () => {
    const weights = await loadSafetensors(fixturePath('cifar_resnet20_B.safetensors'));
    const host = parseSafetensors(readFileSync(fixturePath('cifar_resnet20_B.safetensors')));
    expect([...weights.keys()]).toEqual([...host.keys()]);
    const w = weights.get('layer2.0.downsample.0.weight')!;
    expect(w.shape).toEqual([32, 16, 1, 1]);
    expect(w.name).toBe('layer2.0.downsample.0.weight');
    expect(Array.from(await w.data())).toEqual(Array.from(host.get('layer2.0.downsample.0.weight')!.data));
    const nbt = weights.get('layer3.2.bn2.num_batches_tracked')!;
    expect(nbt.dtype).toBe('int32');
    expect(await nbt.item()).toBe(7);
    for (const t of weights.values()) t.dispose();
    const fromBytes = await loadSafetensors(new Uint8Array(readFileSync(fixturePath('cifar_resnet20_A.safetensors'))));
    expect(fromBytes.size).toBe(116);
    for (const t of fromBytes.values()) t.dispose();
  });

  it('save -> load gives identical bits; num_batches_tracked is written as I64; the write is atomic', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wg-st-'));
    try {
      const bits = new Uint32Array([0x7fc00001, 0x80000000, 0x00000001, 0x7f800000, 0x3eaaaaab, 0xc2f60000]);
      const map = new Map<string, wg.Tensor>([
        ['w', wg.tensor(new Float32Array(bits.buffer), [2, 3])],
        ['bn.num_batches_tracked', wg.tensor(new Int32Array([12345]), [])],
        ['idx', wg.tensor(new Int32Array([-5, 7]))],
        ['view', wg.arange(6).reshape([2, 3]).transpose(0, 1)],
      ]);
      const path = join(dir, 'model.safetensors');
      await saveSafetensors(map, path);
      await saveSafetensors(map, path); // overwrite in place
      expect(readdirSync(dir)).toEqual(['model.safetensors']); // no temporary left behind
      const header = parseSafetensorsHeader(readFileSync(path));
      expect(header.entries.map((e) => [e.name, e.dtype, e.shape])).toEqual([
        ['w', 'F32', [2, 3]], ['bn.num_batches_tracked', 'I64', []], ['idx', 'I32', [2]], ['view', 'F32', [3, 2]],
      ]);
      const back = await loadSafetensors(path);
      expect(Array.from(new Uint32Array((await back.get('w')!.data()).buffer))).toEqual(Array.from(bits));
      expect(await back.get('bn.num_batches_tracked')!.item()).toBe(12345);
      expect(Array.from(await back.get('idx')!.data())).toEqual([-5, 7]);
      expect(Array.from(await back.get('view')!.data())).toEqual([0, 3, 1, 4, 2, 5]);
      for (const t of [...map.values(), ...back.values()]) t.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('I/O failures and bad inputs are SafetensorsErrors', async () => {
    await expect(loadSafetensors('/nonexistent/dir/x.safetensors')).rejects.toThrow(SafetensorsError);
    const t = wg.ones([1]);
    await expect(saveSafetensors(new Map([['a', t]]), '/nonexistent/dir/x.safetensors')).rejects.toThrow(/cannot write/);
    await expect(saveSafetensors(new Map([['__metadata__', t]]), join(tmpdir(), 'never.safetensors'))).rejects.toThrow(SafetensorsError);
    await expect(loadSafetensors(new Uint8Array(3))).rejects.toThrow(SafetensorsError);
    t.dispose();
  });
});
