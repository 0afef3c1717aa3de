// wg.autotune (src/kernels/autotune.ts) with the convolution kernels (src/kernels/conv2d.ts):
// it times every kernel that applies to each pass a function poses, keeps the fastest, and
// later calls run that kernel, with the same results; its cache is checked when loaded.
import { describe, it, expect, afterEach } from 'vitest';
import * as wg from '../../src/index.js';
import { conv2dGeometry, conv2dForward, conv2dBackwardInput, convKernelFor } from '../../src/kernels/conv2d.js';
import { useDevice, expectClose } from '../helpers.js';
import { gpu, isCpuAdapter } from '../../src/tensor/device.js';

useDevice();
const F = wg.F;
afterEach(() => wg.setAutotuneCache(null));

// A 3x3 stride-2 layer (row kernels or 2-pixel kernels; for dx the stride-2 row kernel or phase
// classes) and a 1x1 stride-2 shortcut (GEMM or 2-pixel kernels, GEMM or phase classes).
function step(x: wg.Tensor, w3: wg.Tensor, w1: wg.Tensor): wg.Tensor {
  const a = F.conv2d(x, w3, null, { padding: 1, stride: 2 });
  const b = F.conv2d(x, w1, null, { stride: 2 });
  return wg.add(a, b).mul(a).sum();
}

describe('autotune', () => {
  it('times the kernels of every conv pass, keeps the fastest, and later calls compute the same', async () => {
    const x = wg.randn([2, 16, 32, 32], { seed: 1 });
    const w3 = wg.randn([32, 16, 3, 3], { seed: 2, std: 0.2 });
    const w1 = wg.randn([32, 16, 1, 1], { seed: 3, std: 0.2 });
    for (const t of [x, w3, w1]) t.requiresGrad = true;
    const run = async () => {
      const loss = wg.scope(() => {
        const l = step(x, w3, w1);
        l.backward();
        return l;
      });
      const out = { loss: await loss.data(), gx: await x.grad!.data(), g3: await w3.grad!.data(), g1: await w1.grad!.data() };
      loss.dispose();
      for (const t of [x, w3, w1]) { t.grad!.dispose(); t.grad = null; }
      return out;
    };
    const byRules = await run();
    const live = wg.memory().liveTensors;
    const results = await wg.autotune(() => step(x, w3, w1).backward());
    expect(wg.memory().liveTensors).toBe(live);
    // All three passes of the 3x3 layer; forward and input gradient of the 1x1 (its weight
    // gradient has one kernel on a CPU adapter; on a GPU the implicit GEMM joins every pass).
    const onGpu = !isCpuAdapter(gpu().info);
    expect(results.length).toBe(onGpu ? 6 : 5);
    expect(results.every((r) => 'implicit-gemm' in r.ms)).toBe(onGpu);
    expect(results.filter((r) => 'gemm' in r.ms)).toHaveLength(2);
    for (const r of results) {
      const names = Object.keys(r.ms);
      expect(names.length).toBeGreaterThan(1);
      expect(names).toContain(r.chosen);
      expect(names).toContain(r.rule);
      expect(names).not.toContain('direct');
      for (const ms of Object.values(r.ms)) expect(ms).toBeGreaterThan(0);
      const fastest = Math.min(...Object.values(r.ms));
      if (r.chosen === r.rule) expect(fastest).toBeGreaterThanOrEqual(0.9 * r.ms[r.rule]);
      else expect(r.ms[r.chosen]).toBe(fastest);
    }
    expect(Object.keys(wg.autotuneCache().choices).sort()).toEqual(results.map((r) => r.key).sort());
    // A second call finds nothing new to measure.
    expect(await wg.autotune(() => step(x, w3, w1).backward())).toEqual([]);
    const tuned = await run();
    expectClose(tuned.loss, byRules.loss, 1e-4);
    expectClose(tuned.gx, byRules.gx, 1e-4);
    expectClose(tuned.g3, byRules.g3, 1e-4);
    expectClose(tuned.g1, byRules.g1, 1e-4);
    for (const t of [x, w3, w1]) t.dispose();
  });

  it('runs the kernel the cache names, falls back to the rules where it does not apply', async () => {
    const g = conv2dGeometry([2, 8, 16, 16], [16, 8, 3, 3], { padding: 1 });
    const x = wg.randn([2, 8, 16, 16], { seed: 4 });
    const w = wg.randn([16, 8, 3, 3], { seed: 5 });
    const rule = convKernelFor('forward', g);
    const want = await conv2dForward(x, w, null, g).data();
    const results = await wg.autotune(() => conv2dForward(x, w, null, g));
    expect(results).toHaveLength(1);
    const { key, ms } = results[0];
    const other = Object.keys(ms).find((name) => name !== rule)!;
    const adapter = wg.autotuneCache().adapter;
    wg.setAutotuneCache({ adapter, choices: { [key]: other } });
    expect(convKernelFor('forward', g)).toBe(other);
    expectClose(await conv2dForward(x, w, null, g).data(), want, 1e-4);
    wg.setAutotuneCache({ adapter, choices: { [key]: 'gemm' } }); // a 1x1-only kernel
    expect(convKernelFor('forward', g)).toBe(rule);
    wg.setAutotuneCache(null);
    expect(convKernelFor('forward', g)).toBe(rule);
    x.dispose();
    w.dispose();
  });

  it('computes 1x1 layers with the tiled GEMM (the GPU-shaped kernel it may pick) as the rules do, bias and epilogue included', async () => {
    for (const stride of [1, 2]) {
      const g = conv2dGeometry([2, 16, 12, 12], [24, 16, 1, 1], { stride });
      const x = wg.randn([2, 16, 12, 12], { seed: 6 });
      const w = wg.randn([24, 16, 1, 1], { seed: 7 });
      const b = wg.randn([24], { seed: 8 });
      const residual = wg.randn([2, 24, g.P, g.Q], { seed: 9 });
      const gy = wg.randn([2, 24, g.P, g.Q], { seed: 10 });
      const epilogue = { relu: true, residual };
      const want = await conv2dForward(x, w, b, g, epilogue).data();
      const wantDx = await conv2dBackwardInput(gy, w, g).data();
      const rules = [convKernelFor('forward', g, epilogue, true), convKernelFor('input', g)];
      const tuned = await wg.autotune(() => { conv2dForward(x, w, b, g, epilogue); conv2dBackwardInput(gy, w, g); });
      expect(tuned.every((r) => 'gemm-tiled' in r.ms)).toBe(true);
      wg.setAutotuneCache({ adapter: wg.autotuneCache().adapter, choices: Object.fromEntries(tuned.map((r) => [r.key, 'gemm-tiled'])) });
      expect([convKernelFor('forward', g, epilogue, true), convKernelFor('input', g)]).toEqual(['gemm-tiled', 'gemm-tiled']);
      expect(rules).not.toContain('gemm-tiled');
      expectClose(await conv2dForward(x, w, b, g, epilogue).data(), want, 1e-4);
      expectClose(await conv2dBackwardInput(gy, w, g).data(), wantDx, 1e-4);
      wg.setAutotuneCache(null);
      for (const t of [x, w, b, residual, gy]) t.dispose();
    }
  });

  it('tunes wg.matmul among the GEMM kernels that run here, and the tuned one computes the same', async () => {
    const a = wg.randn([96, 256], { seed: 11 });
    const b = wg.randn([192, 256], { seed: 12 }); // used transposed: its layout is part of the problem
    const want = await wg.matmul(a, wg.transpose(b, 0, 1)).data();
    const tuned = await wg.autotune(() => wg.matmul(a, wg.transpose(b, 0, 1)));
    expect(tuned).toHaveLength(1);
    expect(tuned[0].key).toMatch(/^gemm 1x96x192x256 /);
    expect(Object.keys(tuned[0].ms)).toContain('tiled');
    expect(Object.keys(tuned[0].ms).length).toBeGreaterThan(1);
    const adapter = wg.autotuneCache().adapter;
    for (const variant of Object.keys(tuned[0].ms)) {
      wg.setAutotuneCache({ adapter, choices: { [tuned[0].key]: variant } });
      expectClose(await wg.matmul(a, wg.transpose(b, 0, 1)).data(), want, 1e-4);
    }
    a.dispose();
    b.dispose();
  });

  it('rejects a cache made on another adapter, or not made by autotuneCache()', () => {
    expect(() => wg.setAutotuneCache({ adapter: 'some other GPU', choices: {} })).toThrow(/measured on 'some other GPU', this device is/);
    expect(() => wg.setAutotuneCache({ adapter: wg.autotuneCache().adapter, choices: { a: 3 } } as never)).toThrow(/setAutotuneCache: expected/);
    expect(() => wg.setAutotuneCache('tune.json' as never)).toThrow(/setAutotuneCache: expected/);
  });
});
