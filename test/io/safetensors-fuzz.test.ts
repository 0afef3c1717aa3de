// Fuzzing the safetensors reader: a valid file is mutated (byte flips in the header and the data,
// truncations, header-length rewrites, structured edits of the JSON fields) for a fixed number
// of seeded iterations. Every result must either parse into a self-consistent set of tensors or
// raise a SafetensorsError — never another exception, a hang, or a huge allocation.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import * as wg from '../../src/index.js';
import { fixturePath } from '../helpers.js';

const { parseSafetensors, encodeSafetensors, SafetensorsError } = wg.io;
type EncodeEntry = wg.io.EncodeEntry;

const ITERATIONS = 500;
const ELEMENT_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, U8: 1, I8: 1, BOOL: 1, I16: 2, U16: 2, U32: 4, U64: 8 };

/** mulberry32: a tiny seeded PRNG, so every failure reproduces from its iteration number. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function baseFile(): Uint8Array {
  const u16 = new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b]);
  return encodeSafetensors(new Map<string, EncodeEntry>([
    ['conv.weight', { dtype: 'F32', shape: [2, 1, 2, 2], data: Float32Array.from({ length: 8 }, (_, i) => i * 0.5 - 1) }],
    ['bn.num_batches_tracked', { dtype: 'I64', shape: [], data: Int32Array.of(7) }],
    ['half', { dtype: 'F16', shape: [3], bytes: u16 }],
    ['labels', { dtype: 'I32', shape: [2, 2], data: Int32Array.of(1, -2, 3, -4) }],
    ['empty', { dtype: 'F32', shape: [0], data: new Float32Array(0) }],
  ]));
}

/** Structured mutation: edit one field of the parsed header, keep the data region. */
function mutateHeader(file: Uint8Array, r: () => number): Uint8Array {
  const n = new DataView(file.buffer, file.byteOffset).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<string, Record<string, unknown>>;
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const entry = header[names[Math.floor(r() * names.length)]];
  const weird = [-1, 0, 1, 3, 2 ** 31, 2 ** 53, 1e300, 0.5, NaN, 'x', null, [], {}, [1, 2, 3]];
  const pick = () => weird[Math.floor(r() * weird.length)];
  switch (Math.floor(r() * 6)) {
    case 0: entry.dtype = ['F32', 'F16', 'I64', 'U8', 'F8_E5M2', 'Q4', '', 7][Math.floor(r() * 8)]; break;
    case 1: (entry.shape as unknown[]) = Array.isArray(entry.shape) && entry.shape.length ? entry.shape.map((d) => (r() < 0.5 ? pick() : d)) : [pick()]; break;
    case 2: (entry.data_offsets as unknown[])[Math.floor(r() * 2)] = pick(); break;
    case 3: entry.data_offsets = pick(); break;
    case 4: delete header[names[0]]; break;
    default: header.__metadata__ = pick() as never; break;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + (file.length - 8 - n));
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(file.subarray(8 + n), 8 + json.length);
  return out;
}

function mutate(file: Uint8Array, r: () => number): Uint8Array {
  const out = file.slice();
  const view = new DataView(out.buffer);
  const n = view.getUint32(0, true);
  const kind = Math.floor(r() * 6);
  const flips = 1 + Math.floor(r() * 4);
  switch (kind) {
    case 0: // byte flips in the header
      for (let i = 0; i < flips; i++) out[8 + Math.floor(r() * n)] ^= 1 << Math.floor(r() * 8);
      return out;
    case 1: // byte flips in the data (always parses: values change, structure does not)
      for (let i = 0; i < flips; i++) out[8 + n + Math.floor(r() * (out.length - 8 - n))] = Math.floor(r() * 256);
      return out;
    case 2: // truncation anywhere
      return out.subarray(0, Math.floor(r() * out.length));
    case 3: { // header length rewritten: small shifts, zero, huge, high word
      const choices = [n + 1, n - 1, n + 8, n - 8, 0, out.length, out.length - 8, 0xffffffff];
      view.setUint32(0, choices[Math.floor(r() * choices.length)] >>> 0, true);
      if (r() < 0.2) view.setUint32(4, 1 + Math.floor(r() * 0xffff), true);
      return out;
    }
    case 4: { // bytes appended or removed inside the header
      const at = 8 + Math.floor(r() * n);
      const extra = new Uint8Array(out.length + 1);
      extra.set(out.subarray(0, at));
      extra[at] = '0123456789-,]}[{":e'.charCodeAt(Math.floor(r() * 19));
      extra.set(out.subarray(at), at + 1);
      return extra;
    }
    default:
      return mutateHeader(file, r);
  }
}

/** A parse result is consistent when every tensor's data matches its shape. */
function checkConsistent(tensors: Map<string, wg.io.HostTensor>): void {
  for (const [name, t] of tensors) {
    expect(typeof name).toBe('string');
    expect(t.shape.every((d) => Number.isSafeInteger(d) && d >= 0), name).toBe(true);
    expect(t.data.length, name).toBe(t.shape.reduce((a, d) => a * d, 1));
    expect(ELEMENT_BYTES[t.fileDtype], name).toBeGreaterThan(0);
    expect(t.data instanceof (t.dtype === 'float32' ? Float32Array : Int32Array)).toBe(true);
  }
}

describe('safetensors fuzz', () => {
  it(`${ITERATIONS} seeded mutations of a small file: parse consistently or SafetensorsError`, () => {
    const base = baseFile();
    const r = rng(0x5afe7e45);
    const outcomes = { parsed: 0, rejected: 0 };
    const start = performance.now();
    for (let i = 0; i < ITERATIONS; i++) {
      const bytes = mutate(base, r);
      let result: Map<string, wg.io.HostTensor> | null = null;
      try {
        result = parseSafetensors(bytes);
      } catch (err) {
        if (!(err instanceof SafetensorsError)) throw new Error(`iteration ${i}: ${String(err)} is not a SafetensorsError`);
        outcomes.rejected++;
        continue;
      }
      checkConsistent(result);
      // Parsing is deterministic: the same bytes give the same tensors.
      const again = parseSafetensors(bytes);
      expect([...again.keys()]).toEqual([...result.keys()]);
      outcomes.parsed++;
    }
    // Both outcomes occur: the mutations are neither all harmless nor all fatal.
    expect(outcomes.parsed).toBeGreaterThan(20);
    expect(outcomes.rejected).toBeGreaterThan(100);
    expect(performance.now() - start).toBeLessThan(10_000);
  });

  it('mutations of the PyTorch-written fixture never escape as other errors', () => {
    const base = new Uint8Array(readFileSync(fixturePath('cifar_resnet20_A.safetensors')));
    const r = rng(20);
    for (let i = 0; i < 100; i++) {
      try {
        checkConsistent(parseSafetensors(mutate(base, r)));
      } catch (err) {
        if (!(err instanceof SafetensorsError)) throw new Error(`iteration ${i}: ${String(err)} is not a SafetensorsError`);
      }
    }
  });
});
