// F.batchNorm: PyTorch fixtures (forward 1e-4, grads 1e-3 of the largest magnitude, running
// statistics 1e-4), the float64 reference on shapes that exercise every kernel path (scalar and
// vec4 planes, several chunks per channel), finite differences of the reference (gradcheck),
// in-place running-stat updates, argument errors, determinism and memory.
import { describe, it, expect, onTestFinished } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice, loadFixtures, fromFixture, expectTensorClose, expectClose, FORWARD_TOL, GRAD_TOL } from '../helpers.js';
import { gradcheck, hostRandom, randomArray } from '../gradcheck.js';
import { batchNormForwardRef, batchNormBackwardRef } from '../../src/kernels/reference/batch-norm.js';
import { batchNormGeometry, BATCH_NORM_LAUNCH, BATCH_NORM_GPU_LAUNCH } from '../../src/kernels/batch-norm.js';
import { numel } from '../../src/tensor/shape.js';
import { commands } from '../../src/tensor/queue.js';

useDevice();
const F = wg.nn.functional;
const rnd = hostRandom(1234);

describe('batchNorm vs PyTorch fixtures', () => {
  for (const c of loadFixtures('norm')) {
    it(c.name, async () => {
      const o = c.options as { training: boolean; momentum: number; eps: number };
      const x = fromFixture(c.inputs.x, true);
      const rm = fromFixture(c.inputs.runningMean);
      const rv = fromFixture(c.inputs.runningVar);
      const w = fromFixture(c.inputs.weight, true);
      const b = fromFixture(c.inputs.bias, true);
      const rmBuffer = rm.buffer;
      const y = F.batchNorm(x, rm, rv, w, b, o);
      await expectTensorClose(y, c.outputs.y, FORWARD_TOL, `${c.name} y`);
      // Updated in place: the same tensor objects and buffers hold the new values.
      expect(rm.buffer).toBe(rmBuffer);
      await expectTensorClose(rm, c.outputs.runningMean, FORWARD_TOL, `${c.name} runningMean`);
      await expectTensorClose(rv, c.outputs.runningVar, FORWARD_TOL, `${c.name} runningVar`);
      const gy = fromFixture(c.gradOutput!);
      y.backward(gy);
      await expectTensorClose(x.grad!, c.grads.x, GRAD_TOL, `${c.name} dx`);
      await expectTensorClose(w.grad!, c.grads.weight, GRAD_TOL, `${c.name} dweight`);
      await expectTensorClose(b.grad!, c.grads.bias, GRAD_TOL, `${c.name} dbias`);
      for (const t of [x, rm, rv, w, b, y, gy]) t.dispose();
    });
  }
});

interface RefCase {
  shape: number[];
  training: boolean;
  affine: boolean;
  running: boolean;
  offset?: number;
}

async function checkAgainstReference(k: RefCase): Promise<void> {
  const C = k.shape[1];
  const xData = randomArray(numel(k.shape), rnd, -2 + (k.offset ?? 0), 2 + (k.offset ?? 0));
  const rmData = randomArray(C, rnd, -0.5, 0.5);
  const rvData = randomArray(C, rnd, 0.5, 1.5);
  const wData = randomArray(C, rnd, 0.5, 1.5);
  const bData = randomArray(C, rnd, -0.5, 0.5);
  const x = wg.tensor(xData, k.shape, { requiresGrad: true });
  const rm = k.running ? wg.tensor(rmData, [C]) : null;
  const rv = k.running ? wg.tensor(rvData, [C]) : null;
  const w = k.affine ? wg.tensor(wData, [C], { requiresGrad: true }) : null;
  const b = k.affine ? wg.tensor(bData, [C], { requiresGrad: true }) : null;
  const opts = { training: k.training, momentum: 0.1, eps: 1e-5 };
  const y = F.batchNorm(x, rm, rv, w, b, opts);
  const ref = batchNormForwardRef(xData, k.shape, k.running ? rmData : null, k.running ? rvData : null, k.affine ? wData : null, k.affine ? bData : null, opts);
  const what = JSON.stringify(k);
  expectClose(await y.data(), ref.y, FORWARD_TOL, `${what} y`);
  if (rm && rv) {
    expectClose(await rm.data(), ref.runningMean!, FORWARD_TOL, `${what} runningMean`);
    expectClose(await rv.data(), ref.runningVar!, FORWARD_TOL, `${what} runningVar`);
  }
  const gyData = randomArray(y.size, rnd);
  const gy = wg.tensor(gyData, k.shape);
  y.backward(gy);
  const g = batchNormBackwardRef(gyData, xData, k.shape, ref.mean, ref.invstd, k.affine ? wData : null, k.training);
  expectClose(await x.grad!.data(), g.dx, GRAD_TOL, `${what} dx`);
  if (w && b) {
    expectClose(await w.grad!.data(), g.dweight, GRAD_TOL, `${what} dweight`);
    expectClose(await b.grad!.data(), g.dbias, GRAD_TOL, `${what} dbias`);
  }
  for (const t of [x, rm, rv, w, b, y, gy]) t?.dispose();
}

describe('batchNorm vs the float64 reference', () => {
  const cases: RefCase[] = [
    { shape: [2, 2, 128, 128], training: true, affine: true, running: true },     // vec4, several chunks per channel
    { shape: [3, 5, 7, 7], training: true, affine: true, running: true },       // scalar planes (49)
    { shape: [4, 6, 7, 7], training: true, affine: true, running: true },       // 7x7 planes as straddling vec4s
    { shape: [4, 6, 7, 7], training: false, affine: true, running: true },
    { shape: [2, 2, 3, 3], training: true, affine: true, running: true },       // straddling vec4s, 9-float planes
    { shape: [3, 8, 7, 7], training: true, affine: true, running: true },       // 7x7 in groups of four planes (C % 4 == 0)
    { shape: [3, 8, 7, 7], training: true, affine: true, running: true, offset: 1000 },  // ... large mean
    { shape: [9, 12, 7, 7], training: false, affine: true, running: true },     // ... eval; 9 images: a short last image block
    { shape: [2, 4, 5, 5], training: true, affine: false, running: true },      // ... 25-float planes
    { shape: [5, 3, 8, 8], training: true, affine: true, running: true },       // small vec4 planes, 4 images per workgroup (5: a short last block)
    { shape: [3, 8, 8, 8], training: true, affine: false, running: false },     // one-dispatch forward (vec4), nothing optional bound
    { shape: [3, 8, 7, 7], training: true, affine: false, running: false },     // one-dispatch forward (plane groups), nothing optional bound
    { shape: [2, 4, 5, 51], training: true, affine: true, running: true },      // plane groups of 255 floats: 256-lane workgroups
    { shape: [16, 6], training: true, affine: true, running: true },            // (N, C)
    { shape: [4, 3, 10], training: true, affine: false, running: false },       // (N, C, L), no affine, no running
    { shape: [2, 3, 2, 2, 2], training: true, affine: true, running: true },    // 3-D spatial
    { shape: [2, 4, 8, 8], training: true, affine: true, running: true, offset: 1000 },  // large mean
    { shape: [256, 3, 5, 5], training: true, affine: true, running: true },      // scalar, several chunks
    { shape: [3, 5, 7, 7], training: false, affine: true, running: true },
    { shape: [2, 8, 4, 4], training: false, affine: false, running: true },
    { shape: [3, 5, 32, 32], training: true, affine: true, running: true },     // planes of 256 vec4s in runs of 8 (15 planes: a short last run)
    { shape: [3, 5, 32, 32], training: true, affine: true, running: true, offset: 1000 },  // ... large mean
    { shape: [2, 3, 32, 40], training: false, affine: true, running: true },    // ... eval; 320 vec4s per plane (lanes' last loop partial)
    { shape: [3, 4, 24, 24], training: true, affine: true, running: true },     // one-dispatch backward, 144 vec4s per plane (lanes' last loop partial)
    { shape: [2, 3, 28, 28], training: true, affine: false, running: false },   // ... 196 vec4s, no weight
  ];
  for (const k of cases) it(JSON.stringify(k), () => checkAgainstReference(k));

  it('gives the same results under other launch settings (64-lane workgroups, many chunks, 3 images per workgroup)', async () => {
    const saved = { ...BATCH_NORM_LAUNCH };
    Object.assign(BATCH_NORM_LAUNCH, { reduceWG: 64, targetGroups: 1024, minUnitsPerLane: 1, smallPlaneImages: 3 });
    try {
      expect(batchNormGeometry([8, 3, 16, 16]).P).toBeGreaterThan(4);
      // 8 images in blocks of 3: the last workgroup of each plane's column has 2.
      expect(batchNormGeometry([8, 3, 16, 16]).applyImages).toBe(3);
      expect(batchNormGeometry([8, 4, 7, 7]).applyImages).toBe(3);
      await checkAgainstReference({ shape: [8, 3, 16, 16], training: true, affine: true, running: true });
      await checkAgainstReference({ shape: [8, 3, 16, 16], training: false, affine: true, running: true });
      await checkAgainstReference({ shape: [8, 4, 7, 7], training: false, affine: true, running: true });
      await checkAgainstReference({ shape: [8, 3, 5, 5], training: true, affine: true, running: true });
      expect(batchNormGeometry([8, 4, 7, 7])).toMatchObject({ planeGroups: true, P: 8 });
      await checkAgainstReference({ shape: [8, 4, 7, 7], training: true, affine: true, running: true });
    } finally {
      Object.assign(BATCH_NORM_LAUNCH, saved);
    }
  });

  it('gives the same results under the settings of a GPU (BATCH_NORM_GPU_LAUNCH: 256-lane workgroups)', async () => {
    const saved = { ...BATCH_NORM_LAUNCH };
    Object.assign(BATCH_NORM_LAUNCH, BATCH_NORM_GPU_LAUNCH, { minUnitsPerLane: 1 });
    try {
      expect(batchNormGeometry([16, 3, 32, 32]).reduceWG).toBe(256);
      expect(batchNormGeometry([16, 3, 32, 32]).P).toBeGreaterThan(2);
      await checkAgainstReference({ shape: [16, 3, 32, 32], training: true, affine: true, running: true });
      await checkAgainstReference({ shape: [8, 5, 7, 7], training: true, affine: true, running: true });
    } finally {
      Object.assign(BATCH_NORM_LAUNCH, saved);
    }
  });

  it('computes planes that are not whole vec4s the same in groups of four planes, as straddling vec4s or as scalars (eval: bit for bit)', async () => {
    const run = async (shape: number[], relu: boolean) => {
      const C = shape[1];
      const x = wg.randn(shape, { seed: 21 });
      x.requiresGrad = true;
      const rm = wg.zeros([C]);
      const rv = wg.ones([C]);
      const w = wg.rand([C], { seed: 22, low: 0.5, high: 1.5 });
      const b = wg.randn([C], { seed: 23 });
      const out: Float32Array[] = [];
      for (const training of [true, false]) {
        const y = F.batchNorm(x, rm, rv, w, b, { training, relu });
        const gy = wg.randn(shape, { seed: 24 });
        y.backward(gy);
        out.push((await y.data()) as Float32Array, (await x.grad!.data()) as Float32Array);
        y.dispose();
        gy.dispose();
        x.grad!.dispose();
        x.grad = null;
      }
      for (const t of [x, rm, rv, w, b]) t.dispose();
      return out;
    };
    // [y, dx] in training (statistics summed in another order), then [y, dx] in eval (none summed).
    const expectSame = (a: Float32Array[], b: Float32Array[], what: string) => {
      expectClose(a[0], b[0], 1e-5, `${what}: training y`);
      expectClose(a[1], b[1], 1e-5, `${what}: training dx`);
      expect(Array.from(a[2])).toEqual(Array.from(b[2]));
      expect(Array.from(a[3])).toEqual(Array.from(b[3]));
    };
    const saved = { ...BATCH_NORM_LAUNCH };
    try {
      for (const shape of [[4, 6, 7, 7], [5, 8, 7, 7]]) {
        for (const relu of [false, true]) {
          const what = `${JSON.stringify(shape)} relu ${relu}`;
          Object.assign(BATCH_NORM_LAUNCH, saved);
          const geometry = batchNormGeometry(shape);
          expect(geometry.splitVec4).toBe(true);
          expect(geometry.planeGroups).toBe(shape[1] % 4 === 0);
          const fast = await run(shape, relu);
          BATCH_NORM_LAUNCH.planeGroups = false;
          expect(batchNormGeometry(shape)).toMatchObject({ splitVec4: true, planeGroups: false });
          const split = await run(shape, relu);
          BATCH_NORM_LAUNCH.splitVec4 = false;
          expect(batchNormGeometry(shape).splitVec4).toBe(false);
          const scalar = await run(shape, relu);
          expectSame(split, scalar, `${what}, straddling vec4s vs scalars`);
          expectSame(fast, split, `${what}, as the launch settings pick vs straddling vec4s`);
        }
      }
    } finally {
      Object.assign(BATCH_NORM_LAUNCH, saved);
    }
  });

  it('runs the training forward in one dispatch only where it fits the cache and the workgroup memory', () => {
    expect(batchNormGeometry([2, 4, 7, 7]).onePass).toBe(true);
    expect(batchNormGeometry([2, 4, 5, 51]).onePass).toBe(false);   // 255-float planes: 256 lanes
    expect(batchNormGeometry([64, 512, 7, 7]).onePass).toBe(false);  // 50 KB per workgroup
    expect(batchNormGeometry([32, 64, 32, 32]).onePass).toBe(false); // 128 KB per channel
    expect(batchNormGeometry([128, 64, 8, 8]).onePass).toBe(true);   // 32 KB
  });

  it('runs the training forward in one dispatch where a channel fits the cache, bit for bit the three-dispatch path', async () => {
    // Plane groups (7x7) and vec4 planes, each with one chunk per channel in the three-dispatch
    // path, as the one-pass kernel computes.
    for (const shape of [[3, 128, 7, 7], [3, 64, 8, 8], [1, 8, 16, 16]]) {
      const C = shape[1];
      expect(batchNormGeometry(shape)).toMatchObject({ onePass: true, P: 1 });
      // The one-pass kernel is what runs (one dispatch, no statistics pass).
      const x0 = wg.randn(shape, { seed: 30 });
      const ran = await wg.profile(() => F.batchNorm(x0, null, null, null, null, { training: true }).dispose());
      x0.dispose();
      expect(ran.map((e) => e.label)).toEqual(['batchNorm forward, one pass']);
      const run = async (relu: boolean, affine: boolean) => {
        const x = wg.randn(shape, { seed: 31, mean: 3, std: 2 });
        x.requiresGrad = true;
        const rm = wg.randn([C], { seed: 32 });
        const rv = wg.rand([C], { seed: 33, low: 0.5, high: 2 });
        const w = affine ? wg.rand([C], { seed: 34, low: 0.5, high: 1.5 }) : null;
        const b = affine ? wg.randn([C], { seed: 35 }) : null;
        const counter = wg.zeros([], { dtype: 'int32' });
        const y = F.batchNorm(x, rm, rv, w, b, { training: true, relu, numBatchesTracked: counter });
        const gy = wg.randn(shape, { seed: 36 });
        y.backward(gy); // uses the statistics the forward saved
        const out = [await y.data(), await rm.data(), await rv.data(), await x.grad!.data(), await counter.data()];
        for (const t of [x, x.grad, rm, rv, w, b, counter, y, gy]) t?.dispose();
        return out.map((a) => Array.from(a as ArrayLike<number>));
      };
      const saved = { ...BATCH_NORM_LAUNCH };
      try {
        for (const relu of [false, true]) {
          for (const affine of [true, false]) {
            const onePass = await run(relu, affine);
            BATCH_NORM_LAUNCH.onePassBytes = 0;
            expect(batchNormGeometry(shape).onePass).toBe(false);
            const threePass = await run(relu, affine);
            Object.assign(BATCH_NORM_LAUNCH, saved);
            expect(onePass[4]).toEqual([1]);
            const what = `${JSON.stringify(shape)} relu ${relu} affine ${affine}`;
            for (let k = 0; k < onePass.length; k++) expect(onePass[k], `${what}: output ${k}`).toEqual(threePass[k]);
          }
        }
      } finally {
        Object.assign(BATCH_NORM_LAUNCH, saved);
      }
    }
  });

  it('runs the training backward in one dispatch where a channel\'s x and gy fit the cache, planes of 128+ vec4s', () => {
    expect(batchNormGeometry([32, 64, 32, 32]).backwardOnePass).toBe(true);   // 256 KiB per channel
    expect(batchNormGeometry([32, 256, 56, 56]).backwardOnePass).toBe(true);  // 784 KiB
    expect(batchNormGeometry([128, 16, 32, 32]).backwardOnePass).toBe(true);  // 1 MiB
    expect(batchNormGeometry([160, 16, 32, 32]).backwardOnePass).toBe(false); // 1.25 MiB
    expect(batchNormGeometry([128, 32, 16, 16]).backwardOnePass).toBe(false); // 64 vec4s per plane
    expect(batchNormGeometry([32, 512, 7, 7]).backwardOnePass).toBe(false);   // not whole vec4s
  });

  it('runs the training backward in one dispatch, bit for bit the three-dispatch path where planes are whole rows of its lanes', async () => {
    // [3, 32, 32, 32]: 256 vec4s per plane, [2, 32, 16, 32]: 128, both multiples of the lanes,
    // and one chunk per channel in the reduction (32 channels), so each lane sums the same vec4s
    // in the same order as batch_norm_backward_reduce.wgsl, and the lanes in the same tree.
    for (const shape of [[3, 32, 32, 32], [2, 32, 16, 32]]) {
      const C = shape[1];
      expect(batchNormGeometry(shape)).toMatchObject({ backwardOnePass: true, reduceWG: BATCH_NORM_LAUNCH.reduceWG, P: 1 });
      expect(shape[2] * shape[3] / 4 % BATCH_NORM_LAUNCH.reduceWG).toBe(0);
      const run = async (relu: boolean, affine: boolean) => {
        const x = wg.randn(shape, { seed: 51, mean: 1, std: 2 });
        x.requiresGrad = true;
        const w = affine ? wg.rand([C], { seed: 52, low: 0.5, high: 1.5 }) : null;
        const b = affine ? wg.randn([C], { seed: 53 }) : null;
        if (w && b) w.requiresGrad = b.requiresGrad = true;
        const y = F.batchNorm(x, null, null, w, b, { training: true, relu });
        const gy = wg.randn(shape, { seed: 54 });
        const labels = (await wg.profile(() => y.backward(gy))).map((e) => e.label);
        const out = [x.grad!, w?.grad, b?.grad].filter((t) => t).map(async (t) => Array.from(await t!.data()));
        const grads = await Promise.all(out);
        for (const t of [x, x.grad, w, w?.grad, b, b?.grad, y, gy]) t?.dispose();
        return { grads, labels };
      };
      const saved = { ...BATCH_NORM_LAUNCH };
      try {
        for (const relu of [false, true]) {
          for (const affine of [true, false]) {
            const what = `${JSON.stringify(shape)} relu ${relu} affine ${affine}`;
            const onePass = await run(relu, affine);
            expect(onePass.labels, what).toEqual(['batchNorm backward']);
            BATCH_NORM_LAUNCH.backwardOnePassBytes = 0;
            const threePass = await run(relu, affine);
            Object.assign(BATCH_NORM_LAUNCH, saved);
            expect(threePass.labels, what).toContain('batchNorm backward reduce');
            expect(onePass.grads, what).toEqual(threePass.grads);
          }
        }
      } finally {
        Object.assign(BATCH_NORM_LAUNCH, saved);
      }
    }
  });

  it('takes large planes in runs of consecutive planes on CPU adapters, bit for bit one plane per workgroup', async () => {
    expect(batchNormGeometry([32, 64, 32, 32]).planeRuns).toBe(BATCH_NORM_LAUNCH.planeRuns);
    expect(batchNormGeometry([8, 64, 56, 56]).planeRuns).toBe(BATCH_NORM_LAUNCH.planeRuns);
    expect(batchNormGeometry([32, 128, 28, 28]).planeRuns).toBe(BATCH_NORM_LAUNCH.planeRuns); // 196 vec4s per plane
    expect(batchNormGeometry([128, 32, 16, 16]).planeRuns).toBe(0); // 64 vec4s per plane
    expect(batchNormGeometry([4, 8, 7, 7]).planeRuns).toBe(0);
    const shape = [3, 5, 32, 32];
    const C = shape[1];
    const run = async (relu: boolean, training: boolean) => {
      const x = wg.randn(shape, { seed: 41, mean: 1, std: 2 });
      x.requiresGrad = true;
      const w = wg.rand([C], { seed: 42, low: 0.5, high: 1.5 });
      w.requiresGrad = true;
      const b = wg.randn([C], { seed: 43 });
      b.requiresGrad = true;
      const rm = wg.randn([C], { seed: 44 });
      const rv = wg.rand([C], { seed: 45, low: 0.5, high: 2 });
      const y = F.batchNorm(x, rm, rv, w, b, { training, relu });
      const gy = wg.randn(shape, { seed: 46 });
      const kernels = (await wg.profile(() => y.backward(gy), { byKernel: true })).map((e) => e.label).join(' ');
      const out = [await y.data(), await x.grad!.data(), await w.grad!.data(), await b.grad!.data()];
      for (const t of [x, x.grad, w, w.grad, b, b.grad, rm, rv, y, gy]) t?.dispose();
      return { out, kernels };
    };
    const saved = { ...BATCH_NORM_LAUNCH };
    BATCH_NORM_LAUNCH.backwardOnePassBytes = 0; // the dx pass of the three-dispatch backward
    try {
      for (const relu of [false, true]) {
        for (const training of [true, false]) {
          const what = `relu ${relu} training ${training}`;
          BATCH_NORM_LAUNCH.planeRuns = 8;
          const runs = await run(relu, training);
          expect(runs.kernels, what).toContain('batch_norm_backward_input:main_plane_runs');
          BATCH_NORM_LAUNCH.planeRuns = 0;
          const single = await run(relu, training);
          expect(single.kernels, what).not.toContain('main_plane_runs');
          for (let k = 0; k < 4; k++) expect(Array.from(runs.out[k]), `${what}: output ${k}`).toEqual(Array.from(single.out[k]));
        }
      }
    } finally {
      Object.assign(BATCH_NORM_LAUNCH, saved);
    }
  });

  it('splits long channels into several chunks', () => {
    expect(batchNormGeometry([2, 2, 128, 128]).P).toBeGreaterThan(1);
    expect(batchNormGeometry([256, 3, 5, 5]).P).toBeGreaterThan(1);
    expect(batchNormGeometry([2, 2, 128, 128]).vec4).toBe(true);
    expect(batchNormGeometry([3, 5, 7, 7]).vec4).toBe(false);
  });
});

describe('batchNorm with its per-channel passes folded into the elementwise ones (finalizeInApply, coefficientsInInput)', () => {
  // y, the saved statistics (through the backward), the gradients, the running statistics and
  // the module's counter, against the same call with the statistics finalized and the dx
  // coefficients computed in dispatches of their own: bit for bit, in training and eval, on each
  // layout that has a *_finalize entry point (small vec4 planes, runs of planes, plane groups,
  // straddling vec4s), and under a GPU's launch settings.
  const shapes: [number[], 'cpu' | 'gpu'][] = [
    [[40, 4, 8, 8], 'cpu'], [[3, 5, 32, 32], 'cpu'], [[24, 8, 7, 7], 'cpu'], [[24, 6, 7, 7], 'cpu'],
    [[8, 3, 16, 16], 'gpu'], [[4, 6, 7, 7], 'gpu'],
  ];
  for (const [shape, settings] of shapes) {
    for (const training of [true, false]) {
      it(`${JSON.stringify(shape)} training ${training}${settings === 'gpu' ? ', a GPU\'s settings' : ''}`, async () => {
        const saved = { ...BATCH_NORM_LAUNCH };
        // No one-dispatch forward or backward (they would take the training passes here).
        Object.assign(BATCH_NORM_LAUNCH, settings === 'gpu' ? { ...BATCH_NORM_GPU_LAUNCH, minUnitsPerLane: 1 } : { onePassBytes: 0, backwardOnePassBytes: 0 });
        onTestFinished(() => { Object.assign(BATCH_NORM_LAUNCH, saved); });
        const C = shape[1];
        const xData = randomArray(numel(shape), rnd, -2, 3);
        const gyData = randomArray(numel(shape), rnd);
        const run = async (folded: boolean) => {
          Object.assign(BATCH_NORM_LAUNCH, { finalizeInApply: { training: folded, eval: folded }, coefficientsInInput: folded });
          expect(batchNormGeometry(shape).finalizeInApply[training ? 'training' : 'eval']).toBe(folded);
          const bn = new wg.nn.BatchNorm2d(C);
          bn.train(training);
          const x = wg.tensor(xData, shape, { requiresGrad: true });
          const y = bn.forward(x);
          y.backward(wg.tensor(gyData, shape));
          const out = await Promise.all([y, x.grad!, bn.weight!.grad!, bn.bias!.grad!, bn.runningMean!, bn.runningVar!, bn.numBatchesTracked!].map((t) => t.data()));
          for (const t of [x, y, x.grad]) t?.dispose();
          bn.dispose();
          return out.map((d) => Array.from(d));
        };
        const ref = await run(false);
        const fused = await run(true);
        expect(fused).toEqual(ref);
        expect(ref[6]).toEqual([training ? 1 : 0]);
      });
    }
  }
});

describe('batchNorm dispatches per step', () => {
  it('finalizes eval statistics in the apply pass, runs the training backward in one dispatch and otherwise computes dx coefficients in a pass of their own on lavapipe; folds both on a GPU', async () => {
    const labels = async (training: boolean) => {
      const bn = new wg.nn.BatchNorm2d(3);
      bn.train(training);
      const x = wg.randn([2, 3, 32, 32], { seed: 61 });
      x.requiresGrad = true;
      const ran = await wg.profile(() => { bn.forward(x).backward(wg.ones([2, 3, 32, 32])); });
      for (const t of [x, x.grad]) t?.dispose();
      bn.dispose();
      return ran.map((e) => e.label).sort();
    };
    expect(await labels(false)).toEqual(['batchNorm backward coefficients', 'batchNorm backward input', 'batchNorm backward reduce', 'batchNorm forward', 'fill']);
    expect(await labels(true)).toEqual(['batchNorm backward', 'batchNorm finalize', 'batchNorm forward', 'batchNorm stats', 'fill']);
    const saved = { ...BATCH_NORM_LAUNCH };
    onTestFinished(() => { Object.assign(BATCH_NORM_LAUNCH, saved); });
    BATCH_NORM_LAUNCH.backwardOnePassBytes = 0;
    expect(await labels(true)).toEqual(['batchNorm backward coefficients', 'batchNorm backward input', 'batchNorm backward reduce', 'batchNorm finalize', 'batchNorm forward', 'batchNorm stats', 'fill']);
    Object.assign(BATCH_NORM_LAUNCH, { finalizeInApply: BATCH_NORM_GPU_LAUNCH.finalizeInApply, coefficientsInInput: true });
    expect(await labels(true)).toEqual(['batchNorm backward input', 'batchNorm backward reduce', 'batchNorm forward', 'batchNorm stats', 'fill']);
  });
});

describe('batchNorm gradients of some of its inputs only', () => {
  // dx alone (parameters frozen: no dweight/dbias written, and in eval no sums reduced), and
  // dweight/dbias alone (an input that needs no gradient: the per-channel pass without dx), on
  // shapes that take each pass: small vec4 planes, runs of planes, plane groups, straddling
  // vec4s, (N, C) inputs.
  const shapes = [[3, 4, 8, 8], [2, 3, 32, 32], [3, 8, 7, 7], [4, 6, 7, 7], [16, 6]];
  for (const shape of shapes) {
    for (const training of [true, false]) {
      for (const want of ['input', 'parameters'] as const) {
        it(`${JSON.stringify(shape)} training ${training}: ${want} only`, async () => {
          const C = shape[1];
          const xData = randomArray(numel(shape), rnd, -2, 3);
          const gyData = randomArray(numel(shape), rnd);
          const [rmData, rvData, wData, bData] = [randomArray(C, rnd, -0.5, 0.5), randomArray(C, rnd, 0.5, 1.5), randomArray(C, rnd, 0.5, 1.5), randomArray(C, rnd, -0.5, 0.5)];
          const x = wg.tensor(xData, shape, { requiresGrad: want === 'input' });
          const [rm, rv] = [wg.tensor(rmData, [C]), wg.tensor(rvData, [C])];
          const w = wg.tensor(wData, [C], { requiresGrad: want === 'parameters' });
          const b = wg.tensor(bData, [C], { requiresGrad: want === 'parameters' });
          const opts = { training, momentum: 0.1, eps: 1e-5 };
          const ref = batchNormForwardRef(xData, shape, rmData, rvData, wData, bData, opts);
          const y = F.batchNorm(x, rm, rv, w, b, opts);
          const gy = wg.tensor(gyData, shape);
          y.backward(gy);
          const back = batchNormBackwardRef(gyData, xData, shape, ref.mean, ref.invstd, wData, training);
          const what = `${JSON.stringify(shape)} training ${training}`;
          if (want === 'input') {
            expectClose(await x.grad!.data(), back.dx, GRAD_TOL, `${what} dx`);
            expect(w.grad).toBeNull();
          } else {
            expect(x.grad).toBeNull();
            expectClose(await w.grad!.data(), back.dweight, GRAD_TOL, `${what} dweight`);
            expectClose(await b.grad!.data(), back.dbias, GRAD_TOL, `${what} dbias`);
          }
          for (const t of [x, rm, rv, w, b, y, gy, x.grad, w.grad, b.grad]) t?.dispose();
        });
      }
    }
  }
});

describe('batchNorm with a residual (the end of a residual block)', () => {
  // y = relu(batchNorm(x) + r) (or without the ReLU) in one pass, against the float64 reference
  // and against the unfused ops, on shapes that take each apply path: small vec4 planes, runs of
  // planes, 7x7 planes as straddling vec4s and in groups of four, (N, C) inputs, 49-float planes
  // as scalars; training (where the one-dispatch forward runs, the residual is added after it)
  // and eval; and two shapes under a GPU's launch settings (no one-dispatch forward there).
  const shapes: [number[], 'cpu' | 'gpu'][] = [
    [[3, 4, 8, 8], 'cpu'], [[2, 3, 32, 32], 'cpu'], [[4, 6, 7, 7], 'cpu'], [[3, 8, 7, 7], 'cpu'], [[16, 6], 'cpu'], [[3, 5, 7, 7], 'cpu'],
    [[3, 4, 8, 8], 'gpu'], [[4, 6, 7, 7], 'gpu'],
  ];
  for (const [shape, settings] of shapes) {
    for (const [training, relu] of [[true, true], [true, false], [false, true]] as const) {
      it(`${JSON.stringify(shape)} training ${training} relu ${relu}${settings === 'gpu' ? ', a GPU\'s settings' : ''}`, async () => {
        const saved = { ...BATCH_NORM_LAUNCH };
        if (settings === 'gpu') Object.assign(BATCH_NORM_LAUNCH, BATCH_NORM_GPU_LAUNCH, { minUnitsPerLane: 1 });
        onTestFinished(() => { Object.assign(BATCH_NORM_LAUNCH, saved); });
        const C = shape[1];
        const n = numel(shape);
        const xData = randomArray(n, rnd, -2, 3);
        const rData = randomArray(n, rnd, -1, 1);
        const gyData = randomArray(n, rnd);
        const [rmData, rvData, wData, bData] = [randomArray(C, rnd, -0.5, 0.5), randomArray(C, rnd, 0.5, 1.5), randomArray(C, rnd, 0.5, 1.5), randomArray(C, rnd, -0.5, 0.5)];
        const run = (fused: boolean) => {
          const x = wg.tensor(xData, shape, { requiresGrad: true });
          const r = wg.tensor(rData, shape, { requiresGrad: true });
          const w = wg.tensor(wData, [C], { requiresGrad: true });
          const b = wg.tensor(bData, [C], { requiresGrad: true });
          const [rm, rv] = [wg.tensor(rmData, [C]), wg.tensor(rvData, [C])];
          const opts = { training, momentum: 0.1, eps: 1e-5 };
          const y = fused
            ? F.batchNorm(x, rm, rv, w, b, { ...opts, relu, residual: r })
            : (relu ? F.addRelu : wg.add)(F.batchNorm(x, rm, rv, w, b, opts), r);
          y.backward(wg.tensor(gyData, shape));
          return { tensors: [x, r, w, b, rm, rv, y], outs: [y, x.grad!, w.grad!, b.grad!, r.grad!, rm, rv] };
        };
        const fused = run(true);
        const unfused = run(false);
        const fusedData = await Promise.all(fused.outs.map((t) => t.data()));
        const unfusedData = await Promise.all(unfused.outs.map((t) => t.data()));
        // The float64 reference: y = act(bn(x) + r); g = gy * (y > 0) is r's gradient and bn's.
        const ref = batchNormForwardRef(xData, shape, rmData, rvData, wData, bData, { training, momentum: 0.1, eps: 1e-5 });
        const yRef = Array.from(ref.y, (v, i) => (relu ? Math.max(v + rData[i], 0) : v + rData[i]));
        const g = Array.from(gyData, (v, i) => (yRef[i] > 0 || !relu ? v : 0));
        const back = batchNormBackwardRef(g, xData, shape, ref.mean, ref.invstd, wData, training);
        const what = `${JSON.stringify(shape)} training ${training} relu ${relu}`;
        expectClose(fusedData[0], yRef, FORWARD_TOL, `${what} y`);
        expectClose(fusedData[1], back.dx, GRAD_TOL, `${what} dx`);
        expectClose(fusedData[2], back.dweight, GRAD_TOL, `${what} dweight`);
        expectClose(fusedData[3], back.dbias, GRAD_TOL, `${what} dbias`);
        expectClose(fusedData[4], g, GRAD_TOL, `${what} dresidual`);
        // The unfused ops compute the same sums in the same order.
        for (let k = 0; k < fusedData.length; k++) expectClose(fusedData[k], unfusedData[k], 1e-6, `${what}: output ${k} fused / unfused`);
        for (const t of [...fused.tensors, ...unfused.tensors]) { t.grad?.dispose(); t.dispose(); }
      });
    }
  }

  it('adds the residual in the apply pass, or after the one-dispatch forward where that runs', async () => {
    const labels = async (shape: number[]) => {
      const x = wg.randn(shape, { seed: 51 });
      const r = wg.randn(shape, { seed: 52 });
      const ran = await wg.profile(() => F.batchNorm(x, null, null, null, null, { training: true, relu: true, residual: r }).dispose());
      for (const t of [x, r]) t.dispose();
      return ran.map((e) => e.label).sort();
    };
    // On lavapipe the training statistics are finalized in a dispatch of their own ...
    expect(batchNormGeometry([2, 3, 32, 32]).finalizeInApply).toEqual({ training: false, eval: true });
    expect(await labels([2, 3, 32, 32])).toEqual(['batchNorm finalize', 'batchNorm forward (+residual, +relu)', 'batchNorm stats']);
    // ... on a GPU by the apply pass (where the device offers 10 storage bindings, as lavapipe does).
    const saved = BATCH_NORM_LAUNCH.finalizeInApply;
    BATCH_NORM_LAUNCH.finalizeInApply = BATCH_NORM_GPU_LAUNCH.finalizeInApply;
    onTestFinished(() => { BATCH_NORM_LAUNCH.finalizeInApply = saved; });
    expect(await labels([2, 3, 32, 32])).toEqual(['batchNorm forward (+residual, +relu)', 'batchNorm stats']);
    // Small planes on a CPU adapter: the one-dispatch forward, whose kernel has no binding left, then addRelu.
    expect(batchNormGeometry([3, 4, 8, 8]).onePass).toBe(true);
    expect(await labels([3, 4, 8, 8])).toEqual(['addRelu', 'batchNorm forward, one pass']);
  });

  it('rejects a residual of another shape or dtype, or one sharing a running statistic, before dispatch', async () => {
    const x = wg.zeros([2, 3, 4, 4]);
    const other = wg.zeros([2, 3, 4, 5]);
    const ints = wg.zeros([2, 3, 4, 4], { dtype: 'int32' });
    const rm = wg.zeros([96]);
    const rmView = rm.reshape([2, 3, 4, 4]);
    const rmHead = wg.slice(rm, 0, 0, 3); // a running mean in the residual's memory
    const c3 = wg.zeros([3]);
    await wg.sync();
    const cases: [() => unknown, RegExp][] = [
      [() => F.batchNorm(x, null, null, null, null, { training: true, residual: other }), /batchNorm: residual must be a float32 tensor of the input's shape \[2, 3, 4, 4\], got .*\[2, 3, 4, 5\]/],
      [() => F.batchNorm(x, null, null, null, null, { training: true, residual: ints }), /batchNorm: residual must be a float32 tensor/],
      [() => F.batchNorm(x, rmHead, c3, null, null, { training: true, residual: rmView }), /batchNorm: residual shares memory with a running statistic/],
    ];
    for (const [f, re] of cases) {
      expect(f).toThrow(wg.OpArgumentError);
      expect(f).toThrow(re);
    }
    expect(commands().pending, 'nothing was dispatched').toBe(false);
    for (const t of [x, other, ints, rm, rmView, rmHead, c3]) t.dispose();
  });
});

describe('batchNorm gradients vs finite differences of the float64 reference', () => {
  // gradcheck: central differences (eps 1e-6) of the float64 reference forward, GPU grads within 1e-3.
  for (const training of [true, false]) {
    for (const shape of [[3, 2, 3, 3], [5, 3], [2, 2, 4, 4]]) {
      it(`${training ? 'training' : 'eval'} ${JSON.stringify(shape)}`, () => {
        const C = shape[1];
        const rm = randomArray(C, rnd, -0.3, 0.3);
        const rv = randomArray(C, rnd, 0.5, 1.5);
        return gradcheck({
          name: 'batchNorm',
          inputs: [
            { shape, data: randomArray(numel(shape), rnd, -2, 2) },
            { shape: [C], data: randomArray(C, rnd, 0.5, 1.5) },
            { shape: [C], data: randomArray(C, rnd, -0.5, 0.5) },
          ],
          gpu: ([x, w, b]) => {
            const rmT = wg.tensor(rm, [C]);
            const rvT = wg.tensor(rv, [C]);
            const y = F.batchNorm(x, rmT, rvT, w, b, { training });
            rmT.dispose();
            rvT.dispose();
            return y;
          },
          ref: ([x, w, b]) => batchNormForwardRef(x, shape, rm, rv, w, b, { training, momentum: 0.1, eps: 1e-5 }).y,
          forwardTol: 1e-5,
        });
      });
    }
  }
});

describe('batchNorm behaviour', () => {
  it('is bit-identical run to run (no atomics)', async () => {
    const x = wg.randn([4, 8, 16, 16], { seed: 3 });
    const run = async () => {
      const y = F.batchNorm(x, null, null, null, null, { training: true });
      const d = await y.data();
      y.dispose();
      return d;
    };
    expect(await run()).toEqual(await run());
    x.dispose();
  });

  it('updates running statistics several times in place (momentum semantics)', async () => {
    const x = wg.tensor(randomArray(2 * 3 * 4 * 4, rnd, -1, 3), [2, 3, 4, 4]);
    const rm = wg.zeros([3]);
    const rv = wg.ones([3]);
    let mean: ArrayLike<number> = new Float64Array(3);
    let variance: ArrayLike<number> = new Float64Array(3).fill(1);
    const host = await x.data();
    for (let step = 0; step < 3; step++) {
      F.batchNorm(x, rm, rv, null, null, { training: true, momentum: 0.3 }).dispose();
      const r = batchNormForwardRef(host, [2, 3, 4, 4], mean, variance, null, null, { training: true, momentum: 0.3, eps: 1e-5 });
      mean = r.runningMean!;
      variance = r.runningVar!;
    }
    expectClose(await rm.data(), mean, FORWARD_TOL, 'runningMean after 3 steps');
    expectClose(await rv.data(), variance, FORWARD_TOL, 'runningVar after 3 steps');
    for (const t of [x, rm, rv]) t.dispose();
  });

  it('counts training calls in numBatchesTracked (once per call, many channels), not eval ones', async () => {
    const x = wg.randn([2, 130, 3, 3], { seed: 4 });
    const rm = wg.zeros([130]);
    const rv = wg.ones([130]);
    const counter = wg.tensor(Int32Array.from([5]));
    for (let i = 0; i < 3; i++) F.batchNorm(x, rm, rv, null, null, { training: true, numBatchesTracked: counter }).dispose();
    F.batchNorm(x, rm, rv, null, null, { training: false, numBatchesTracked: counter }).dispose();
    expect(await counter.item()).toBe(8);
    const bad = wg.zeros([1]);
    expect(() => F.batchNorm(x, rm, rv, null, null, { training: true, numBatchesTracked: bad })).toThrow(/numBatchesTracked must be a one-element int32 tensor/);
    for (const t of [x, rm, rv, counter, bad]) t.dispose();
  });

  it('leaves no tensors or buffers behind', async () => {
    const x = wg.randn([2, 3, 8, 8], { seed: 1 });
    x.requiresGrad = true;
    const w = wg.ones([3], { requiresGrad: true });
    const b = wg.zeros([3], { requiresGrad: true });
    const rm = wg.zeros([3]);
    const rv = wg.ones([3]);
    // A residual, with and without the ReLU, in one dispatch's shape (8x8) and in the apply pass's (32x32).
    const r = wg.randn([2, 3, 8, 8], { seed: 2 });
    r.requiresGrad = true;
    const x32 = wg.randn([2, 3, 32, 32], { seed: 3 });
    x32.requiresGrad = true;
    const r32 = wg.randn([2, 3, 32, 32], { seed: 4 });
    r32.requiresGrad = true;
    await wg.sync();
    const before = wg.memory();
    const runs: [wg.Tensor, wg.Tensor | null, boolean][] = [[x, null, false], [x, r, true], [x, r, false], [x32, r32, true]];
    for (const training of [true, false]) {
      for (const [input, residual, relu] of runs) {
        const y = F.batchNorm(input, rm, rv, w, b, { training, residual, relu });
        const s = y.sum();
        s.backward();
        await input.grad!.data();
        for (const t of [y, s]) t.dispose();
        for (const t of [input, w, b, ...(residual ? [residual] : [])]) {
          t.grad!.dispose();
          t.grad = null;
        }
      }
    }
    const after = wg.memory();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    for (const t of [x, w, b, rm, rv, r, x32, r32]) t.dispose();
  });

  it('rejects bad arguments before dispatch, naming the op and shapes', async () => {
    const x = wg.zeros([2, 3, 4, 4]);
    const c3 = wg.zeros([3]);
    const c4 = wg.zeros([4]);
    const c3view = c3.reshape([3]);
    const flat = wg.zeros([6]);
    const single = wg.zeros([1, 3, 1, 1]);
    const ints = wg.zeros([2, 3], { dtype: 'int32' });
    await wg.sync();
    const cases: [() => unknown, RegExp][] = [
      [() => F.batchNorm(flat, null, null, null, null, { training: true }), /batchNorm: expected an input of rank 2 to 5 .* got \[6\]/],
      [() => F.batchNorm(x, c4, c3, null, null, { training: true }), /batchNorm: runningMean must have shape \[3\].*got \[4\].*input \[2, 3, 4, 4\]/],
      [() => F.batchNorm(x, c3, c3, c3, c4, { training: true }), /batchNorm: bias must have shape \[3\]/],
      [() => F.batchNorm(x, c3, c3view, null, null, { training: true }), /batchNorm: runningMean shares memory/],
      [() => F.batchNorm(x, null, null, null, null, { training: false }), /batchNorm: eval mode .* needs runningMean and runningVar/],
      [() => F.batchNorm(single, null, null, null, null, { training: true }), /batchNorm: expected more than 1 value per channel when training, got input \[1, 3, 1, 1\]/],
      [() => F.batchNorm(ints, null, null, null, null, { training: true }), /batchNorm: expected a float32 input/],
      [() => F.batchNorm(x, null, null, null, null, { training: true, eps: -1 }), /batchNorm: eps/],
      [() => F.batchNorm(x, null, null, null, null, { training: true, momentum: null as any }), /batchNorm: momentum null/],
      [() => F.batchNorm(x, null, null, null, null, { training: true, affine: false } as any), /batchNorm: unknown or unsupported option 'affine'/],
    ];
    for (const [f, re] of cases) {
      expect(f).toThrow(wg.OpArgumentError);
      expect(f).toThrow(re);
    }
    expect(commands().pending, 'nothing was dispatched').toBe(false);
    for (const t of [x, c3, c4, c3view, flat, single, ints]) t.dispose();
  });
});
