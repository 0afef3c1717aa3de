// F.dropout: the mask is exactly the Philox reference's (seeded), survivors are scaled by
// 1/(1-p), backward multiplies by the saved mask, p = 0 / eval is the identity, p = 1 drops all.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice, expectClose } from '../helpers.js';
import { gradcheck, hostRandom, randomArray } from '../gradcheck.js';
import { philoxUniformRef } from '../../src/kernels/reference/philox.js';

useDevice();
const F = wg.nn.functional;
const rnd = hostRandom(77);

describe('dropout', () => {
  it('keeps exactly the elements the Philox reference keeps, scaled by 1/(1-p); backward uses the same mask', async () => {
    const n = 4099; // not a multiple of 4: the last Philox block is partial
    const p = 0.3;
    const data = randomArray(n, rnd, 0.5, 2); // non-zero, so zeros in y are drops
    const x = wg.tensor(data, [n], { requiresGrad: true });
    const y = F.dropout(x, p, true, { seed: 1234 });
    const u = philoxUniformRef(n, 1234, 0);
    const scale = Math.fround(1 / (1 - p));
    const expected = data.map((v, i) => (u[i] >= Math.fround(p) ? Math.fround(v * scale) : 0));
    expect(Array.from(await y.data())).toEqual(expected);
    const kept = expected.filter((v) => v !== 0).length / n;
    expect(Math.abs(kept - (1 - p))).toBeLessThan(0.03);
    const gyData = randomArray(n, rnd);
    const gy = wg.tensor(gyData, [n]);
    y.backward(gy);
    expectClose(await x.grad!.data(), gyData.map((g, i) => (u[i] >= Math.fround(p) ? g * scale : 0)), 1e-6, 'dx');
    x.grad!.dispose();
    x.grad = null;
    for (const t of [x, y, gy]) t.dispose();
  });

  it('is reproducible with a seed and differs between seeds and between unseeded calls', async () => {
    const x = wg.ones([2, 3, 8, 8]);
    const ys = [7, 7, 8, undefined, undefined].map((seed) => F.dropout(x, 0.5, true, seed === undefined ? {} : { seed }));
    const [a, b, c, d1, d2] = await Promise.all(ys.map((y) => y.data()));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(d1).not.toEqual(d2);
    // Disposed here, not left to the garbage collector: its finalizer would release them at some
    // later point, in the middle of another test's memory count.
    for (const t of [x, ...ys]) t.dispose();
  });

  it('p = 0 and training = false are the identity (gradient passes through); p = 1 drops everything', async () => {
    const data = randomArray(12, rnd);
    for (const [p, training] of [[0, true], [0.5, false]] as const) {
      const x = wg.tensor(data, [3, 4], { requiresGrad: true });
      const y = F.dropout(x, p, training);
      expect(y).not.toBe(x);
      expectClose(await y.data(), data, 0, 'identity');
      const s = y.sum();
      s.backward();
      expectClose(await x.grad!.data(), new Array(12).fill(1), 0, 'identity grad');
      x.grad!.dispose();
      x.grad = null;
      for (const t of [x, y, s]) t.dispose();
    }
    const x = wg.tensor(data, [3, 4], { requiresGrad: true });
    const y = F.dropout(x, 1, true);
    expectClose(await y.data(), new Array(12).fill(0), 0, 'p = 1');
    const s = y.sum();
    s.backward();
    expectClose(await x.grad!.data(), new Array(12).fill(0), 0, 'p = 1 grad');
    x.grad!.dispose();
    x.grad = null;
    for (const t of [x, y, s]) t.dispose();
  });

  it('works on non-contiguous inputs and leaves no tensors behind', async () => {
    const x = wg.randn([4, 6], { seed: 3 });
    x.requiresGrad = true;
    await wg.sync();
    const before = wg.memory();
    const t = wg.transpose(x, 0, 1);
    const y = F.dropout(t, 0.25, true, { seed: 5 });
    const tc = wg.contiguous(t);
    const yc = F.dropout(tc, 0.25, true, { seed: 5 });
    expect(await y.data()).toEqual(await yc.data());
    const s = y.sum();
    s.backward();
    await x.grad!.data();
    x.grad!.dispose();
    x.grad = null;
    for (const v of [t, y, tc, yc, s]) v.dispose();
    const after = wg.memory();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    x.dispose();
  });

  it('gradient vs finite differences (a seeded mask makes dropout a fixed linear map)', () => {
    const p = 0.4;
    const n = 30;
    const u = philoxUniformRef(n, 99, 0);
    const scale = Math.fround(1 / (1 - p));
    return gradcheck({
      name: 'dropout',
      inputs: [{ shape: [5, 6], data: randomArray(n, rnd) }],
      gpu: ([x]) => F.dropout(x, p, true, { seed: 99 }),
      ref: ([x]) => x.map((v, i) => (u[i] >= Math.fround(p) ? v * scale : 0)),
    });
  });

  it('rejects bad arguments', () => {
    const x = wg.zeros([3]);
    expect(() => F.dropout(x, -0.1, true)).toThrow(/dropout: p must be a probability/);
    expect(() => F.dropout(x, 0.5, true, { seed: -1 })).toThrow(/dropout: seed must be a non-negative integer/);
    expect(() => F.dropout(wg.zeros([3], { dtype: 'int32' }), 0.5, true)).toThrow(wg.OpArgumentError);
    x.dispose();
  });
});
