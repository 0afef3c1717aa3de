// conv2d: geometry, the float64 reference against finite differences, every implementation
// ('direct', 'fast' with subgroups where present, 'fast-no-subgroups') against PyTorch fixtures
// and against the reference on random shapes, argument errors, and memory.
// Tolerances: forward 1e-4, gradients 1e-3, both relative to the largest expected magnitude.
import { describe, it, expect, afterEach } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as wg from '../../src/index.js';
import {
  conv2dGeometry, conv2dForward, conv2dBackwardInput, CONV2D_PARAM_FIELDS, setConvAlignRows, setConvSpecialization, setConvRowKernels, setConvRulesFor, convKernelFor, type Conv2dOptions, type ConvImplementation, im2colLayout,
} from '../../src/kernels/conv2d.js';
import {
  conv2dForwardRef, conv2dBackwardInputRef, conv2dBackwardWeightRef, conv2dBackwardBiasRef,
} from '../../src/kernels/reference/conv2d.js';
import { useDevice, loadFixtures, fromFixture, expectTensorClose, expectClose, FORWARD_TOL, GRAD_TOL } from '../helpers.js';
import { randomArray } from '../random-data.js';

useDevice();
const F = wg.F;
const IMPLS: ConvImplementation[] = ['direct', 'fast', 'fast-no-subgroups'];
afterEach(() => {
  F.setConvImplementation('fast');
  setConvRulesFor('adapter');
});


describe('conv2dGeometry', () => {
  it('computes output sizes like PyTorch', () => {
    const g = conv2dGeometry([3, 5, 7, 11], [4, 5, 3, 5], { stride: [2, 1], padding: [1, 2] });
    expect([g.P, g.Q]).toEqual([4, 11]);
    expect(conv2dGeometry([1, 3, 224, 224], [64, 3, 7, 7], { stride: 2, padding: 3 })).toMatchObject({ P: 112, Q: 112, CRS_g: 147 });
    expect(conv2dGeometry([2, 3, 9, 9], [4, 3, 3, 3], { padding: 2, dilation: 2 })).toMatchObject({ P: 9, Q: 9 });
    expect(conv2dGeometry([2, 6, 7, 7], [6, 1, 3, 3], { padding: 1, groups: 6 })).toMatchObject({ C_g: 1, K_g: 1, G: 6, PQ: 49 });
    expect(conv2dGeometry([2, 3, 5, 5], [4, 3, 5, 5])).toMatchObject({ P: 1, Q: 1 });
  });

  it('has the fields of the Conv2dParams struct in every conv2d .wgsl file, in order', () => {
    const dir = fileURLToPath(new URL('../../src/kernels/wgsl/', import.meta.url));
    const files = readdirSync(dir).filter((f) => f.startsWith('conv2d') && f.endsWith('.wgsl'));
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const f of files) {
      const src = readFileSync(dir + f, 'utf8');
      const body = /struct Conv2dParams \{([^}]*)\}/.exec(src);
      expect(body, f).not.toBeNull();
      const fields = [...body![1].matchAll(/(\w+)\s*:\s*u32/g)].map((m) => m[1]);
      expect(fields, f).toEqual([...CONV2D_PARAM_FIELDS]);
    }
  });
});

// ---- reference vs finite differences (float64, no GPU) ----------------------------------------

describe('reference gradients vs central differences', () => {
  const cases: Array<[string, number[], number[], Conv2dOptions]> = [
    ['3x3 s2 p1', [2, 3, 5, 6], [4, 3, 3, 3], { stride: 2, padding: 1 }],
    ['dilation, non-square', [1, 2, 7, 6], [3, 2, 2, 3], { dilation: [2, 1], padding: [1, 2], stride: [1, 2] }],
    ['groups 2', [2, 4, 5, 5], [6, 2, 3, 3], { groups: 2, padding: 1 }],
  ];
  for (const [name, xs, ws, opts] of cases) {
    it(name, () => {
      const g = conv2dGeometry(xs, ws, opts);
      const x = Float64Array.from(randomArray(xs.reduce((a, b) => a * b), 1));
      const w = Float64Array.from(randomArray(ws.reduce((a, b) => a * b), 2));
      const b = Float64Array.from(randomArray(g.K, 3));
      const gy = randomArray(g.N * g.K * g.PQ, 4);
      // L = sum(y * gy); dL/dv[i] ~ (L(v + eps e_i) - L(v - eps e_i)) / 2 eps (exact up to
      // float64 rounding, since L is linear in each argument).
      const loss = () => conv2dForwardRef(x, w, b, g).reduce((s, v, i) => s + v * gy[i], 0);
      const numeric = (v: Float64Array) => Float64Array.from(v, (_, i) => {
        const keep = v[i];
        v[i] = keep + 1e-3;
        const up = loss();
        v[i] = keep - 1e-3;
        const down = loss();
        v[i] = keep;
        return (up - down) / 2e-3;
      });
      expectClose(conv2dBackwardInputRef(gy, w, g), numeric(x), 1e-9, 'dx');
      expectClose(conv2dBackwardWeightRef(gy, x, g), numeric(w), 1e-9, 'dw');
      expectClose(conv2dBackwardBiasRef(gy, g), numeric(b), 1e-9, 'db');
    });
  }
});

// ---- GPU vs PyTorch fixtures ------------------------------------------------------------------

describe.each(IMPLS)('conv2d vs PyTorch fixtures (%s)', (impl) => {
  for (const c of loadFixtures('conv2d')) {
    it(c.name, async () => {
      F.setConvImplementation(impl);
      const x = fromFixture(c.inputs.x, true);
      const w = fromFixture(c.inputs.w, true);
      const b = c.inputs.b ? fromFixture(c.inputs.b, true) : undefined;
      const o = c.options as Conv2dOptions;
      const y = F.conv2d(x, w, b, { stride: o.stride, padding: o.padding, dilation: o.dilation, groups: o.groups });
      await expectTensorClose(y, c.outputs.y, FORWARD_TOL, `${c.name} forward`);
      const gy = fromFixture(c.gradOutput!);
      y.backward(gy);
      await expectTensorClose(x.grad!, c.grads.x, GRAD_TOL, `${c.name} dx`);
      await expectTensorClose(w.grad!, c.grads.w, GRAD_TOL, `${c.name} dw`);
      if (b) await expectTensorClose(b.grad!, c.grads.b, GRAD_TOL, `${c.name} db`);
      for (const t of [x, w, b, y, gy]) t?.dispose();
    });
  }
});

// ---- GPU vs reference on random shapes --------------------------------------------------------

// Shapes chosen to hit the fast kernels' edges: channel counts that are not multiples of the
// 16-channel block or of 4, pixel counts that are not multiples of the tile, strides (phase
// classes in the input gradient), groups with >= 8 channels per group, 1x1 and 7x7 kernels.
const shapes: Array<[string, number[], number[], Conv2dOptions, boolean]> = [
  ['ResNet-like 3x3 s2, C=16 -> K=32, 16x16', [2, 16, 16, 16], [32, 16, 3, 3], { stride: 2, padding: 1 }, false],
  ['ResNet-like 3x3 s1, C=K=32, 8x8', [2, 32, 8, 8], [32, 32, 3, 3], { padding: 1 }, true],
  ['odd sizes 3x3 p1, C=13 -> K=21, 9x7', [3, 13, 9, 7], [21, 13, 3, 3], { padding: 1 }, true],
  ['1x1 s2 shortcut, C=12 -> K=24, 7x9', [2, 12, 7, 9], [24, 12, 1, 1], { stride: 2 }, false],
  ['7x7 s2 p3 stem, C=3 -> K=16, 21x19', [2, 3, 21, 19], [16, 3, 7, 7], { stride: 2, padding: 3 }, true],
  ['groups 2, 8 channels per group, dilation 2', [2, 16, 10, 9], [16, 8, 3, 3], { groups: 2, padding: 2, dilation: 2 }, true],
  ['3x5 kernel, stride [3, 2], pad [2, 1], C=9 -> K=10', [2, 9, 11, 10], [10, 9, 3, 5], { stride: [3, 2], padding: [2, 1] }, true],
  ['stride 2 with dilation [2, 1], C=10 -> K=12, 11x9', [2, 10, 11, 9], [12, 10, 3, 3], { stride: 2, dilation: [2, 1], padding: [2, 1] }, false],
  ['depthwise 3x3 (direct path)', [2, 8, 6, 6], [8, 1, 3, 3], { groups: 8, padding: 1 }, true],
  ['many images (weight-gradient splits), tiny layer', [9, 8, 5, 5], [8, 8, 3, 3], { padding: 1 }, true],
  // The row kernels (3 taps wide, unit width stride and dilation): 32-channel blocks with a tail,
  // 16-channel blocks with a tail and groups, vertical stride and dilation, asymmetric padding
  // (the input gradient's transposed padding becomes [2, 0]), a padding too large for the
  // transposed form (falls back), a 1x3 kernel, Q % 4 != 0 (the weight gradient runs on a copy
  // of gy padded to whole vec4 rows).
  ['rows: 32-channel block + tail, K=36, R=5, stride [2, 1], dilation [2, 1]', [2, 8, 13, 12], [36, 8, 5, 3], { stride: [2, 1], dilation: [2, 1], padding: [2, 1] }, true],
  ['rows: groups 2, K_g=20 (16 + tail), C_g=12', [2, 24, 6, 12], [40, 12, 3, 3], { groups: 2, padding: 1 }, false],
  ['rows: 16-channel block, 3 kernel rows per lane, stride [2, 1], dilation [2, 1]', [2, 8, 13, 12], [20, 8, 3, 3], { stride: [2, 1], dilation: [2, 1], padding: [2, 1] }, true],
  ['rows: padding [0, 2], Q=10', [2, 16, 9, 8], [32, 16, 3, 3], { padding: [0, 2] }, true],
  ['rows: padding 3 (input gradient falls back)', [2, 16, 5, 6], [16, 16, 3, 3], { padding: 3 }, false],
  ['rows: 1x3 kernel', [3, 16, 6, 8], [16, 16, 1, 3], { padding: [0, 1] }, true],
  // The weight gradient on aligned rows takes two input channels per lane where C_g is even, one
  // (with 32 output channels per lane) where it is odd.
  ['rows: weight gradient on aligned rows, 5 input channels (one per lane), K=40', [2, 5, 8, 12], [40, 5, 3, 3], { padding: 1 }, true],
  ['rows: stride-2 weight gradient on x and gy padded to vec4 rows, 14x14 (channel pairs)', [2, 16, 14, 14], [32, 16, 3, 3], { stride: 2, padding: 1 }, false],
  ['rows: stride 2, aligned rows, Q=10 (a half-empty last group)', [2, 16, 12, 20], [32, 16, 3, 3], { stride: 2, padding: 1 }, true],
  ['rows: stride 2 without padding, odd width', [2, 8, 9, 11], [16, 8, 3, 3], { stride: 2 }, false],
  ['rows: stride 2, unaligned rows, Q=8 (weight gradient by rows)', [2, 8, 9, 17], [16, 8, 3, 3], { stride: 2 }, true],
  // Stride-2 layers with odd sizes, channel blocks with a tail, asymmetric padding, groups.
  ['stride 2, 9x13, C=20 -> K=24, padding [0, 1]', [2, 20, 9, 13], [24, 20, 3, 3], { stride: 2, padding: [0, 1] }, false],
  ['rows: stride 2, groups 2, 5x3 kernel, padding [2, 1]', [2, 16, 11, 12], [16, 8, 5, 3], { stride: 2, padding: [2, 1], groups: 2 }, true],
  // 1x1 at stride 1 without bias runs as a GEMM per image on lavapipe (HW % 4 == 0).
  ['1x1 as GEMM, C=32 -> K=64, 8x16', [2, 32, 8, 16], [64, 32, 1, 1], {}, false],
  // Channel-poor layers without bias run as im2col + GEMM on lavapipe.
  ['im2col + GEMM: 7x7 s2 p3 stem, C=3 -> K=32, 20x20', [2, 3, 20, 20], [32, 3, 7, 7], { stride: 2, padding: 3 }, false],
  ['im2col (4 pixels per invocation, Q % 4 == 0) + GEMM: 7x7 s2 p3 stem, 24x23', [2, 3, 24, 23], [32, 3, 7, 7], { stride: 2, padding: 3 }, false],
  ['im2col + GEMM: 5x5 p2, C=1 -> K=16, 16x16 (PQ % 4 == 0, T = 25)', [3, 1, 16, 16], [16, 1, 5, 5], { padding: 2 }, false],
  ['im2col (a kernel row\'s taps from one span of vec4s) + GEMM: 7x7 s2 p3 stem, 32x32', [2, 3, 32, 32], [16, 3, 7, 7], { stride: 2, padding: 3 }, false],
  ['im2col (a kernel row\'s taps from one span of vec4s) + GEMM: 5x5 dilation 2 p4, C=2, 24x24', [1, 2, 24, 24], [16, 2, 5, 5], { dilation: 2, padding: 4 }, false],
  ['1x1 as GEMM, C=64 -> K=40, 16x8, one image', [1, 64, 16, 8], [40, 64, 1, 1], {}, false],
  ['1x1 as GEMM, 7x7 (PQ % 4 != 0), C=64 -> K=48', [2, 64, 7, 7], [48, 64, 1, 1], {}, false],
  ['1x1 as GEMM, the 3 images side by side in the columns (13 vec4s each, 5 tiles of 8 for 39)', [3, 64, 7, 7], [40, 64, 1, 1], {}, true],
  ['1x1 as GEMM with a bias (added by the GEMM), C=32 -> K=40, 6x8', [2, 32, 6, 8], [40, 32, 1, 1], {}, true],
  ['1x1 stride 2 as GEMM on the subsampled x, 17x15', [2, 32, 17, 15], [64, 32, 1, 1], { stride: 2 }, false],
  ['1x1 stride 2 as GEMM, input gradient too (K=C=48), 16x18', [2, 48, 16, 18], [48, 48, 1, 1], { stride: 2 }, false],
  ['rows: aligned vec4 rows, one quad per row (W=4)', [2, 16, 5, 4], [32, 16, 3, 3], { padding: 1 }, false],
  ['rows: 7x7 (ResNet-18 layer4), weight gradient on gy padded to Q4=8', [2, 32, 7, 7], [32, 32, 3, 3], { padding: 1 }, false],
  // "Same" 3-wide layers with W % 4 != 0 run on x (forward) and gy (input gradient) padded to
  // whole vec4 rows (alignRows), with 8-pixel groups from 5 columns up.
  ['rows on rows padded to vec4s: 14x14, two 8-pixel groups (ResNet-18 layer3)', [2, 16, 14, 14], [32, 16, 3, 3], { padding: 1 }, true],
  ['rows on rows padded to vec4s: 5x6, one 8-pixel group of 6', [2, 16, 5, 6], [16, 16, 3, 3], { padding: 1 }, false],
  ['rows on rows padded to vec4s: groups 2, 9x13, 5x3 kernel', [2, 32, 9, 13], [32, 16, 5, 3], { padding: [2, 1], groups: 2 }, true],
  ['rows: stride 2, aligned rows, Q=6 padded to 8', [2, 16, 12, 12], [32, 16, 3, 3], { stride: 2, padding: 1 }, false],
  // The stride-2 input-gradient row kernel (3x3, padding 1): a channel tail (C=20: 8 + 8 + 4),
  // groups with odd H, a width that is not a multiple of 4 (scalar stores) with Q % 4 != 0
  // (padded gy); other paddings and kernel heights take the phase-class kernel.
  ['rows s2 input gradient: C=20 (8-channel blocks + tail) -> K=24, 8x8', [2, 20, 8, 8], [24, 20, 3, 3], { stride: 2, padding: 1 }, false],
  ['rows s2 input gradient: groups 2, odd H, 9x24', [2, 32, 9, 24], [48, 16, 3, 3], { stride: 2, padding: 1, groups: 2 }, true],
  ['rows s2 input gradient: W=14 (scalar stores), Q=7 (padded gy), C=12', [2, 12, 11, 14], [16, 12, 3, 3], { stride: 2, padding: 1 }, false],
  ['stride 2, groups 2, 9x24, padding [0, 1] (phase-class kernel)', [2, 32, 9, 24], [48, 16, 3, 3], { stride: 2, padding: [0, 1], groups: 2 }, true],
  ['stride 2, 5x3 kernel, 11x16, padding [2, 1] (phase-class kernel)', [2, 16, 11, 16], [16, 16, 5, 3], { stride: 2, padding: [2, 1] }, false],
];

/** GPU forward, input and weight gradients (and bias gradient) against the float64 reference. */
async function checkAgainstReference(name: string, xs: number[], ws: number[], opts: Conv2dOptions, withBias: boolean): Promise<void> {
  const g = conv2dGeometry(xs, ws, opts);
  const xd = randomArray(xs.reduce((a, b) => a * b), 11);
  const wd = randomArray(ws.reduce((a, b) => a * b), 12);
  const bd = randomArray(g.K, 13);
  const gyd = randomArray(g.N * g.K * g.PQ, 14);
  const x = wg.tensor(xd, xs, { requiresGrad: true });
  const w = wg.tensor(wd, ws, { requiresGrad: true });
  const b = withBias ? wg.tensor(bd, [g.K], { requiresGrad: true }) : undefined;
  const y = F.conv2d(x, w, b, opts);
  expect([...y.shape]).toEqual([g.N, g.K, g.P, g.Q]);
  expectClose(await y.data(), conv2dForwardRef(xd, wd, withBias ? bd : null, g), FORWARD_TOL, `${name} forward`);
  const gy = wg.tensor(gyd, y.shape);
  y.backward(gy);
  expectClose(await x.grad!.data(), conv2dBackwardInputRef(gyd, wd, g), GRAD_TOL, `${name} dx`);
  expectClose(await w.grad!.data(), conv2dBackwardWeightRef(gyd, xd, g), GRAD_TOL, `${name} dw`);
  if (b) expectClose(await b.grad!.data(), conv2dBackwardBiasRef(gyd, g), GRAD_TOL, `${name} db`);
  for (const t of [x, w, b, y, gy]) t?.dispose();
}

describe.each(IMPLS)('conv2d vs float64 reference (%s)', (impl) => {
  for (const [name, xs, ws, opts, withBias] of shapes) {
    it(name, async () => {
      F.setConvImplementation(impl);
      await checkAgainstReference(name, xs, ws, opts, withBias);
    });
  }
});

// The rules of a GPU adapter put the workgroup-tiled implicit GEMM first for every pass of an
// ungrouped layer (grouped ones keep the subgroup kernels): the whole op, through autograd.
describe('conv2d vs float64 reference (fast, the rules of a GPU)', () => {
  const subset = [0, 1, 3, 4, 5, 6, 7, 9, 12, 14, 28].map((i) => shapes[i]);
  for (const [name, xs, ws, opts, withBias] of subset) {
    it(name, async () => {
      F.setConvImplementation('fast');
      const old = setConvRulesFor('gpu');
      try {
        const g = conv2dGeometry(xs, ws, opts);
        const notTiled = expect.not.stringMatching('implicit-gemm');
        const want = g.G === 1 ? 'implicit-gemm-prefetch' : notTiled;
        // Input gradients: 1x1 layers at stride 2 by the implicit GEMM on the subsampled pixels, the
        // tiled GEMM for 1x1 layers with under 32 input channels, the stride-2 row kernel (3x3 s2
        // p1) where they apply; the implicit GEMM from 32 input channels, the row or phase kernels below.
        const strided = g.stride_h > 1 || g.stride_w > 1;
        const input = g.G > 1 ? want
          : g.R * g.S === 1 && g.stride_h === 2 && g.stride_w === 2 && g.pad_h === 0 && g.pad_w === 0 ? 'implicit-gemm-subsampled'
          : g.R * g.S === 1 && g.C >= 8 && g.K >= 8 && (strided || g.C < 32) ? 'gemm-tiled'
          : g.R === 3 && g.S === 3 && g.stride_h === 2 && g.stride_w === 2 && g.pad_h === 1 && g.pad_w === 1 ? 'rows-s2'
          : g.C >= 32 ? 'implicit-gemm-prefetch' : notTiled;
        expect(['forward', 'input', 'weight'].map((pass) => convKernelFor(pass as 'forward', g))).toEqual([want, input, want]);
        await checkAgainstReference(name, xs, ws, opts, withBias);
      } finally {
        setConvRulesFor(old);
      }
    });
  }
});

// Large layers run pipelines specialised to their shape; force that on small ones (a subset:
// each specialised pipeline takes ~0.5 s to compile on lavapipe). Covers Q % 4 == 0 and not,
// strides (phase classes), non-square kernels and the weight-gradient splits.
describe('conv2d vs float64 reference (fast, shape-specialised pipelines)', () => {
  const subset = [0, 1, 2, 6, 9, 10, 12].map((i) => shapes[i]);
  for (const [name, xs, ws, opts, withBias] of subset) {
    it(name, async () => {
      F.setConvImplementation('fast');
      const old = setConvSpecialization('always');
      try {
        await checkAgainstReference(name, xs, ws, opts, withBias);
      } finally {
        setConvSpecialization(old);
      }
    });
  }
});

// The 2-pixel kernels that the row kernels replace on 3-tap rows stay the path for other shapes
// (and for adapters without subgroups); check them on the row-kernel shapes too.
describe('conv2d vs float64 reference (fast, row kernels off)', () => {
  const rowShapes = shapes.filter(([name]) => name.startsWith('rows') || name.startsWith('ResNet-like 3x3 s1') || name.startsWith('odd sizes'));
  for (const [name, xs, ws, opts, withBias] of rowShapes) {
    it(name, async () => {
      F.setConvImplementation('fast');
      const old = setConvRowKernels(false);
      try {
        await checkAgainstReference(name, xs, ws, opts, withBias);
      } finally {
        setConvRowKernels(old);
      }
    });
  }
});

describe('packed weights kept for inference', () => {
  // Under noGrad a forward keeps its packed weights on the weight's storage and reuses them while
  // the weights are unchanged; any write to the weights (a kernel, an upload) makes them stale.
  async function directConv(x: wg.Tensor, w: wg.Tensor): Promise<Float32Array> {
    F.setConvImplementation('direct');
    try {
      const y = F.conv2d(x, w, undefined, { padding: 1 });
      const d = (await y.data()) as Float32Array;
      y.dispose();
      return d;
    } finally {
      F.setConvImplementation('fast');
    }
  }

  it('reuses the pack until the weights change, and frees it with the weights or wg.emptyCache()', async () => {
    F.setConvImplementation('fast');
    const conv = new wg.nn.Conv2d(16, 32, 3, { padding: 1, bias: false });
    const x = wg.tensor(randomArray(2 * 16 * 8 * 8, 21), [2, 16, 8, 8]);
    const before = wg.memory().liveTensors;
    const y1 = wg.noGrad(() => conv.forward(x));
    expect(wg.memory().liveTensors).toBe(before + 2); // y1 and the kept pack
    const y2 = wg.noGrad(() => conv.forward(x));
    expect(wg.memory().liveTensors).toBe(before + 3); // only y2: the pack was reused
    expect(Array.from(await y2.data())).toEqual(Array.from(await y1.data()));
    expectClose(await y2.data(), await directConv(x, conv.weight), FORWARD_TOL, 'cached pack');

    // A kernel writes the weights (an SGD step): the next inference forward packs them again.
    conv.weight.grad = wg.tensor(randomArray(32 * 16 * 9, 22), [32, 16, 3, 3]);
    const opt = new wg.optim.SGD([conv.weight], { lr: 0.5 });
    opt.step();
    const y3 = wg.noGrad(() => conv.forward(x));
    expectClose(await y3.data(), await directConv(x, conv.weight), FORWARD_TOL, 'after an optimizer step');

    // An upload writes them (loadStateDict).
    const loaded = wg.tensor(randomArray(32 * 16 * 9, 23), [32, 16, 3, 3]);
    conv.loadStateDict(new Map([['weight', loaded]]));
    loaded.dispose();
    const y4 = wg.noGrad(() => conv.forward(x));
    expectClose(await y4.data(), await directConv(x, conv.weight), FORWARD_TOL, 'after loadStateDict');
    for (const t of [y1, y2, y3, y4]) t.dispose();
    opt.dispose();
    conv.zeroGrad();
    expect(wg.memory().liveTensors).toBe(before + 1); // the pack of the current weights
    wg.emptyCache();
    expect(wg.memory().liveTensors).toBe(before);

    // Released with the weights.
    wg.noGrad(() => conv.forward(x)).dispose();
    expect(wg.memory().liveTensors).toBe(before + 1);
    conv.dispose();
    expect(wg.memory().liveTensors).toBe(before - 1); // conv.weight itself is gone too
    x.dispose();
  });

  it('a training forward packs afresh and drops a kept pack', async () => {
    F.setConvImplementation('fast');
    const conv = new wg.nn.Conv2d(16, 16, 3, { padding: 1, bias: false });
    const x = wg.tensor(randomArray(2 * 16 * 8 * 8, 24), [2, 16, 8, 8]);
    const before = wg.memory().liveTensors;
    wg.noGrad(() => conv.forward(x)).dispose();
    expect(wg.memory().liveTensors).toBe(before + 1);
    const y = conv.forward(x);
    const loss = y.sum();
    loss.backward();
    for (const t of [y, loss]) t.dispose();
    conv.zeroGrad();
    expect(wg.memory().liveTensors).toBe(before);
    conv.dispose();
    x.dispose();
  });
});

describe('conv2d autograd plumbing', () => {
  it('accepts non-contiguous inputs and computes only the gradients that are needed', async () => {
    const xs = [2, 8, 6, 5];
    const xd = randomArray(2 * 8 * 6 * 5, 21);
    const wd = randomArray(16 * 8 * 3 * 3, 22);
    const g = conv2dGeometry(xs, [16, 8, 3, 3], { padding: 1 });
    // x as a permuted view of an (N, H, C, W) tensor
    const base = wg.tensor(xd, [2, 6, 8, 5]);
    const xnc = base.permute([0, 2, 1, 3]);
    expect(xnc.isContiguous).toBe(false);
    const w = wg.tensor(wd, [16, 8, 3, 3], { requiresGrad: true });
    const y = F.conv2d(xnc, w, null, { padding: 1 });
    const expected = conv2dForwardRef(await xnc.data(), wd, null, g);
    expectClose(await y.data(), expected, FORWARD_TOL, 'forward');
    const loss = y.sum();
    loss.backward();
    expect(xnc.grad).toBeNull();
    expectClose(await w.grad!.data(), conv2dBackwardWeightRef(new Float32Array(y.size).fill(1), await xnc.data(), g), GRAD_TOL, 'dw');
    for (const t of [base, xnc, w, y, loss]) t.dispose();
  });

  it('frees every temporary: forward + backward leave no live tensors behind', async () => {
    for (const impl of IMPLS) {
      F.setConvImplementation(impl);
      await wg.sync();
      const before = wg.memory().liveTensors;
      const x = wg.randn([3, 16, 9, 9], { seed: 1 });
      x.requiresGrad = true;
      const w = wg.randn([24, 16, 3, 3], { seed: 2 });
      w.requiresGrad = true;
      const b = wg.randn([24], { seed: 3 });
      b.requiresGrad = true;
      const y = F.conv2d(x, w, b, { stride: 2, padding: 1 });
      const loss = y.sum();
      loss.backward();
      await x.grad!.data();
      for (const t of [x, w, b, y, loss]) t.dispose();
      await wg.sync();
      expect(wg.memory().liveTensors, impl).toBe(before);
    }
  });
});

// ---- argument errors --------------------------------------------------------------------------

describe('conv2d argument errors', () => {
  const bad: Array<[string, () => unknown, RegExp]> = [
    ['channel mismatch', () => F.conv2d(wg.zeros([1, 3, 8, 8]), wg.zeros([4, 2, 3, 3])), /conv2d: channel mismatch.*C=3.*\[1, 3, 8, 8\].*\[4, 2, 3, 3\]/],
    ['groups do not divide C', () => F.conv2d(wg.zeros([1, 3, 8, 8]), wg.zeros([4, 1, 3, 3]), null, { groups: 2 }), /conv2d: groups=2 does not divide the 3 input channels/],
    ['groups do not divide K', () => F.conv2d(wg.zeros([1, 4, 8, 8]), wg.zeros([3, 2, 3, 3]), null, { groups: 2 }), /conv2d: groups=2 does not divide the 3 output channels/],
    ['kernel larger than padded input', () => F.conv2d(wg.zeros([1, 1, 4, 4]), wg.zeros([1, 1, 5, 5]), null, { padding: 0 }), /conv2d: kernel 5x5.*larger than the padded input 4x4/],
    ['dilated kernel larger than padded input', () => F.conv2d(wg.zeros([1, 1, 4, 4]), wg.zeros([1, 1, 3, 3]), null, { dilation: 2 }), /dilated 5x5/],
    ['3-D input', () => F.conv2d(wg.zeros([3, 8, 8]), wg.zeros([4, 3, 3, 3])), /conv2d: x must be 4-D.*\[3, 8, 8\]/],
    ['3-D weight', () => F.conv2d(wg.zeros([1, 3, 8, 8]), wg.zeros([4, 3, 3])), /conv2d: w must be 4-D.*\[4, 3, 3\]/],
    ['bias shape', () => F.conv2d(wg.zeros([1, 3, 8, 8]), wg.zeros([4, 3, 3, 3]), wg.zeros([3])), /conv2d: expected a bias of shape \[4\].*\[3\]/],
    ['int32 input', () => F.conv2d(wg.zeros([1, 3, 8, 8]).to('int32'), wg.zeros([4, 3, 3, 3])), /conv2d: expected float32.*int32/],
    ['bad stride', () => F.conv2d(wg.zeros([1, 3, 8, 8]), wg.zeros([4, 3, 3, 3]), null, { stride: 0 }), /conv2d: stride must be an integer >= 1/],
    ['negative padding', () => F.conv2d(wg.zeros([1, 3, 8, 8]), wg.zeros([4, 3, 3, 3]), null, { padding: [1, -1] as [number, number] }), /conv2d: padding/],
    ['groups 0', () => F.conv2d(wg.zeros([1, 3, 8, 8]), wg.zeros([4, 3, 3, 3]), null, { groups: 0 }), /conv2d: groups must be a positive integer/],
  ];
  for (const [name, fn, message] of bad) {
    it(name, () => {
      wg.scope(() => {
        expect(fn).toThrow(wg.OpArgumentError);
        expect(fn).toThrow(message);
      });
    });
  }

  it('setConvImplementation rejects unknown names', () => {
    expect(() => F.setConvImplementation('winograd' as ConvImplementation)).toThrow(wg.OpArgumentError);
  });
});

describe('conv2d row kernel on rows padded to whole vec4s (alignRows)', () => {
  // The input gradient of a residual block's first convolution adds the shortcut's gradient as dx
  // is stored (`plus`, laid out as dx): with gy padded to W4 columns the kernel still stores and
  // adds in dx's own layout. Padded and unpadded runs against the reference.
  const cases: [string, number[], number[]][] = [
    ['7x7, 32 -> 32 channels', [2, 32, 7, 7], [32, 32, 3, 3]],
    ['14x14, 16 -> 24 channels', [2, 16, 14, 14], [24, 16, 3, 3]],
  ];
  for (const [name, xs, ws] of cases) {
    it(`${name}: forward and input gradient plus a gradient already at the input, padded or not`, async () => {
      F.setConvImplementation('fast');
      const g = conv2dGeometry(xs, ws, { padding: 1 });
      expect(convKernelFor('forward', g)).toBe('rows');
      expect(convKernelFor('input', g)).toBe('rows');
      const xd = randomArray(xs.reduce((a, b) => a * b), 41);
      const wd = randomArray(ws.reduce((a, b) => a * b), 42);
      const gyd = randomArray(g.N * g.K * g.PQ, 43);
      const plusd = randomArray(xd.length, 44);
      const [x, w, gy, plus] = [wg.tensor(xd, xs), wg.tensor(wd, ws), wg.tensor(gyd, [g.N, g.K, g.P, g.Q]), wg.tensor(plusd, xs)];
      const wantY = conv2dForwardRef(xd, wd, null, g);
      const wantDx = conv2dBackwardInputRef(gyd, wd, g).map((v, i) => v + plusd[i]);
      for (const align of [true, false]) {
        const old = setConvAlignRows(align);
        try {
          const y = conv2dForward(x, w, null, g);
          expectClose(await y.data(), wantY, FORWARD_TOL, `${name} y (aligned ${align})`);
          const dx = conv2dBackwardInput(gy, w, g, plus);
          expectClose(await dx.data(), wantDx, GRAD_TOL, `${name} dx + plus (aligned ${align})`);
          for (const t of [y, dx]) t.dispose();
        } finally {
          setConvAlignRows(old);
        }
      }
      for (const t of [x, w, gy, plus]) t.dispose();
    });
  }
});

describe('conv2d im2col (channel-poor layers on lavapipe)', () => {
  it('im2col unfolds from spans of vec4s where input and output rows are whole vec4s', () => {
    F.setConvImplementation('fast');
    const stem = conv2dGeometry([2, 3, 32, 32], [16, 3, 7, 7], { stride: 2, padding: 3 });
    const dilated = conv2dGeometry([1, 2, 24, 24], [16, 2, 5, 5], { dilation: 2, padding: 4 });
    for (const g of [stem, dilated]) {
      expect(convKernelFor('forward', g)).toBe('im2col');
      expect(im2colLayout(g)).toBe('rows');
    }
    expect(im2colLayout(conv2dGeometry([2, 3, 24, 23], [32, 3, 7, 7], { stride: 2, padding: 3 }))).toBe('vec4');
    expect(im2colLayout(conv2dGeometry([2, 3, 20, 20], [32, 3, 7, 7], { stride: 2, padding: 3 }))).toBe('scalar');
  });

  it('im2col writes the zero rows that pad the reduction to a multiple of 4, even into a reused buffer holding NaNs', async () => {
    // T = 3*7*7 = 147 taps, padded to 148 rows of cols; the GEMM multiplies the last row by zero
    // weights, so a NaN left in it by the buffer's last owner would reach every output.
    F.setConvImplementation('fast');
    const opts = { stride: 2, padding: 3 };
    const g = conv2dGeometry([1, 3, 32, 32], [16, 3, 7, 7], opts);
    expect(convKernelFor('forward', g)).toBe('im2col');
    await wg.sync();
    wg.emptyCache();
    wg.tensor(new Float32Array(148 * g.PQ).fill(NaN), [148 * g.PQ]).dispose();   // the pool hands this buffer to the cols
    const xd = randomArray(3 * 32 * 32, 21);
    const wd = randomArray(16 * 3 * 7 * 7, 22);
    const x = wg.tensor(xd, [1, 3, 32, 32]);
    const w = wg.tensor(wd, [16, 3, 7, 7]);
    const y = F.conv2d(x, w, undefined, opts);
    expectClose(await y.data(), conv2dForwardRef(xd, wd, null, g), FORWARD_TOL, 'im2col over a NaN buffer');
    for (const t of [x, w, y]) t.dispose();
  });
});

// The inference epilogue (ConvEpilogue: + residual, ReLU) on every forward path: the row kernel
// (3x3), the GEMM (1x1 at stride 1 and 2, and the stem's im2col), the 2-pixel kernel (5x5), the
// direct kernel, and under a GPU's rules the implicit GEMM (in its store, or after summing a
// split reduction: C·R·S = 576), each against the reference followed by the same add and ReLU.
describe('conv2d forward epilogue: y = relu(conv(x) + b + residual)', () => {
  const cases: Array<[string, number[], number[], Conv2dOptions]> = [
    ['3x3 row kernel', [2, 16, 8, 12], [32, 16, 3, 3], { padding: 1 }],
    ['3x3 s2 row kernel', [2, 16, 9, 12], [32, 16, 3, 3], { stride: 2, padding: 1 }],
    ['1x1 GEMM', [2, 32, 8, 8], [48, 32, 1, 1], {}],
    ['1x1 s2 GEMM', [2, 32, 9, 8], [48, 32, 1, 1], { stride: 2 }],
    ['7x7 s2 stem, im2col + GEMM', [2, 3, 20, 20], [32, 3, 7, 7], { stride: 2, padding: 3 }],
    ['5x5, 2-pixel kernel', [2, 8, 9, 9], [16, 8, 5, 5], { padding: 2 }],
    ['3x3, 64 channels (a split reduction for the implicit GEMM)', [1, 64, 6, 6], [16, 64, 3, 3], { padding: 1 }],
  ];
  for (const impl of ['fast', 'direct', 'gpu rules'] as const) {
    for (const [name, xs, ws, opts] of cases) {
      it(`${name} (${impl})`, async () => {
        F.setConvImplementation(impl === 'direct' ? 'direct' : 'fast');
        setConvRulesFor(impl === 'gpu rules' ? 'gpu' : 'adapter');
        const g = conv2dGeometry(xs, ws, opts);
        const xd = randomArray(xs.reduce((a, b) => a * b), 21);
        const wd = randomArray(ws.reduce((a, b) => a * b), 22);
        const bd = randomArray(g.K, 23);
        const rd = randomArray(g.N * g.K * g.PQ, 24);
        const [x, w, b, r] = [wg.tensor(xd, xs), wg.tensor(wd, ws), wg.tensor(bd, [g.K]), wg.tensor(rd, [g.N, g.K, g.P, g.Q])];
        const plain = conv2dForwardRef(xd, wd, bd, g);
        for (const [relu, residual] of [[true, null], [false, r], [true, r]] as const) {
          const y = conv2dForward(x, w, b, g, { relu, residual });
          const want = plain.map((v, i) => {
            const s = v + (residual ? rd[i] : 0);
            return relu ? Math.max(s, 0) : s;
          });
          expectClose(await y.data(), want, FORWARD_TOL, `${name} relu=${relu} residual=${!!residual}`);
          y.dispose();
        }
        if (impl === 'gpu rules') expect(convKernelFor('forward', g, { relu: true, residual: r }, true)).toBe('implicit-gemm-prefetch');
        for (const t of [x, w, b, r]) t.dispose();
      });
    }
  }
});

// The GEMM paths of the input gradient copy w^T once (1x1 layers, and the stem's GEMM + col2im):
// nothing of that copy may outlive the call.
describe('conv2d input gradient as a GEMM leaves no tensors behind', () => {
  const cases: Array<[string, number[], number[], Conv2dOptions]> = [
    ['1x1 GEMM', [2, 32, 8, 8], [64, 32, 1, 1], {}],
    ['1x1 s2 GEMM + scatter', [2, 32, 8, 8], [64, 32, 1, 1], { stride: 2 }],
    ['stem GEMM + col2im', [2, 3, 20, 20], [16, 3, 7, 7], { stride: 2, padding: 3 }],
  ];
  for (const [name, xs, ws, opts] of cases) {
    it(name, async () => {
      F.setConvImplementation('fast');
      const g = conv2dGeometry(xs, ws, opts);
      const w = wg.randn(ws, { seed: 31 });
      const gy = wg.randn([g.N, g.K, g.P, g.Q], { seed: 32 });
      const before = wg.memory().liveTensors;
      const dx = conv2dBackwardInput(gy, w, g);
      expect(wg.memory().liveTensors).toBe(before + 1);
      expectClose(await dx.data(), conv2dBackwardInputRef(await gy.data(), await w.data(), g), GRAD_TOL, name);
      for (const t of [dx, w, gy]) t.dispose();
    });
  }
});
