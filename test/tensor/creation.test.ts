// Creating and reading tensors: shapes, dtypes, empty and size-1 dimensions.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';

useDevice();

describe('creation', () => {
  it('nested arrays infer the shape', async () => {
    const t = wg.tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(await t.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
  });
  it('int32 round trip keeps small integers exact (no denormal flush)', async () => {
    const labels = wg.tensor(new Int32Array([0, 1, 7, 9, -3, 123456789]));
    expect(labels.dtype).toBe('int32');
    expect(Array.from(await labels.data())).toEqual([0, 1, 7, 9, -3, 123456789]);
    expect(Array.from(await labels.slice(0, 1, 6, 2).contiguous().data())).toEqual([1, 9, 123456789]);
    expect(Array.from(await labels.to('float32').data())).toEqual([0, 1, 7, 9, -3, 123456792]);
  });
  it('full, zeros, ones, arange', async () => {
    expect(Array.from(await wg.full([2, 2], 2.5).data())).toEqual([2.5, 2.5, 2.5, 2.5]);
    expect(Array.from(await wg.arange(5).data())).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(await wg.arange(1, 2, 0.25).data())).toEqual([1, 1.25, 1.5, 1.75]);
    expect(Array.from(await wg.full([3], 4, { dtype: 'int32' }).data())).toEqual([4, 4, 4]);
  });
  it('fill (full, arange) writes every element, as the host computes it', async () => {
    // Sizes of whole vec4s and not, past one workgroup's tile (256 lanes x 4 vec4s) and with a
    // partial last tile. Each buffer comes back from the pool full of NaNs first, so an element
    // the kernel skipped would show.
    const f32 = Math.fround;
    for (const n of [4, 7, 4096, 4100, 4101, 70000]) {
      for (const [dtype, start, step] of [['float32', -3.25, 0.37], ['int32', -5, 3]] as const) {
        wg.full([n], Number.NaN).dispose();
        const t = wg.arange(start, start + n * step - step / 2, step, { dtype });
        expect(t.size, `${dtype} ${n}`).toBe(n);
        const got = await t.data();
        const want = Array.from({ length: n }, (_, i) => f32(f32(start) + f32(f32(i) * f32(step))));
        if (dtype === 'int32') {
          expect(Array.from(got), `int32 arange ${n}`).toEqual(want.map(Math.round));
        } else {
          // (A GPU compiler may fuse start + i * step into one fma: one rounding less.)
          const worst = Math.max(...want.map((w, i) => Math.abs(got[i] - w) / (Math.abs(w) + 1)));
          expect(worst, `float32 arange ${n}`).toBeLessThan(1e-6);
        }
        t.dispose();
      }
      wg.full([n], Number.NaN).dispose();
      const c = wg.full([n], 2.5);
      expect((await c.data()).every((v) => v === 2.5), `full ${n}`).toBe(true);
      c.dispose();
      const z = wg.full([n], -0);   // the sign of zero survives, as in torch.full
      expect((await z.data()).every((v) => Object.is(v, -0)), `full -0 ${n}`).toBe(true);
      z.dispose();
    }
  });
  it('to(): int32 <-> float32 over sizes around the cast kernel\'s tiles (256 lanes x 4 vec4s)', async () => {
    for (const n of [1, 5, 4096, 4099, 9000]) {
      const ints = Int32Array.from({ length: n }, (_, i) => ((i * 7919) % 200003) - 100001 + (i === 0 ? 123456789 - 100001 : 0));
      const f = wg.tensor(ints, [n]).to('float32');
      expect(Array.from(await f.data()), `int32 -> float32, ${n}`).toEqual(Array.from(ints, (v) => Math.fround(v)));
      const floats = Float32Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * (i * 0.37 + 0.5));
      const t = wg.tensor(floats, [n]).to('int32');
      expect(Array.from(await t.data()), `float32 -> int32, ${n}`).toEqual(Array.from(floats, (v) => Math.trunc(v) | 0));
      f.dispose();
      t.dispose();
    }
  });
  it('empty and size-1 dimensions work through ops', async () => {
    const e = wg.zeros([0, 3]);
    expect(e.size).toBe(0);
    expect(Array.from(await e.add(1).data())).toEqual([]);
    expect(Array.from(await e.sum(0).data())).toEqual([0, 0, 0]);
    const s = wg.tensor([5], [1, 1, 1]);
    expect(Array.from(await s.add(wg.ones([2, 1])).data())).toEqual([6, 6]);
    expect(await wg.tensor(3).item()).toBe(3);
  });
  it('argmax along an axis returns int32 indices, first on ties', async () => {
    const t = wg.tensor([[1, 5, 5], [7, 0, 2]]);
    expect(Array.from(await t.argmax(1).data())).toEqual([1, 0]);
    expect(Array.from(await t.argmax(0).data())).toEqual([1, 0, 0]);
  });
});
