// conv2dBackwardWeight / conv2dBackwardBias storing into a given tensor (autograd's `into`: a
// fused optimizer's gradient slot, a range of a larger buffer bound at an offset). Every kernel
// family the rules pick (the CPU adapter's row, pixel and direct kernels, a GPU's tiled implicit
// GEMM), with and without split reductions: bit-identical to the result in a fresh tensor, and
// nothing written outside the range.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';
import { conv2dGeometry, conv2dBackwardWeight, conv2dBackwardBias, convKernelFor, setConvRulesFor, setConvImplementation, type ConvImplementation } from '../../src/kernels/conv2d.js';
import { Storage } from '../../src/tensor/storage.js';
import { Tensor } from '../../src/tensor/tensor.js';

useDevice();

/** A tensor of `shape` over the bytes [256, 256 + reserved) of a buffer of sentinels (7s). */
function rangeTensor(shape: number[]): { t: Tensor; arena: Tensor; at: number; reserved: number } {
  const n = shape.reduce((a, b) => a * b, 1);
  const reserved = Math.ceil(n / 64) * 64;
  const arena = wg.full([64 + reserved + 64], 7);
  const t = new Tensor(Storage.range(arena.storage, 256, reserved * 4), shape, 'float32');
  return { t, arena, at: 64, reserved };
}

const cases: Array<[string, number[], number[], { stride?: number; padding?: number }]> = [
  ['3x3 16->16 @8 (rows)', [4, 16, 8, 8], [16, 16, 3, 3], { padding: 1 }],
  ['3x3 8->16 s2 @9 (odd width)', [2, 8, 9, 9], [16, 8, 3, 3], { stride: 2, padding: 1 }],
  ['1x1 32->64 (splits over a large batch)', [32, 32, 16, 16], [64, 32, 1, 1], {}],
  ['3x3 3->8 stem', [2, 3, 12, 12], [8, 3, 3, 3], { padding: 1 }],
  ['3x3 32->128 (a GPU takes the 128 x 128-tile implicit GEMM)', [2, 32, 8, 8], [128, 32, 3, 3], { padding: 1 }],
];

describe('weight and bias gradients stored into a range of another buffer', () => {
  for (const rules of ['cpu', 'gpu'] as const) {
    for (const impl of ['fast', 'direct'] as ConvImplementation[]) {
      for (const [name, xs, ws, opts] of cases) {
        it(`${name}, ${rules} rules, ${impl}`, async () => {
          const oldRules = setConvRulesFor(rules);
          setConvImplementation(impl);
          try {
            const g = conv2dGeometry(xs, ws, opts);
            const x = wg.randn(xs, { seed: 1 });
            const gy = wg.randn([g.N, g.K, g.P, g.Q], { seed: 2 });
            const fresh = conv2dBackwardWeight(gy, x, g);
            const { t, arena, at, reserved } = rangeTensor(ws);
            const got = conv2dBackwardWeight(gy, x, g, t);
            expect(got).toBe(t);
            expect([...(await t.data())]).toEqual([...(await fresh.data())]);
            const all = await arena.data();
            const outside = [...all.slice(0, at), ...all.slice(at + reserved)];
            expect(outside.every((v) => v === 7)).toBe(true);
            // The bias gradient (a sum reduction) likewise.
            const bias = rangeTensor([g.K]);
            expect([...(await conv2dBackwardBias(gy, bias.t).data())]).toEqual([...(await conv2dBackwardBias(gy).data())]);
            expect(convKernelFor('weight', g)).toBeTruthy();
            [x, gy, fresh, t, arena, bias.t, bias.arena].forEach((u) => u.dispose());
          } finally {
            setConvRulesFor(oldRules);
            setConvImplementation('fast');
          }
        });
      }
    }
  }
});
