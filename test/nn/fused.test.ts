// The two ResNet fusions: F.batchNorm(..., { relu: true }) (batch norm + ReLU in the batch-norm
// passes) and addRelu(a, b) = relu(a + b). Each is compared with the unfused ops on random
// inputs (forward 1e-6, gradients 1e-5 of the largest magnitude), addRelu also by finite
// differences of the float64 reference (test/gradcheck.ts: central differences in float64, GPU
// analytic gradients), argument errors, memory. The ResNets' use: test/resnet/fusion.test.ts.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice, expectClose } from '../helpers.js';
import { gradcheck, hostRandom, randomArray } from '../gradcheck.js';
import { binaryRef, broadcastBinaryRef } from '../../src/kernels/reference/elementwise.js';
import { numel } from '../../src/tensor/shape.js';

useDevice();
const F = wg.nn.functional;
const FWD = 1e-6;
const GRAD = 1e-5;

async function data(t: wg.Tensor | null): Promise<ArrayLike<number>> {
  return t ? await t.data() : new Float32Array(0);
}

describe('batchNorm with relu: true vs relu(batchNorm(x))', () => {
  // Shapes: vec4 planes, scalar planes (S = 25), flat launches ((N, C) and S = 4 < 16), and a
  // plane count big enough for several reduction chunks per channel.
  const shapes = [[4, 3, 8, 8], [3, 2, 5, 5], [6, 5], [2, 3, 2, 2], [16, 1, 32, 32]];
  const rnd = hostRandom(99);
  for (const shape of shapes) {
    for (const training of [true, false]) {
      for (const affine of [true, false]) {
        it(`${JSON.stringify(shape)} training=${training} affine=${affine}`, async () => {
          const C = shape[1];
          const n = numel(shape);
          const xData = randomArray(n, rnd, -2, 2).map((v) => v + 0.3);
          const gyData = randomArray(n, rnd);
          const wData = randomArray(C, rnd, 0.5, 1.5);
          const bData = randomArray(C, rnd, -0.5, 0.5);
          const rmData = randomArray(C, rnd, -0.2, 0.2);
          const rvData = randomArray(C, rnd, 0.5, 1.5);
          const run = async (fused: boolean) => {
            const x = wg.tensor(xData, shape, { requiresGrad: true });
            const w = affine ? wg.tensor(wData, [C], { requiresGrad: true }) : null;
            const b = affine ? wg.tensor(bData, [C], { requiresGrad: true }) : null;
            const rm = wg.tensor(rmData, [C]);
            const rv = wg.tensor(rvData, [C]);
            const opts = { training, momentum: 0.1, eps: 1e-5 };
            const y = fused ? F.batchNorm(x, rm, rv, w, b, { ...opts, relu: true }) : wg.scope(() => F.relu(F.batchNorm(x, rm, rv, w, b, opts)));
            const gy = wg.tensor(gyData, shape);
            y.backward(gy);
            const out = {
              y: await data(y), dx: await data(x.grad), dw: await data(w?.grad ?? null), db: await data(b?.grad ?? null),
              rm: await data(rm), rv: await data(rv),
            };
            for (const t of [x, w, b, rm, rv, y, gy]) t?.dispose();
            return out;
          };
          const before = wg.memory().liveTensors;
          const plain = await run(false);
          const fused = await run(true);
          expect(wg.memory().liveTensors).toBe(before);
          expectClose(fused.y, plain.y, FWD, 'y');
          expectClose(fused.rm, plain.rm, FWD, 'runningMean');
          expectClose(fused.rv, plain.rv, FWD, 'runningVar');
          expectClose(fused.dx, plain.dx, GRAD, 'dx');
          expectClose(fused.dw, plain.dw, GRAD, 'dweight');
          expectClose(fused.db, plain.db, GRAD, 'dbias');
        });
      }
    }
  }

  it('gradient only for the weight (x needs none)', async () => {
    const shape = [2, 3, 4, 4];
    const xData = randomArray(numel(shape), rnd, -2, 2);
    const gyData = randomArray(numel(shape), rnd);
    const grads: ArrayLike<number>[] = [];
    for (const fused of [false, true]) {
      const x = wg.tensor(xData, shape);
      const w = wg.tensor([1.5, 0.5, 1], [3], { requiresGrad: true });
      const b = wg.tensor([0.1, -0.2, 0.3], [3]);
      const y = fused ? F.batchNorm(x, null, null, w, b, { training: true, relu: true }) : wg.scope(() => F.relu(F.batchNorm(x, null, null, w, b, { training: true })));
      const gy = wg.tensor(gyData, shape);
      y.backward(gy);
      expect(x.grad).toBeNull();
      grads.push(await w.grad!.data());
      for (const t of [x, w, b, y, gy]) t.dispose();
    }
    expectClose(grads[1], grads[0], GRAD, 'dweight');
  });

  it('rejects a non-boolean relu option before any dispatch', () => {
    const x = wg.randn([2, 3, 4, 4]);
    expect(() => F.batchNorm(x, null, null, null, null, { training: true, relu: 1 as unknown as boolean })).toThrow(wg.OpArgumentError);
    expect(() => F.batchNorm(x, null, null, null, null, { training: true, relu: 1 as unknown as boolean })).toThrow(/batchNorm: relu/);
    x.dispose();
  });
});

describe('addRelu', () => {
  const rnd = hostRandom(5);
  const cases: [number[], number[]][] = [[[4, 8], [4, 8]], [[3, 5], [3, 5]], [[2, 3, 4], [3, 1]], [[2, 3, 4, 4], [2, 3, 4, 4]]];
  for (const [sa, sb] of cases) {
    it(`${JSON.stringify(sa)} + ${JSON.stringify(sb)} vs relu(add) and the reference`, async () => {
      const aData = randomArray(numel(sa), rnd);
      const bData = randomArray(numel(sb), rnd);
      const gyShape = sa.length >= sb.length ? sa : sb;
      const gyData = randomArray(numel(gyShape), rnd);
      const results: ArrayLike<number>[][] = [];
      const before = wg.memory().liveTensors;
      for (const fused of [false, true]) {
        const a = wg.tensor(aData, sa, { requiresGrad: true });
        const b = wg.tensor(bData, sb, { requiresGrad: true });
        const y = fused ? F.addRelu(a, b) : wg.scope(() => F.relu(wg.add(a, b)));
        const gy = wg.tensor(gyData, gyShape);
        y.backward(gy);
        results.push([await y.data(), await a.grad!.data(), await b.grad!.data()]);
        for (const t of [a, b, y, gy]) t.dispose();
      }
      expect(wg.memory().liveTensors).toBe(before);
      expectClose(results[1][0], results[0][0], FWD, 'y');
      expectClose(results[1][1], results[0][1], GRAD, 'da');
      expectClose(results[1][2], results[0][2], GRAD, 'db');
      const ref = broadcastBinaryRef(binaryRef.addRelu, aData, sa, bData, sb).data;
      expectClose(results[1][0], ref, FWD, 'y vs float64 reference');
    });
  }

  it('finite differences (float64 reference, central differences)', async () => {
    // Values kept away from a + b = 0 (the kink) so the differences are well defined.
    const away = (v: number) => (Math.abs(v) < 0.1 ? v + 0.3 : v);
    await gradcheck({
      name: 'addRelu',
      inputs: [
        { shape: [3, 4], data: randomArray(12, rnd).map(away) },
        { shape: [4], data: randomArray(4, rnd, -0.05, 0.05) },
      ],
      gpu: ([a, b]) => F.addRelu(a, b),
      ref: ([a, b]) => broadcastBinaryRef(binaryRef.addRelu, a, [3, 4], b, [4]).data,
    });
  });

  it('non-contiguous input and one input without grad', async () => {
    const a = wg.tensor(randomArray(12, rnd), [4, 3], { requiresGrad: true });
    const b = wg.tensor(randomArray(12, rnd), [3, 4]);
    const at = a.transpose(0, 1);
    const y = F.addRelu(at, b);
    const yRef = wg.scope(() => F.relu(wg.add(at, b)));
    expectClose(await y.data(), await yRef.data(), FWD, 'y');
    y.sum().backward();
    expect(b.grad).toBeNull();
    const mask = await yRef.data();
    const da = await a.grad!.data();
    // da[i][j] = 1 where y[j][i] > 0.
    for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) expect(da[i * 3 + j]).toBe(mask[j * 4 + i] > 0 ? 1 : 0);
    for (const t of [a, b, at, y, yRef]) t.dispose();
  });

  it('rejects shapes that do not broadcast and int32 inputs', () => {
    const a = wg.zeros([2, 3]);
    const b = wg.zeros([4]);
    const i = wg.zeros([2, 3], { dtype: 'int32' });
    expect(() => F.addRelu(a, b)).toThrow(wg.OpArgumentError);
    expect(() => F.addRelu(a, b)).toThrow(/addRelu/);
    expect(() => F.addRelu(a, i)).toThrow(wg.OpArgumentError);
    for (const t of [a, b, i]) t.dispose();
  });
});
