// The autograd engine: accumulation, noGrad, detach, graph lifetime, errors.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';

useDevice();

const values = async (t: wg.Tensor | null) => Array.from(await t!.data());

describe('autograd engine', () => {
  it('accumulates gradients when a tensor is used twice (the residual shortcut)', async () => {
    const x = wg.tensor([1, 2, 3], [3], { requiresGrad: true });
    const y = x.mul(x).add(x); // dy/dx = 2x + 1
    y.sum().backward();
    expect(await values(x.grad)).toEqual([3, 5, 7]);
  });

  it('accumulates into .grad across backward calls until zeroed', async () => {
    const x = wg.tensor([1, 2], [2], { requiresGrad: true });
    x.mul(3).sum().backward();
    x.mul(3).sum().backward();
    expect(await values(x.grad)).toEqual([6, 6]);
    x.grad!.dispose();
    x.grad = null;
    x.mul(2).sum().backward();
    expect(await values(x.grad)).toEqual([2, 2]);
  });

  it('noGrad records nothing; detach cuts the graph', () => {
    const x = wg.tensor([1, 2], [2], { requiresGrad: true });
    const y = wg.noGrad(() => x.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(y.gradFn).toBeNull();
    const z = x.mul(2).detach();
    expect(z.requiresGrad).toBe(false);
    expect(() => z.sum().backward()).toThrow(/does not require grad/);
  });

  it('frees saved tensors after backward, and a second backward says so', () => {
    const x = wg.tensor([1, 2, 3], [3], { requiresGrad: true });
    const y = x.exp().sum();
    y.backward();
    expect(() => y.backward()).toThrow(/second time/);
  });

  it('retainGraph allows a second backward', async () => {
    const x = wg.tensor([0, 1], [2], { requiresGrad: true });
    const y = x.exp().sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect((await values(x.grad)).map((v) => +v.toFixed(5))).toEqual([2, +(2 * Math.E).toFixed(5)]);
  });

  it('non-scalar backward needs a gradOutput of the same shape', () => {
    const x = wg.tensor([1, 2], [2], { requiresGrad: true });
    const y = x.mul(2);
    expect(() => y.backward()).toThrow(/one-element outputs/);
    expect(() => y.backward(wg.ones([3]))).toThrow(/does not match/);
  });

  it('intermediates may be disposed before backward: the graph keeps what it needs', async () => {
    const x = wg.tensor([1, 2], [2], { requiresGrad: true });
    const h = x.mul(x);
    const loss = h.sum();
    h.dispose();
    loss.backward();
    expect(await values(x.grad)).toEqual([2, 4]);
  });

  it('after backward and dispose, no memory is left behind', async () => {
    const x = wg.tensor(new Float32Array(1000).fill(1), [10, 100], { requiresGrad: true });
    await wg.sync();
    const before = wg.memory();
    wg.scope(() => {
      const loss = x.relu().mul(2).exp().mean();
      loss.backward();
    });
    x.grad!.dispose();
    x.grad = null;
    const after = wg.memory();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
  });

  it('requiresGrad only on float32 leaves', () => {
    const labels = wg.tensor(new Int32Array([1, 2]));
    expect(() => (labels.requiresGrad = true)).toThrow(/only float32/);
    const x = wg.tensor([1], [1], { requiresGrad: true });
    const y = x.mul(2);
    expect(() => (y.requiresGrad = false)).toThrow(/not a leaf/);
  });
});
