// The Philox generator: GPU output equals the host reference bit for bit; seeding works.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';
import { philoxUniformRef, philox4x32 } from '../../src/kernels/reference/philox.js';

useDevice();

describe('random', () => {
  it('philox matches the Random123 known-answer vector', () => {
    // Random123 kat_vectors: philox4x32_10, counter 0, key 0
    expect(philox4x32([0, 0, 0, 0], [0, 0]).map((v) => v.toString(16))).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
  });
  it('GPU uniform equals the host reference exactly', async () => {
    const t = wg.rand([1001], { seed: 1234 });
    expect(Array.from(await t.data())).toEqual(Array.from(philoxUniformRef(1001, 1234, 0)));
  });
  it('same seed, same numbers; manualSeed makes the global stream reproducible', async () => {
    wg.manualSeed(7);
    const a = await wg.randn([100]).data();
    const b = await wg.randn([100]).data();
    wg.manualSeed(7);
    const c = await wg.randn([100]).data();
    expect(Array.from(a)).toEqual(Array.from(c));
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });
  it('randn has mean ~0 and std ~1; rand bounds hold', async () => {
    const n = Array.from(await wg.randn([100000], { seed: 3 }).data());
    const mean = n.reduce((s, v) => s + v, 0) / n.length;
    const std = Math.sqrt(n.reduce((s, v) => s + (v - mean) ** 2, 0) / n.length);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(std - 1)).toBeLessThan(0.02);
    const u = await wg.rand([10000], { seed: 4, low: -2, high: 3 }).data();
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-2);
    expect(Math.max(...u)).toBeLessThan(3);
  });
});
