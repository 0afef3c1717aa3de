// The autograd engine: accumulation, noGrad, detach, graph lifetime, errors.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice, expectClose } from '../helpers.js';
import { conv2dGeometry } from '../../src/kernels/conv2d.js';
import { conv2dBackwardInputRef } from '../../src/kernels/reference/conv2d.js';

useDevice();

const values = async (t: wg.Tensor | null) => Array.from(await t!.data());

describe('autograd engine', () => {
  it('accumulates gradients when a tensor is used twice (the residual shortcut)', async () => {
    const x = wg.tensor([1, 2, 3], [3], { requiresGrad: true });
    const y = x.mul(x).add(x); // dy/dx = 2x + 1
    y.sum().backward();
    expect(await values(x.grad)).toEqual([3, 5, 7]);
  });

  // A residual block: x feeds a convolution and the shortcut. The convolution's backward adds the
  // shortcut's gradient as it stores dx (foldsPending), so no separate add runs in the backward.
  for (const stride of [1, 2]) {
    it(`folds the shortcut's gradient into a convolution's dx (stride ${stride}), with the same result`, async () => {
      const x0 = wg.randn([2, 16, 8, 8], { seed: 1 });
      x0.requiresGrad = true;
      const w = wg.randn([16, 16, 3, 3], { seed: 2, std: 0.1 });
      const gyData = Float32Array.from({ length: 2 * 16 * 8 * 8 }, (_, i) => Math.sin(i));
      const run = () => {
        const x = wg.relu(x0); // x comes from a node, so its gradient is gathered in the engine
        const c = wg.F.conv2d(x, w, null, { padding: 1, stride });
        const shortcut = stride === 1 ? x : wg.F.avgPool2d(x, { kernelSize: 2 });
        return wg.add(c, shortcut);
      };
      const y = run();
      const gy = wg.tensor(gyData.slice(0, y.size), [...y.shape]);
      const kernels = await wg.profile(() => y.backward(gy));
      if (stride === 1) expect(kernels.map((k) => k.label)).not.toContain('add');
      // Expected: relu'(x0) * (conv's dx + the shortcut's gradient), from the float64 reference.
      const x0h = await x0.data();
      const g = conv2dGeometry([2, 16, 8, 8], [16, 16, 3, 3], { padding: 1, stride });
      const dxConv = conv2dBackwardInputRef(await gy.data(), await w.data(), g);
      const gyh = await gy.data();
      const want = Array.from(x0h, (v, i) => {
        let shortcut = gyh[i];
        if (stride === 2) {
          const [n, c, h, ww] = [Math.floor(i / 1024), Math.floor(i / 64) % 16, Math.floor(i / 8) % 8, i % 8];
          shortcut = gyh[((n * 16 + c) * 4 + (h >> 1)) * 4 + (ww >> 1)] / 4;
        }
        return v > 0 ? dxConv[i] + shortcut : 0;
      });
      expectClose(await x0.grad!.data(), want, 1e-5);
      for (const t of [x0, w, y, gy]) t.dispose();
    });
  }

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
