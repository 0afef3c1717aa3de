// conv2d_implicit_gemm.wgsl (the workgroup-tiled implicit GEMM, all three passes) and its
// 128 x 128-tile form conv2d_implicit_gemm_wide.wgsl against the float64 reference: odd sizes
// that leave partial tiles, strides, dilation, a 7x7 stem, 1x1 layers, bias, and reductions split
// across workgroups (partial outputs summed afterwards).
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { conv2dGeometry, setConvRulesFor, convKernelFor, type Conv2dOptions } from '../../src/kernels/conv2d.js';
import {
  conv2dForwardImplicitGemm, conv2dBackwardInputImplicitGemm, conv2dBackwardWeightImplicitGemm, implicitGemmApplies, implicitGemmSplit,
  type ImplicitGemmVariant,
} from '../../src/kernels/conv2d-gemm.js';
import { conv2dForwardRef, conv2dBackwardInputRef, conv2dBackwardWeightRef } from '../../src/kernels/reference/conv2d.js';
import { useDevice, expectClose, FORWARD_TOL, GRAD_TOL } from '../helpers.js';
import { randomArray } from '../random-data.js';

useDevice();

const cases: Array<[string, number[], number[], Conv2dOptions, boolean]> = [
  ['3x3 p1, odd sizes, bias', [2, 5, 9, 11], [7, 5, 3, 3], { padding: 1 }, true],
  ['3x3 s2 p1', [2, 6, 10, 9], [8, 6, 3, 3], { stride: 2, padding: 1 }, false],
  ['1x1', [3, 16, 8, 8], [24, 16, 1, 1], {}, true],
  ['1x1 s2', [3, 16, 8, 8], [24, 16, 1, 1], { stride: 2 }, false],
  ['7x7 s2 p3 stem', [1, 3, 23, 23], [10, 3, 7, 7], { stride: 2, padding: 3 }, false],
  ['dilation, non-square kernel, stride [1, 2], padding [1, 2]', [1, 4, 11, 10], [6, 4, 2, 3], { dilation: [2, 1], padding: [1, 2], stride: [1, 2] }, true],
  ['70 output channels x 162 pixels: two tile rows, three tile columns', [2, 8, 9, 9], [70, 8, 3, 3], { padding: 1 }, false],
  ['weight gradient split 4 ways (N·P·Q = 1024)', [4, 8, 16, 16], [8, 8, 3, 3], { padding: 1 }, false],
  ['forward split 2 ways (C·R·S = 576)', [1, 64, 6, 6], [16, 64, 3, 3], { padding: 1 }, true],
  ['130 output channels x 300 pixels: partial 128-wide tiles in both directions, split', [3, 40, 10, 10], [130, 40, 3, 3], { padding: 1 }, true],
];

// The other forms on subsets (each shape compiles three pipelines, ~1.5 s each on lavapipe).
const variants: Array<[string, ImplicitGemmVariant, Set<number> | null]> = [
  ['64 x 64 tiles', {}, null],
  ['64 x 64 tiles, prefetch', { prefetch: true }, new Set([0, 5, 7, 8])],
  ['128 x 128 tiles, prefetch', { prefetch: true, wide: true }, new Set([0, 1, 3, 4, 5, 6, 7, 9])],
];
describe.each(variants)('implicit-GEMM convolution (%s)', (_name, variant, subset) => {
  for (const [name, xs, ws, opts, withBias] of cases.filter((_, i) => (subset ? subset.has(i) : i < 9))) {
    it(name, async () => {
      const g = conv2dGeometry(xs, ws, opts);
      expect(implicitGemmApplies(g)).toBe(true);
      const xd = randomArray(xs.reduce((a, b) => a * b), 21);
      const wd = randomArray(ws.reduce((a, b) => a * b), 22);
      const bd = randomArray(g.K, 23);
      const gyd = randomArray(g.N * g.K * g.PQ, 24);
      const [x, w, b, gy] = [wg.tensor(xd, xs), wg.tensor(wd, ws), wg.tensor(bd, [g.K]), wg.tensor(gyd, [g.N, g.K, g.P, g.Q])];
      const y = conv2dForwardImplicitGemm(x, w, withBias ? b : null, g, undefined, variant);
      const dx = conv2dBackwardInputImplicitGemm(gy, w, g, variant);
      const dw = conv2dBackwardWeightImplicitGemm(gy, x, g, variant);
      expect([[...y.shape], [...dx.shape], [...dw.shape]]).toEqual([[g.N, g.K, g.P, g.Q], xs, ws]);
      expectClose(await y.data(), conv2dForwardRef(xd, wd, withBias ? bd : null, g), FORWARD_TOL, `${name} forward`);
      expectClose(await dx.data(), conv2dBackwardInputRef(gyd, wd, g), GRAD_TOL, `${name} dx`);
      expectClose(await dw.data(), conv2dBackwardWeightRef(gyd, xd, g), GRAD_TOL, `${name} dw`);
      for (const t of [x, w, b, gy, y, dx, dw]) t.dispose();
    });
  }

});

describe('implicit-GEMM forward epilogue with 128 x 128 tiles: y = relu(conv(x) + b + residual)', () => {
  // The GPU rules take the wide kernel for some forward passes (512-channel 3x3 layers), where a
  // folded batch norm brings a bias, ReLU and a block's shortcut into the epilogue.
  const epilogueCases: Array<[string, number[], number[], Conv2dOptions]> = [
    ['one pass', [2, 5, 9, 11], [7, 5, 3, 3], { padding: 1 }],
    ['split reduction', [1, 64, 6, 6], [16, 64, 3, 3], { padding: 1 }],
  ];
  for (const [name, xs, ws, opts] of epilogueCases) {
    it(name, async () => {
      const g = conv2dGeometry(xs, ws, opts);
      const xd = randomArray(xs.reduce((a, b) => a * b), 41);
      const wd = randomArray(ws.reduce((a, b) => a * b), 42);
      const bd = randomArray(g.K, 43);
      const rd = randomArray(g.N * g.K * g.PQ, 44);
      const [x, w, b, r] = [wg.tensor(xd, xs), wg.tensor(wd, ws), wg.tensor(bd, [g.K]), wg.tensor(rd, [g.N, g.K, g.P, g.Q])];
      const y = conv2dForwardImplicitGemm(x, w, b, g, { relu: true, residual: r }, { prefetch: true, wide: true });
      const want = conv2dForwardRef(xd, wd, bd, g).map((v, i) => Math.max(v + rd[i], 0));
      expectClose(await y.data(), want, FORWARD_TOL, `${name} relu(conv + b + residual)`);
      for (const t of [x, w, b, r, y]) t.dispose();
    });
  }
});

describe('implicit-GEMM input gradient plus a gradient already at the input', () => {
  // A residual block's input gets the gradient of its shortcut as well; the kernel adds it as it
  // stores dx (the forward's residual epilogue), in the GEMM itself or, when the reduction is
  // split, in the pass that sums the partials.
  const plusCases: Array<[string, number[], number[], Conv2dOptions, ImplicitGemmVariant, boolean]> = [
    ['3x3 p1, 64 x 64 tiles, one pass', [2, 5, 9, 11], [7, 5, 3, 3], { padding: 1 }, { prefetch: true }, false],
    ['3x3 p1, 64 x 64 tiles, split 4 ways', [3, 40, 10, 10], [130, 40, 3, 3], { padding: 1 }, { prefetch: true }, true],
    ['3x3 p1, 128 x 128 tiles, split', [3, 40, 10, 10], [130, 40, 3, 3], { padding: 1 }, { prefetch: true, wide: true }, true],
  ];
  for (const [name, xs, ws, opts, variant, split] of plusCases) {
    it(name, async () => {
      const g = conv2dGeometry(xs, ws, opts);
      expect(implicitGemmSplit('input', g, variant.wide ? 128 : 64).splits > 1).toBe(split);
      const wd = randomArray(ws.reduce((a, b) => a * b), 31);
      const gyd = randomArray(g.N * g.K * g.PQ, 32);
      const plusd = randomArray(xs.reduce((a, b) => a * b), 33);
      const [w, gy, plus] = [wg.tensor(wd, ws), wg.tensor(gyd, [g.N, g.K, g.P, g.Q]), wg.tensor(plusd, xs)];
      const dx = conv2dBackwardInputImplicitGemm(gy, w, g, variant, plus);
      const want = conv2dBackwardInputRef(gyd, wd, g).map((v, i) => v + plusd[i]);
      expectClose(await dx.data(), want, GRAD_TOL, `${name} dx + plus`);
      expect(Array.from(await plus.data())).toEqual(Array.from(plusd, (v) => Math.fround(v))); // left as it was
      for (const t of [w, gy, plus, dx]) t.dispose();
    });
  }
});

// Its epilogue: test/kernels/conv2d.test.ts ('conv2d forward epilogue', under a GPU's rules).
describe('implicit-GEMM launch geometry', () => {
  it('splits long reductions when tiles are few, never into stretches under 256 steps', () => {
    expect(implicitGemmSplit('weight', conv2dGeometry([4, 8, 16, 16], [8, 8, 3, 3], { padding: 1 })).splits).toBe(4);
    expect(implicitGemmSplit('forward', conv2dGeometry([1, 64, 6, 6], [16, 64, 3, 3], { padding: 1 })).splits).toBe(2);
    expect(implicitGemmSplit('forward', conv2dGeometry([3, 16, 8, 8], [24, 16, 1, 1])).splits).toBe(1);
    // ResNet-50 at batch 32: a 64-channel 3x3 weight gradient has 9 tiles and 100,352 steps.
    const g = conv2dGeometry([32, 64, 56, 56], [64, 64, 3, 3], { padding: 1 });
    const { splits, span } = implicitGemmSplit('weight', g);
    expect(splits).toBeGreaterThanOrEqual(32);
    expect(span % 16).toBe(0);
    expect(span * splits).toBeGreaterThanOrEqual(g.N * g.PQ);
    expect(span * (splits - 1)).toBeLessThan(g.N * g.PQ);
  });

  it('is taken with 128 x 128 tiles by a GPU for the gradients of wide layers (ResNet-50 at batch 32)', () => {
    const old = setConvRulesFor('gpu');
    try {
      const wide = conv2dGeometry([32, 256, 14, 14], [256, 256, 3, 3], { padding: 1 });
      const thin = conv2dGeometry([32, 64, 56, 56], [64, 64, 3, 3], { padding: 1 });
      expect(['forward', 'input', 'weight'].map((p) => convKernelFor(p as 'forward', wide))).toEqual(['implicit-gemm-prefetch', 'implicit-gemm-wide', 'implicit-gemm-wide']);
      expect(['forward', 'input', 'weight'].map((p) => convKernelFor(p as 'forward', thin))).toEqual(['implicit-gemm-prefetch', 'implicit-gemm-prefetch', 'implicit-gemm-prefetch']);
      expect(implicitGemmSplit('weight', wide, 128).splits).toBeGreaterThan(1); // 2 x 18 tiles: the reduction is split
      // The forward takes them only for 512-channel 3x3 layers over 1,024+ output pixels.
      const last = conv2dGeometry([32, 512, 7, 7], [512, 512, 3, 3], { padding: 1 });
      const lastB1 = conv2dGeometry([1, 512, 7, 7], [512, 512, 3, 3], { padding: 1 });
      expect(convKernelFor('forward', last)).toBe('implicit-gemm-wide');
      expect(convKernelFor('forward', lastB1)).toBe('implicit-gemm-prefetch');
    } finally {
      setConvRulesFor(old);
    }
  });

  it('does not take grouped convolutions', () => {
    expect(implicitGemmApplies(conv2dGeometry([2, 4, 5, 5], [6, 2, 3, 3], { groups: 2, padding: 1 }))).toBe(false);
  });
});

describe('a network under the rules of a GPU (implicit GEMM first)', () => {
  it('gives the gradients the CPU rules give: CIFAR ResNet-8 with option-B shortcuts (1x1 s2), residual gradients folded', async () => {
    const model = wg.models.cifarResnet(8, { shortcut: 'B' });
    model.train();
    const x = wg.randn([3, 3, 12, 12], { seed: 5 });
    const run = async (rules: 'gpu' | 'cpu') => {
      const previous = setConvRulesFor(rules);
      try {
        model.zeroGrad();
        const kernels = await wg.profile(() => wg.scope(() => {
          const out = model.forward(x) as wg.Tensor;
          wg.mul(out, out).sum().backward();
        }), { byKernel: true });
        return { grads: await Promise.all(model.parameters().map((p) => p.grad!.data())), labels: kernels.map((k) => k.label) };
      } finally {
        setConvRulesFor(previous);
      }
    };
    const cpu = await run('cpu');
    const gpuRules = await run('gpu');
    // Forward and weight gradients by the implicit GEMM; input gradients also by the stride-2 row
    // kernel (3x3 s2), and for the 1x1 shortcuts by the implicit GEMM's forward on the subsampled
    // pixels, scattered back (the shortcut kernel).
    const forwardAndWeight = gpuRules.labels.filter((l) => /^conv2d_(forward|backward_weight) /.test(l));
    expect(forwardAndWeight.length).toBeGreaterThan(0);
    expect(forwardAndWeight.every((l) => l.includes('conv2d_implicit_gemm'))).toBe(true);
    expect(gpuRules.labels.some((l) => l.includes('conv2d_backward_input_rows_s2'))).toBe(true);
    expect(gpuRules.labels.some((l) => l.startsWith('shortcut_a_backward'))).toBe(true);
    expect(cpu.labels.some((l) => l.includes('conv2d_implicit_gemm'))).toBe(false);
    gpuRules.grads.forEach((g, i) => expectClose(g, cpu.grads[i], 1e-4, `parameter ${i}`));
    x.dispose();
    model.dispose();
  });
});
