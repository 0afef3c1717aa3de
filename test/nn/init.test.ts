// nn.init: in-place fills on the GPU RNG with torch's formulas (gains, fans, bounds), contiguous
// and strided targets, and argument checks.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';

useDevice();
const { init } = wg.nn;

async function moments(t: wg.Tensor): Promise<{ mean: number; std: number; min: number; max: number }> {
  const d = await t.data();
  let s = 0;
  let s2 = 0;
  for (const v of d) {
    s += v;
    s2 += v * v;
  }
  const mean = s / d.length;
  return { mean, std: Math.sqrt(s2 / d.length - mean * mean), min: Math.min(...d), max: Math.max(...d) };
}

describe('nn.init', () => {
  it('calculateGain and fans follow torch', () => {
    expect(init.calculateGain('relu')).toBeCloseTo(Math.SQRT2, 12);
    expect(init.calculateGain('tanh')).toBeCloseTo(5 / 3, 12);
    expect(init.calculateGain('leaky_relu', Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 12);
    expect(init.calculateGain('conv2d')).toBe(1);
    expect(init.calculateFanInAndFanOut({ shape: [64, 32, 3, 3] })).toEqual({ fanIn: 288, fanOut: 576 });
    expect(init.calculateFanInAndFanOut({ shape: [10, 512] })).toEqual({ fanIn: 512, fanOut: 10 });
    expect(() => init.calculateFanInAndFanOut({ shape: [5] })).toThrow(/fewer than 2 dimensions/);
  });

  it('kaimingNormal_ (fan_out, relu) and kaimingUniform_ (a = sqrt 5) write in place with the right spread', async () => {
    wg.manualSeed(3);
    const w = wg.zeros([128, 64, 3, 3]);
    const buffer = w.buffer;
    expect(init.kaimingNormal_(w, { mode: 'fan_out', nonlinearity: 'relu' })).toBe(w);
    expect(w.buffer).toBe(buffer);
    const std = Math.SQRT2 / Math.sqrt(128 * 9);
    const m = await moments(w);
    expect(Math.abs(m.mean)).toBeLessThan(std * 0.02);
    expect(m.std / std).toBeGreaterThan(0.98);
    expect(m.std / std).toBeLessThan(1.02);
    init.kaimingUniform_(w, { a: Math.sqrt(5) });
    const bound = 1 / Math.sqrt(64 * 9);
    const u = await moments(w);
    expect(u.max).toBeLessThanOrEqual(bound);
    expect(u.min).toBeGreaterThanOrEqual(-bound);
    expect(u.std / (bound / Math.sqrt(3))).toBeCloseTo(1, 1);
    w.dispose();
  });

  it('uniform_, normal_, constant_, zeros_, ones_, xavier', async () => {
    const t = wg.zeros([200, 100]);
    init.uniform_(t, 2, 3);
    const u = await moments(t);
    expect(u.min).toBeGreaterThanOrEqual(2);
    expect(u.max).toBeLessThan(3);
    init.normal_(t, 5, 0.5);
    const n = await moments(t);
    expect(n.mean).toBeCloseTo(5, 1);
    expect(n.std).toBeCloseTo(0.5, 1);
    init.xavierUniform_(t);
    expect((await moments(t)).max).toBeLessThanOrEqual(Math.sqrt(6 / 300));
    init.xavierNormal_(t, 2);
    expect((await moments(t)).std).toBeCloseTo(2 * Math.sqrt(2 / 300), 2);
    init.ones_(t);
    expect(await moments(t)).toMatchObject({ min: 1, max: 1 });
    init.zeros_(t);
    expect(await moments(t)).toMatchObject({ min: 0, max: 0 });
    const ints = wg.zeros([3], { dtype: 'int32' });
    init.constant_(ints, 7);
    expect(Array.from(await ints.data())).toEqual([7, 7, 7]);
    t.dispose();
    ints.dispose();
  });

  it('fills strided views in place, leaving the rest of the storage alone', async () => {
    const base = wg.zeros([4, 4]);
    const col = base.slice(1, 1, 2); // column 1, stride 4
    init.constant_(col, 3);
    init.uniform_(base.slice(0, 3, 4).slice(1, 2, 4), 10, 11); // row 3, columns 2..3
    const d = Array.from(await base.data());
    expect(d.filter((v) => v === 3).length).toBe(4);
    expect([0, 1, 2, 3].map((r) => d[4 * r + 1])).toEqual([3, 3, 3, 3]);
    expect(d[14] >= 10 && d[15] >= 10).toBe(true);
    expect(d.filter((v) => v === 0).length).toBe(10);
    col.dispose();
    base.dispose();
  });

  it('rejects bad arguments and leaks nothing', () => {
    const before = wg.memory().liveTensors;
    const t = wg.zeros([2, 2]);
    const vector = wg.zeros([3]);
    const ints = wg.zeros([2], { dtype: 'int32' });
    expect(() => init.uniform_(t, 1, 0)).toThrow(/a <= b/);
    expect(() => init.normal_(t, 0, -1)).toThrow(/std >= 0/);
    expect(() => init.kaimingNormal_(vector)).toThrow(/fewer than 2 dimensions/);
    expect(() => init.kaimingNormal_(t, { mode: 'fan_avg' as never })).toThrow(/'fan_in' or 'fan_out'/);
    expect(() => init.normal_(ints)).toThrow(/float32/);
    expect(() => init.calculateGain('swish' as never)).toThrow(/unsupported nonlinearity/);
    init.normal_(t);
    for (const x of [t, vector, ints]) x.dispose();
    expect(wg.memory().liveTensors).toBe(before);
  });
});
