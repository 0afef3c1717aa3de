// The ResNet forward passes with the fused BatchNorm + ReLU and residual add + ReLU ops
// (setFusion(true), the default) vs the unfused modules (setFusion(false)): the same gradients
// (1e-5 of the largest magnitude), fewer dispatches, no separate relu dispatches. The fused ops
// themselves: test/nn/fused.test.ts; against PyTorch: test/resnet/fixtures.test.ts.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice, expectClose } from '../helpers.js';

useDevice();
const GRAD = 1e-5;

describe('CIFAR ResNet with and without fusion', () => {
  it('setFusion(false) gives the same outputs and gradients (train mode) with more dispatches', async () => {
    const model = wg.models.cifarResnet(8, { shortcut: 'A' });
    model.train();
    const x = wg.randn([4, 3, 16, 16], { seed: 3 });
    const run = async (fused: boolean) => {
      const previous = wg.models.setFusion(fused);
      try {
        model.zeroGrad();
        const prof = await wg.profile(() => wg.scope(() => {
          const out = model.forward(x) as wg.Tensor;
          wg.mul(out, out).sum().backward();
        }));
        const dispatches = prof.reduce((s, e) => s + e.count, 0);
        const grads = await Promise.all(model.parameters().map((p) => p.grad!.data()));
        return { grads, dispatches, labels: new Set(prof.map((e) => e.label)) };
      } finally {
        wg.models.setFusion(previous);
      }
    };
    // Training mode normalises with batch statistics, so the running ones (which each forward
    // updates) do not affect either run.
    const plain = await run(false);
    const fused = await run(true);
    expect(plain.grads.length).toBeGreaterThan(10);
    for (let i = 0; i < plain.grads.length; i++) expectClose(fused.grads[i], plain.grads[i], GRAD, `grad ${i}`);
    expect(fused.dispatches).toBeLessThan(plain.dispatches);
    expect(fused.labels.has('relu')).toBe(false);
    expect(fused.labels.has('reluBackward')).toBe(true); // addRelu's backward
    x.dispose();
    model.dispose();
  });

  it('a Bottleneck block: the same output and gradients fused and unfused (train mode)', async () => {
    const block = new wg.models.Bottleneck(16, 4);
    block.train();
    const x = wg.randn([2, 16, 4, 4], { seed: 4 });
    const xg = wg.tensor(await x.data(), [2, 16, 4, 4], { requiresGrad: true });
    const run = async (fused: boolean) => {
      const previous = wg.models.setFusion(fused);
      try {
        block.zeroGrad();
        xg.grad?.dispose();
        xg.grad = null;
        const y = wg.scope(() => {
          const out = block.forward(xg) as wg.Tensor;
          wg.mul(out, out).sum().backward();
          return out;
        });
        const result = [await y.data(), await xg.grad!.data(), ...(await Promise.all(block.parameters().map((p) => p.grad!.data())))];
        y.dispose();
        return result;
      } finally {
        wg.models.setFusion(previous);
      }
    };
    const plain = await run(false);
    const fused = await run(true);
    expectClose(fused[0], plain[0], 1e-6, 'y');
    for (let i = 1; i < plain.length; i++) expectClose(fused[i], plain[i], GRAD, `grad ${i}`);
    for (const t of [x, xg]) t.dispose();
    block.dispose();
  });
});
