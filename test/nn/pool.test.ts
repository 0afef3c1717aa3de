// Pooling: PyTorch fixtures (forward 1e-4 — max pooling is exact — and grads 1e-3), the float64
// references on larger shapes (gathers in the kernels vs scatters in the references), finite
// differences of the references (gradcheck), tie-breaking, argument errors and memory.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice, loadFixtures, fromFixture, expectTensorClose, expectClose, FORWARD_TOL, GRAD_TOL, type FixtureCase } from '../helpers.js';
import { gradcheck, hostRandom, randomArray } from '../gradcheck.js';
import {
  pool2dGeometry, maxPool2dForward, maxPool2dBackward, avgPool2dForward, avgPool2dBackward, poolRowsApply, poolPlanesApply,
  poolStripsApply, windowsInside, type Pool2dSpec,
} from '../../src/kernels/pool.js';
import { globalAvgPool2dForward, globalAvgPool2dBackward } from '../../src/kernels/adaptive-pool.js';
import {
  maxPool2dRef, maxPool2dBackwardRef, avgPool2dRef, avgPool2dBackwardRef, adaptiveAvgPool2dRef, adaptiveAvgPool2dBackwardRef,
} from '../../src/kernels/reference/pool.js';
import { numel } from '../../src/tensor/shape.js';
import { commands } from '../../src/tensor/queue.js';

useDevice();
const F = wg.nn.functional;
const rnd = hostRandom(99);
type Opts = Record<string, any>;

const ops: Record<string, (x: wg.Tensor, o: Opts) => wg.Tensor> = {
  maxPool2d: (x, o) => F.maxPool2d(x, o as any),
  avgPool2d: (x, o) => F.avgPool2d(x, o as any),
  adaptiveAvgPool2d: (x, o) => F.adaptiveAvgPool2d(x, o.outputSize),
};

describe('pooling vs PyTorch fixtures', () => {
  for (const c of loadFixtures('pool') as FixtureCase[]) {
    it(c.name, async () => {
      const x = fromFixture(c.inputs.x, true);
      const y = ops[c.op](x, c.options);
      if (c.op === 'maxPool2d') {
        // Max pooling moves data: exactly the float32 values of the fixture.
        expect([...y.shape]).toEqual(c.outputs.y.shape);
        expect(Array.from(await y.data())).toEqual(c.outputs.y.data.map(Math.fround));
      } else {
        await expectTensorClose(y, c.outputs.y, FORWARD_TOL, `${c.name} y`);
      }
      const gy = fromFixture(c.gradOutput!);
      y.backward(gy);
      await expectTensorClose(x.grad!, c.grads.x, GRAD_TOL, `${c.name} dx`);
      for (const t of [x, y, gy]) t.dispose();
    });
  }
});

function spec(k: number[], s: number[], p: number[], d = [1, 1], ceilMode = false, countIncludePad = true): Pool2dSpec {
  return { kernel: [k[0], k[1]], stride: [s[0], s[1]], padding: [p[0], p[1]], dilation: [d[0], d[1]], ceilMode, countIncludePad };
}

describe('pooling vs the float64 references', () => {
  const maxCases: [number[], Pool2dSpec][] = [
    [[2, 8, 32, 32], spec([3, 3], [2, 2], [1, 1])],
    [[4, 3, 17, 13], spec([2, 2], [2, 2], [0, 0], [1, 1], true)],
    [[2, 3, 15, 15], spec([3, 2], [1, 2], [1, 1], [2, 1])],
    [[1, 2, 10, 10], spec([4, 4], [3, 3], [2, 2], [1, 1], true)],
    [[1, 1, 300, 301], spec([3, 3], [2, 2], [1, 1])],           // large planes (index arithmetic)
    [[2, 35000, 2, 2], spec([2, 2], [2, 2], [0, 0])],           // 70000 planes: the grid spills into z
  ];
  for (const [shape, sp] of maxCases) {
    it(`maxPool2d ${JSON.stringify(shape)} ${JSON.stringify(sp)}`, async () => {
      const data = randomArray(numel(shape), rnd, -3, 3);
      const x = wg.tensor(data, shape, { requiresGrad: true });
      const y = F.maxPool2d(x, { kernelSize: [...sp.kernel] as [number, number], stride: [...sp.stride] as [number, number], padding: [...sp.padding] as [number, number], dilation: [...sp.dilation] as [number, number], ceilMode: sp.ceilMode });
      const g = pool2dGeometry('maxPool2d', shape, sp);
      const ref = maxPool2dRef(data, g);
      expectClose(await y.data(), ref.y, 0, 'y');
      const gyData = randomArray(y.size, rnd);
      const gy = wg.tensor(gyData, [...y.shape]);
      y.backward(gy);
      expectClose(await x.grad!.data(), maxPool2dBackwardRef(gyData, ref.argmax, g), 1e-6, 'dx');
      for (const t of [x, y, gy]) t.dispose();
    });
  }

  it('maxPool2d backward: the phased scatter and the gather both match the reference', async () => {
    const configs: [number[], Pool2dSpec][] = [
      [[2, 3, 13, 11], spec([3, 3], [2, 2], [1, 1])],              // 2x2 phases
      [[2, 3, 12, 12], spec([2, 2], [2, 2], [0, 0])],              // 1 phase
      [[1, 2, 11, 10], spec([3, 2], [1, 1], [1, 0], [1, 2])],      // 3x3 phases, dilation
      [[1, 2, 16, 16], spec([7, 7], [1, 1], [3, 3])],              // 49 phases: gather by default
      [[1, 2, 9, 9], spec([2, 2], [3, 3], [1, 1], [1, 1], true)],  // stride > kernel: gaps in dx
    ];
    for (const [shape, sp] of configs) {
      const data = randomArray(numel(shape), rnd, -3, 3);
      const x = wg.tensor(data, shape);
      const g = pool2dGeometry('maxPool2d', shape, sp);
      const { y, argmax } = maxPool2dForward(x, g);
      const ref = maxPool2dRef(data, g);
      const gyData = randomArray(y.size, rnd);
      const gy = wg.tensor(gyData, [...y.shape]);
      const want = maxPool2dBackwardRef(gyData, ref.argmax, g);
      for (const method of ['scatter', 'gather', undefined] as const) {
        const dx = maxPool2dBackward(gy, argmax, g, method);
        expectClose(await dx.data(), want, 1e-6, `${JSON.stringify(shape)} ${JSON.stringify(sp)} ${method ?? 'default'}`);
        dx.dispose();
      }
      for (const t of [x, y, argmax, gy]) t.dispose();
    }
  });

  it('maxPool2d row kernels: the same y, argmax and dx as the one-output kernels and the reference', async () => {
    const configs: [number[], Pool2dSpec, boolean][] = [   // shape, spec, backward by rows too
      [[2, 3, 16, 16], spec([3, 3], [2, 2], [1, 1]), true],          // the ResNet stem's pool
      [[1, 2, 9, 8], spec([3, 3], [1, 1], [1, 1]), true],            // stride 1, odd height
      [[2, 2, 10, 16], spec([2, 2], [2, 2], [0, 0]), true],          // disjoint windows
      [[1, 2, 11, 24], spec([3, 2], [1, 2], [1, 0]), true],          // unequal kernel and stride
      [[1, 2, 15, 16], spec([3, 3], [2, 2], [0, 0], [1, 1], true), true],  // ceil mode
      [[1, 2, 20, 16], spec([5, 5], [2, 2], [2, 2]), true],          // 3 candidate rows x 3 vec4s
      [[1, 1, 296, 304], spec([3, 3], [2, 2], [1, 1]), true],        // large planes
      [[1, 2, 12, 12], spec([3, 3], [3, 3], [1, 1]), false],         // stride 3: forward only
    ];
    for (const [shape, sp, backwardRows] of configs) {
      const at = `${JSON.stringify(shape)} ${JSON.stringify(sp)}`;
      const g = pool2dGeometry('maxPool2d', shape, sp);
      expect(poolRowsApply(g, 'forward'), at).toBe(true);
      expect(poolRowsApply(g, 'backward'), at).toBe(backwardRows);
      // Integers in a small range: many ties, so the scan order is tested too.
      const data = randomArray(numel(shape), rnd, -3, 3).map(Math.round);
      const x = wg.tensor(data, shape);
      const ref = maxPool2dRef(data, g);
      const rows = maxPool2dForward(x, g, 'rows');
      const plain = maxPool2dForward(x, g, 'plain');
      expect(Array.from(await rows.y.data()), at).toEqual(Array.from(await plain.y.data()));
      expect(Array.from(await rows.argmax.data()), at).toEqual(Array.from(await plain.argmax.data()));
      // The strip kernel (the rows' geometries with KH >= SH; all of these) too, across runs of 32 output rows.
      expect(poolStripsApply(g), at).toBe(true);
      const strips = maxPool2dForward(x, g, 'strips');
      expect(Array.from(await strips.y.data()), at).toEqual(Array.from(await plain.y.data()));
      expect(Array.from(await strips.argmax.data()), at).toEqual(Array.from(await plain.argmax.data()));
      strips.y.dispose();
      strips.argmax.dispose();
      expectClose(await rows.y.data(), ref.y, 0, `${at} y`);
      expect(Array.from(await rows.argmax.data()), at).toEqual(Array.from(ref.argmax));
      const gyData = randomArray(rows.y.size, rnd);
      const gy = wg.tensor(gyData, [...rows.y.shape]);
      const want = maxPool2dBackwardRef(gyData, ref.argmax, g);
      if (backwardRows) {
        const dxRows = maxPool2dBackward(gy, rows.argmax, g, 'rows');
        const dxStrips = maxPool2dBackward(gy, rows.argmax, g, 'strips');
        const dxGather = maxPool2dBackward(gy, rows.argmax, g, 'gather');
        expect(Array.from(await dxRows.data()), at).toEqual(Array.from(await dxGather.data()));
        expect(Array.from(await dxStrips.data()), `${at} strips`).toEqual(Array.from(await dxGather.data()));
        expectClose(await dxRows.data(), want, 1e-6, `${at} dx`);
        for (const t of [dxRows, dxStrips, dxGather]) t.dispose();
      }
      for (const t of [x, rows.y, rows.argmax, plain.y, plain.argmax, gy]) t.dispose();
    }
  });

  it('four-plane kernels: bit for bit the one-output kernels, and the reference', async () => {
    // shape, spec; N*C a multiple of 4, planes up to 8x8 (7x7: the last stage of ImageNet ResNets)
    const configs: [number[], Pool2dSpec][] = [
      [[2, 2, 7, 7], spec([3, 3], [2, 2], [1, 1])],                        // 4 planes of 49 floats
      [[3, 44, 7, 7], spec([3, 3], [2, 2], [1, 1])],                       // 33 groups: a partial workgroup
      [[2, 6, 7, 5], spec([3, 3], [1, 1], [1, 1], [1, 1], false, false)],  // stride 1, excluded padding
      [[1, 8, 5, 6], spec([2, 2], [2, 2], [0, 0], [1, 1], true)],          // ceil mode, last windows clipped
      [[2, 2, 7, 7], spec([3, 3], [2, 2], [0, 0], [1, 1], true, false)],   // ceil mode, 3x3 outputs (9 per plane)
      [[1, 4, 7, 7], spec([2, 2], [3, 3], [1, 1])],                        // stride > kernel: gaps in dx
      [[2, 2, 6, 6], spec([3, 2], [1, 2], [1, 0])],                        // unequal kernel and stride
      [[4, 1, 3, 3], spec([2, 2], [1, 1], [0, 0])],                        // tiny planes
      [[1, 4, 5, 2], spec([2, 2], [1, 1], [0, 0])],                        // planes of 2 columns
      [[16, 4, 7, 1], spec([3, 1], [2, 1], [1, 0])],                       // 1 column: a plane's last 3 rows in one vec4
      [[2, 2, 1, 3], spec([1, 2], [1, 1], [0, 0])],                        // planes of 3 inputs
      [[16, 4, 6, 1], spec([2, 1], [1, 1], [0, 0])],                       // 5x1 outputs: a plane's last 3 rows in one vec4
      [[3, 4, 8, 8], spec([3, 3], [2, 2], [1, 1])],                        // 8x8: dx planes of whole cache lines
      [[1, 4, 8, 7], spec([2, 2], [1, 1], [1, 1], [1, 1], false, false)],  // 9x8 outputs: too tall
    ];
    for (const [shape, sp] of configs) {
      const at = `${JSON.stringify(shape)} ${JSON.stringify(sp)}`;
      const g = pool2dGeometry('maxPool2d', shape, sp);
      if (g.OH > 8) {
        expect(poolPlanesApply(g), at).toBe(false);
        expect(() => maxPool2dForward(wg.zeros(shape), g, 'planes'), at).toThrow(/plane kernels do not take this geometry/);
        continue;
      }
      expect(poolPlanesApply(g), at).toBe(true);
      // Integers in a small range: many ties (and -0), so the scan order is tested too.
      const data = randomArray(numel(shape), rnd, -3, 3).map(Math.round);
      const x = wg.tensor(data, shape);
      const ref = maxPool2dRef(data, g);
      const planes = maxPool2dForward(x, g, 'planes');
      const plain = maxPool2dForward(x, g, 'plain');
      expect(Array.from(await planes.y.data()), at).toEqual(Array.from(await plain.y.data()));
      expect(Array.from(await planes.argmax.data()), at).toEqual(Array.from(await plain.argmax.data()));
      expectClose(await planes.y.data(), ref.y, 0, `${at} max y`);
      expect(Array.from(await planes.argmax.data()), at).toEqual(Array.from(ref.argmax));
      const gyData = randomArray(planes.y.size, rnd);
      const gy = wg.tensor(gyData, [...planes.y.shape]);
      const dxPlanes = maxPool2dBackward(gy, planes.argmax, g, 'planes');
      const dxGather = maxPool2dBackward(gy, planes.argmax, g, 'gather');
      expect(Array.from(await dxPlanes.data()), at).toEqual(Array.from(await dxGather.data()));
      expectClose(await dxPlanes.data(), maxPool2dBackwardRef(gyData, ref.argmax, g), 1e-6, `${at} max dx`);

      const ag = pool2dGeometry('avgPool2d', shape, sp);
      const xf = wg.tensor(randomArray(numel(shape), rnd, -3, 3), shape);
      const yPlanes = avgPool2dForward(xf, ag, 'planes');
      const yPlain = avgPool2dForward(xf, ag, 'plain');
      expect(Array.from(await yPlanes.data()), at).toEqual(Array.from(await yPlain.data()));
      expectClose(await yPlanes.data(), avgPool2dRef(await xf.data(), ag), FORWARD_TOL, `${at} avg y`);
      const adxPlanes = avgPool2dBackward(gy, ag, 'planes');
      const adxPlain = avgPool2dBackward(gy, ag, 'plain');
      expect(Array.from(await adxPlanes.data()), at).toEqual(Array.from(await adxPlain.data()));
      expectClose(await adxPlanes.data(), avgPool2dBackwardRef(gyData, ag), GRAD_TOL, `${at} avg dx`);
      for (const t of [x, planes.y, planes.argmax, plain.y, plain.argmax, gy, dxPlanes, dxGather, xf, yPlanes, yPlain, adxPlanes, adxPlain]) t.dispose();
    }
  });

  it('four-plane kernels take N*C % 4 == 0, planes up to 8x8, no dilation; the launchers pick them for 7x7', async () => {
    const sp = spec([3, 3], [2, 2], [1, 1]);
    expect(poolPlanesApply(pool2dGeometry('maxPool2d', [1, 6, 7, 7], sp))).toBe(false);
    expect(poolPlanesApply(pool2dGeometry('maxPool2d', [1, 4, 9, 9], sp))).toBe(false);
    expect(poolPlanesApply(pool2dGeometry('maxPool2d', [1, 4, 7, 7], spec([2, 2], [1, 1], [0, 0], [2, 2])))).toBe(false);
    // The default path on lavapipe (a CPU adapter) runs them: the same values as the one-output kernels.
    const shape = [2, 2, 7, 7];
    const g = pool2dGeometry('maxPool2d', shape, sp);
    const data = randomArray(numel(shape), rnd, -3, 3);
    const x = wg.tensor(data, shape);
    const byDefault = maxPool2dForward(x, g);
    expect(Array.from(await byDefault.argmax.data())).toEqual(Array.from(maxPool2dRef(data, g).argmax));
    byDefault.y.dispose();
    byDefault.argmax.dispose();
    x.dispose();
  });

  it('four-plane max pooling: NaN propagates and -inf windows keep their first tap', async () => {
    const N = NaN;
    const I = -Infinity;
    // 4 planes of 2x3 (2x2 windows, stride 1): a NaN, two NaNs (the last one wins), all -inf, ties
    // (the first 7 wins).
    const data = [1, N, 3, 4, 5, 6, 1, N, 2, N, 0, 9, I, I, I, I, I, I, 7, 7, 5, 7, 1, 7];
    const x = wg.tensor(data, [1, 4, 2, 3]);
    const g = pool2dGeometry('maxPool2d', [1, 4, 2, 3], spec([2, 2], [1, 1], [0, 0]));
    for (const method of ['planes', 'plain'] as const) {
      const { y, argmax } = maxPool2dForward(x, g, method);
      expect(Array.from(await y.data()), method).toEqual([N, N, N, N, I, I, 7, 7]);
      expect(Array.from(await argmax.data()), method).toEqual([1, 1, 3, 1, 0, 1, 0, 1]);
      y.dispose();
      argmax.dispose();
    }
    x.dispose();
  });

  it('refuses to force a row kernel onto a geometry it does not take (W % 4 != 0)', () => {
    const g = pool2dGeometry('maxPool2d', [1, 2, 7, 7], spec([3, 3], [2, 2], [1, 1]));
    const x = wg.zeros([1, 2, 7, 7]);
    const live = wg.memory().liveTensors;
    expect(poolRowsApply(g, 'forward')).toBe(false);
    expect(() => maxPool2dForward(x, g, 'rows')).toThrow(/row kernels do not take this forward geometry/);
    expect(() => avgPool2dBackward(x, g, 'rows')).toThrow(/row kernels do not take this backward geometry/);
    expect(wg.memory().liveTensors).toBe(live);
    x.dispose();
  });

  it('maxPool2d kernels: NaN propagates and -inf windows keep their first tap', async () => {
    const N = NaN;
    const I = -Infinity;
    // 4 windows of 2x2 (stride 2) in a 2x8 plane: a NaN, all -inf, ties, plain.
    const x = wg.tensor([1, N, I, I, 7, 7, 0, 1, 2, 3, I, I, 7, 7, 5, 0], [1, 1, 2, 8]);
    const g = pool2dGeometry('maxPool2d', [1, 1, 2, 8], spec([2, 2], [2, 2], [0, 0]));
    for (const method of ['strips', 'rows', 'plain'] as const) {
      const { y, argmax } = maxPool2dForward(x, g, method);
      expect(Array.from(await y.data()), method).toEqual([NaN, -Infinity, 7, 5]);
      expect(Array.from(await argmax.data()), method).toEqual([1, 2, 4, 14]);
      y.dispose();
      argmax.dispose();
    }
    x.dispose();
  });

  it('max pooling kernels on data sprinkled with NaN and -inf: the one-output kernel\'s y and argmax, bit for bit', async () => {
    // Every window's first tap (padding or not), ties, several NaNs in one window (the last one
    // wins), all -inf windows (their first valid tap): each fast kernel starts a window from its
    // first tap or first row, and these are the cases where that could differ from a -inf start.
    const configs: [number[], Pool2dSpec, ('strips' | 'rows' | 'planes')[]][] = [
      [[2, 3, 12, 16], spec([3, 3], [2, 2], [1, 1]), ['strips', 'rows']],
      [[1, 2, 9, 8], spec([3, 3], [1, 1], [1, 1]), ['strips', 'rows']],
      [[2, 2, 10, 16], spec([2, 2], [2, 2], [0, 0]), ['strips', 'rows']],
      [[1, 2, 20, 16], spec([5, 5], [2, 2], [2, 2]), ['strips', 'rows']],
      [[2, 2, 7, 7], spec([3, 3], [2, 2], [1, 1]), ['planes']],
      [[2, 2, 8, 8], spec([3, 3], [2, 2], [1, 1]), ['planes']],
    ];
    for (const [shape, sp, methods] of configs) {
      const g = pool2dGeometry('maxPool2d', shape, sp);
      // The first plane's top 3 rows all -inf (whole windows of it), elsewhere 10% NaN, 20% -inf.
      const data = randomArray(numel(shape), rnd, -2, 2).map((v, i) => {
        const r = rnd();
        if (i < 3 * shape[3]) return -Infinity;
        return r < 0.1 ? NaN : r < 0.3 ? -Infinity : Math.round(v);
      });
      const x = wg.tensor(data, shape);
      const plain = maxPool2dForward(x, g, 'plain');
      const wantY = Array.from(await plain.y.data());
      const wantI = Array.from(await plain.argmax.data());
      expect(wantY.some(Number.isNaN) && wantY.includes(-Infinity)).toBe(true);
      expect(wantI).toEqual(Array.from(maxPool2dRef(data, g).argmax));
      for (const method of methods) {
        const at = `${JSON.stringify(shape)} ${JSON.stringify(sp)} ${method}`;
        const fast = maxPool2dForward(x, g, method);
        expect(Array.from(await fast.y.data()), at).toEqual(wantY);
        expect(Array.from(await fast.argmax.data()), at).toEqual(wantI);
        fast.y.dispose();
        fast.argmax.dispose();
      }
      for (const t of [x, plain.y, plain.argmax]) t.dispose();
    }
  });

  const avgCases: [number[], Pool2dSpec][] = [
    [[2, 8, 32, 32], spec([2, 2], [2, 2], [0, 0])],
    [[2, 3, 15, 11], spec([3, 3], [2, 2], [1, 1], [1, 1], false, false)],
    [[2, 3, 15, 11], spec([3, 3], [2, 2], [1, 1], [1, 1], true, true)],
    [[1, 2, 10, 9], spec([4, 3], [3, 2], [2, 1], [1, 1], true, false)],
    [[2, 35000, 2, 3], spec([2, 2], [1, 1], [1, 1], [1, 1], false, false)],
  ];
  for (const [shape, sp] of avgCases) {
    it(`avgPool2d ${JSON.stringify(shape)} ${JSON.stringify(sp)}`, async () => {
      const data = randomArray(numel(shape), rnd, -3, 3);
      const x = wg.tensor(data, shape, { requiresGrad: true });
      const y = F.avgPool2d(x, { kernelSize: [...sp.kernel] as [number, number], stride: [...sp.stride] as [number, number], padding: [...sp.padding] as [number, number], ceilMode: sp.ceilMode, countIncludePad: sp.countIncludePad });
      const g = pool2dGeometry('avgPool2d', shape, sp);
      expectClose(await y.data(), avgPool2dRef(data, g), FORWARD_TOL, 'y');
      const gyData = randomArray(y.size, rnd);
      const gy = wg.tensor(gyData, [...y.shape]);
      y.backward(gy);
      expectClose(await x.grad!.data(), avgPool2dBackwardRef(gyData, g), GRAD_TOL, 'dx');
      for (const t of [x, y, gy]) t.dispose();
    });
  }

  it('avgPool2d row kernels: bit for bit the one-output kernels, and the reference', async () => {
    // shape, spec, backward by rows too, every window inside the input (the forward kernel's
    // INSIDE path: no bounds checks, one constant divisor)
    const configs: [number[], Pool2dSpec, boolean, boolean][] = [
      [[2, 3, 16, 16], spec([2, 2], [2, 2], [0, 0]), true, true],
      [[1, 2, 15, 16], spec([2, 2], [2, 2], [0, 0]), true, true],                  // odd OH, an input row left over
      [[1, 2, 9, 8], spec([3, 1], [1, 1], [0, 0]), true, true],                    // stride 1
      [[1, 2, 15, 16], spec([3, 3], [2, 2], [1, 1], [1, 1], false, false), true, false],   // odd H, excluded padding
      [[1, 2, 15, 16], spec([3, 3], [2, 2], [0, 0], [1, 1], true, true), true, false],     // ceil mode
      [[1, 2, 13, 16], spec([3, 3], [2, 2], [0, 0], [1, 1], true, false), true, false],    // ceil mode, last windows clipped
      [[1, 2, 9, 8], spec([3, 3], [1, 1], [1, 1], [1, 1], false, true), true, false],      // stride 1
      [[1, 2, 11, 24], spec([3, 2], [1, 2], [1, 0]), true, false],
      [[1, 2, 12, 12], spec([3, 3], [3, 3], [1, 1]), false, false],                       // stride 3: forward only
    ];
    for (const [shape, sp, backwardRows, inside] of configs) {
      const at = `${JSON.stringify(shape)} ${JSON.stringify(sp)}`;
      const g = pool2dGeometry('avgPool2d', shape, sp);
      expect(poolRowsApply(g, 'forward'), at).toBe(true);
      expect(poolRowsApply(g, 'backward'), at).toBe(backwardRows);
      expect(windowsInside(g), at).toBe(inside);
      const data = randomArray(numel(shape), rnd, -3, 3);
      const x = wg.tensor(data, shape);
      const rows = avgPool2dForward(x, g, 'rows');
      const plain = avgPool2dForward(x, g, 'plain');
      expect(Array.from(await rows.data()), at).toEqual(Array.from(await plain.data()));
      expectClose(await rows.data(), avgPool2dRef(data, g), FORWARD_TOL, `${at} y`);
      const gyData = randomArray(rows.size, rnd);
      const gy = wg.tensor(gyData, [...rows.shape]);
      if (backwardRows) {
        const dxRows = avgPool2dBackward(gy, g, 'rows');
        const dxPlain = avgPool2dBackward(gy, g, 'plain');
        expect(Array.from(await dxRows.data()), at).toEqual(Array.from(await dxPlain.data()));
        expectClose(await dxRows.data(), avgPool2dBackwardRef(gyData, g), GRAD_TOL, `${at} dx`);
        dxRows.dispose();
        dxPlain.dispose();
      }
      for (const t of [x, rows, plain, gy]) t.dispose();
    }
  });

  it('global average pooling: the per-lane and the tree layouts both match the reference', async () => {
    for (const shape of [[2, 4, 7, 7], [4, 64, 8, 8], [3, 50, 5, 3], [1, 200, 33, 31]]) {
      const data = randomArray(numel(shape), rnd, -3, 3);
      const x = wg.tensor(data, shape);
      const g = { N: shape[0], C: shape[1], H: shape[2], W: shape[3], OH: 1, OW: 1 };
      const want = adaptiveAvgPool2dRef(data, g);
      for (const layout of ['perLane', 'tree'] as const) {
        const y = globalAvgPool2dForward(x, g, layout);
        expectClose(await y.data(), want, FORWARD_TOL, `${JSON.stringify(shape)} ${layout}`);
        y.dispose();
      }
      x.dispose();
    }
  });

  it('global average pooling of planes that are not whole vec4s: four planes per lane, forward and backward', async () => {
    for (const shape of [[2, 4, 7, 7], [3, 4, 5, 3], [1, 12, 1, 3], [2, 132, 7, 7]]) {
      const data = randomArray(numel(shape), rnd, -3, 3);
      const x = wg.tensor(data, shape);
      const g = { N: shape[0], C: shape[1], H: shape[2], W: shape[3], OH: 1, OW: 1 };
      const y = globalAvgPool2dForward(x, g, 'perLaneQuad');
      expectClose(await y.data(), adaptiveAvgPool2dRef(data, g), FORWARD_TOL, `${JSON.stringify(shape)} forward`);
      const gyData = randomArray(shape[0] * shape[1], rnd);
      const gy = wg.tensor(gyData, [shape[0], shape[1], 1, 1]);
      const want = adaptiveAvgPool2dBackwardRef(gyData, g);
      for (const layout of ['quad', 'plain', undefined] as const) {
        const dx = globalAvgPool2dBackward(gy, g, layout);
        expectClose(await dx.data(), want, 1e-6, `${JSON.stringify(shape)} backward ${layout ?? 'default'}`);
        dx.dispose();
      }
      for (const t of [x, y, gy]) t.dispose();
    }
    const odd = { N: 1, C: 6, H: 7, W: 7, OH: 1, OW: 1 };
    const x6 = wg.zeros([1, 6, 7, 7]);
    expect(() => globalAvgPool2dForward(x6, odd, 'perLaneQuad')).toThrow(/four-plane global pooling/);
    expect(() => globalAvgPool2dBackward(wg.zeros([1, 6, 1, 1]), odd, 'quad')).toThrow(/four-plane global pooling/);
    x6.dispose();
  });

  const adaptiveCases: [number[], [number, number]][] = [
    [[2, 4, 7, 7], [1, 1]], [[4, 6, 5, 5], [1, 1]], [[2, 4, 32, 32], [1, 1]], [[2, 35000, 1, 3], [1, 1]], [[1, 70000, 2, 2], [1, 1]], [[2, 3, 11, 9], [4, 5]], [[1, 2, 5, 5], [7, 6]], [[2, 3, 12, 12], [3, 3]],
  ];
  for (const [shape, osz] of adaptiveCases) {
    it(`adaptiveAvgPool2d ${JSON.stringify(shape)} -> ${JSON.stringify(osz)}`, async () => {
      const data = randomArray(numel(shape), rnd, -3, 3);
      const x = wg.tensor(data, shape, { requiresGrad: true });
      const y = F.adaptiveAvgPool2d(x, osz);
      const g = { N: shape[0], C: shape[1], H: shape[2], W: shape[3], OH: osz[0], OW: osz[1] };
      expect([...y.shape]).toEqual([shape[0], shape[1], ...osz]);
      expectClose(await y.data(), adaptiveAvgPool2dRef(data, g), FORWARD_TOL, 'y');
      const gyData = randomArray(y.size, rnd);
      const gy = wg.tensor(gyData, [...y.shape]);
      y.backward(gy);
      expectClose(await x.grad!.data(), adaptiveAvgPool2dBackwardRef(gyData, g), GRAD_TOL, 'dx');
      for (const t of [x, y, gy]) t.dispose();
    });
  }
});

describe('pooling gradients vs finite differences of the float64 references', () => {
  // Central differences (eps 1e-6) of the float64 reference forward; GPU grads within 1e-3.
  // Max pooling inputs are distinct (a shuffled grid) so that no argmax sits on a tie.
  const distinct = (n: number) => {
    const v = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.05);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [v[i], v[j]] = [v[j], v[i]];
    }
    return v;
  };
  const shape = [2, 2, 7, 6];
  const g = (op: string, sp: Pool2dSpec) => pool2dGeometry(op, shape, sp);
  it('maxPool2d 3x3 s2 p1', () => {
    const sp = spec([3, 3], [2, 2], [1, 1]);
    return gradcheck({
      name: 'maxPool2d', inputs: [{ shape, data: distinct(numel(shape)) }],
      gpu: ([x]) => F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }),
      ref: ([x]) => maxPool2dRef(x, g('maxPool2d', sp)).y,
    });
  });
  it('maxPool2d 2x2 dilation 2 ceilMode', () => {
    const sp = spec([2, 2], [2, 2], [0, 0], [2, 2], true);
    return gradcheck({
      name: 'maxPool2d', inputs: [{ shape, data: distinct(numel(shape)) }],
      gpu: ([x]) => F.maxPool2d(x, { kernelSize: 2, dilation: 2, ceilMode: true }),
      ref: ([x]) => maxPool2dRef(x, g('maxPool2d', sp)).y,
    });
  });
  for (const countIncludePad of [true, false]) {
    it(`avgPool2d 3x3 s2 p1 ceilMode countIncludePad=${countIncludePad}`, () => {
      const sp = spec([3, 3], [2, 2], [1, 1], [1, 1], true, countIncludePad);
      return gradcheck({
        name: 'avgPool2d', inputs: [{ shape, data: randomArray(numel(shape), rnd) }],
        gpu: ([x]) => F.avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, ceilMode: true, countIncludePad }),
        ref: ([x]) => avgPool2dRef(x, g('avgPool2d', sp)),
      });
    });
  }
  for (const osz of [[1, 1], [3, 4]] as [number, number][]) {
    it(`adaptiveAvgPool2d ${JSON.stringify(osz)}`, () =>
      gradcheck({
        name: 'adaptiveAvgPool2d', inputs: [{ shape, data: randomArray(numel(shape), rnd) }],
        gpu: ([x]) => F.adaptiveAvgPool2d(x, osz),
        ref: ([x]) => adaptiveAvgPool2dRef(x, { N: 2, C: 2, H: 7, W: 6, OH: osz[0], OW: osz[1] }),
      }));
  }
});

describe('pooling behaviour', () => {
  it('maxPool2d: the first maximum in scan order wins ties and gets the whole gradient', async () => {
    // One 2x3 window of equal values (and a -inf-only window: its first tap wins).
    const I = -Infinity;
    const x = wg.tensor([5, 5, 5, I, I, I, 5, 5, 5, I, I, I], [1, 1, 2, 6], { requiresGrad: true });
    const y = F.maxPool2d(x, { kernelSize: [2, 3] });
    expect(Array.from(await y.data())).toEqual([5, -Infinity]);
    y.backward(wg.tensor([1, 2], [1, 1, 1, 2]));
    expect(Array.from(await x.grad!.data())).toEqual([1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    x.dispose();
    y.dispose();
  });

  it('accepts (C, H, W) inputs and non-contiguous inputs', async () => {
    const data = randomArray(2 * 6 * 6, rnd);
    const x3 = wg.tensor(data, [2, 6, 6]);
    const y3 = F.maxPool2d(x3, { kernelSize: 2 });
    expect([...y3.shape]).toEqual([2, 3, 3]);
    const g = pool2dGeometry('maxPool2d', [1, 2, 6, 6], spec([2, 2], [2, 2], [0, 0]));
    expectClose(await y3.data(), maxPool2dRef(data, g).y, 0, 'rank 3');
    const t = wg.transpose(wg.reshape(x3, [1, 2, 6, 6]), 2, 3);
    const yt = F.avgPool2d(t, { kernelSize: 3, stride: 1 });
    const tc = wg.contiguous(t);
    const yc = F.avgPool2d(tc, { kernelSize: 3, stride: 1 });
    expectClose(await yt.data(), await yc.data(), 1e-6, 'transposed input');
    for (const v of [x3, y3, t, yt, tc, yc]) v.dispose();
  });

  it('leaves no tensors or buffers behind', async () => {
    const x = wg.randn([2, 3, 9, 9], { seed: 5 });
    x.requiresGrad = true;
    await wg.sync();
    const before = wg.memory();
    const runs = [
      () => F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }),
      () => F.avgPool2d(x, { kernelSize: 2 }),
      () => F.adaptiveAvgPool2d(x, 1),
      () => F.adaptiveAvgPool2d(x, [2, 4]),
      () => {
        const x3 = wg.reshape(x, [6, 9, 9]);
        const y = F.maxPool2d(x3, { kernelSize: 2 });
        x3.dispose();
        return y;
      },
    ];
    for (const run of runs) {
      const y = run();
      const s = y.sum();
      s.backward();
      await x.grad!.data();
      x.grad!.dispose();
      x.grad = null;
      y.dispose();
      s.dispose();
    }
    const after = wg.memory();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    x.dispose();
  });

  it('rejects bad arguments before dispatch, naming the op and shapes', async () => {
    const x = wg.zeros([1, 2, 5, 5]);
    const flat = wg.zeros([5, 5]);
    const ints = wg.zeros([2, 3], { dtype: 'int32' });
    await wg.sync();
    const cases: [() => unknown, RegExp][] = [
      [() => F.maxPool2d(flat, { kernelSize: 2 }), /maxPool2d: expected a 4-D .* got \[5, 5\]/],
      [() => F.maxPool2d(x, { kernelSize: 7 }), /maxPool2d: the window is larger than the padded input.*\[1, 2, 5, 5\]/],
      [() => F.maxPool2d(x, { kernelSize: 3, padding: 2 }), /maxPool2d: padding should be at most half of the kernel size/],
      [() => F.maxPool2d(x, { kernelSize: 2, stride: 0 }), /maxPool2d: stride must be greater than zero/],
      [() => F.maxPool2d(x, { kernelSize: 0 }), /maxPool2d: kernelSize must be greater than zero/],
      [() => F.maxPool2d(x, { kernelSize: 3, dilation: 3 }), /maxPool2d: the window is larger/],
      [() => F.maxPool2d(x, { kernelSize: [2, 2, 2] as any }), /maxPool2d: kernelSize must be a number or \[height, width\]/],
      [() => F.avgPool2d(x, { kernelSize: 6 }), /avgPool2d: the window is larger.*kernelSize \[6, 6\]/],
      [() => F.avgPool2d(x, { kernelSize: 2, padding: 2 }), /avgPool2d: padding should be at most half/],
      [() => F.adaptiveAvgPool2d(x, 0), /adaptiveAvgPool2d: outputSize must be positive/],
      [() => F.avgPool2d(x, { kernelSize: 2, divisorOverride: 3 } as any), /avgPool2d: unknown or unsupported option 'divisorOverride'/],
      [() => F.maxPool2d(x, { kernel_size: 2 } as any), /maxPool2d: unknown or unsupported option 'kernel_size'/],
      [() => F.adaptiveAvgPool2d(ints, 1), /adaptiveAvgPool2d: expected float32/],
    ];
    for (const [f, re] of cases) {
      expect(f).toThrow(wg.OpArgumentError);
      expect(f).toThrow(re);
    }
    expect(commands().pending, 'nothing was dispatched').toBe(false);
    for (const t of [x, flat, ints]) t.dispose();
  });
});
