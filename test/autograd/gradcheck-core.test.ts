// Finite-difference checks for every core differentiable op, including broadcasting,
// size-1 and non-contiguous (permuted, sliced) inputs.
import { describe, it } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';
import { gradcheck, hostRandom, randomArray } from '../gradcheck.js';
import { binaryRef, unaryRef, broadcastBinaryRef } from '../../src/kernels/reference/elementwise.js';
import { reduceRef } from '../../src/kernels/reference/reduce.js';
import { matmulRef } from '../../src/kernels/reference/matmul.js';
import { contiguousStrides, numel } from '../../src/tensor/shape.js';

useDevice();
const rnd = hostRandom(42);
const input = (shape: number[], lo = -1, hi = 1) => ({ shape, data: randomArray(numel(shape), rnd, lo, hi) });

/** Row-major permutation of a flat array (reference for permute + contiguous). */
function permuteRef(x: ArrayLike<number>, shape: number[], dims: number[]): Float64Array {
  const outShape = dims.map((d) => shape[d]);
  const inStrides = contiguousStrides(shape);
  const outStrides = contiguousStrides(outShape);
  const out = new Float64Array(x.length);
  for (let i = 0; i < out.length; i++) {
    let src = 0;
    for (let d = 0; d < dims.length; d++) src += (Math.floor(i / outStrides[d]) % outShape[d]) * inStrides[dims[d]];
    out[i] = x[src];
  }
  return out;
}

describe('binary ops: gradients vs finite differences', () => {
  const shapes: [number[], number[]][] = [[[3, 4], [3, 4]], [[2, 3, 4], [4]], [[2, 1, 4], [3, 1]], [[1], [2, 3]], [[5, 1], [1, 1]]];
  for (const op of ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const) {
    for (const [sa, sb] of shapes) {
      it(`${op} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`, () => {
        const positive = op === 'pow' || op === 'div';
        return gradcheck({
          name: op,
          inputs: [input(sa, positive ? 0.5 : -1, positive ? 2 : 1), input(sb, positive ? 0.5 : -1, positive ? 2 : 1)],
          gpu: ([a, b]) => (wg as any)[op](a, b),
          ref: ([a, b]) => broadcastBinaryRef(binaryRef[op], a, sa, b, sb).data,
        });
      });
    }
  }
});

describe('unary ops: gradients vs finite differences', () => {
  for (const op of ['neg', 'exp', 'log', 'sqrt', 'relu', 'sigmoid', 'tanh', 'abs'] as const) {
    it(op, () => {
      const positive = op === 'log' || op === 'sqrt';
      return gradcheck({
        name: op,
        inputs: [input([4, 5], positive ? 0.2 : -2, 2)],
        gpu: ([x]) => (wg as any)[op](x),
        ref: ([x]) => Float64Array.from(x, unaryRef[op]),
      });
    });
  }
  it('scalar forms: x * 3 + 1, x / 2 - 0.5, x ** 3', () =>
    gradcheck({
      name: 'scalar ops',
      inputs: [input([3, 3])],
      gpu: ([x]) => {
        const a = x.mul(3), b = a.add(1), c = b.div(2), d = c.sub(0.5), e = d.pow(3);
        return e;
      },
      ref: ([x]) => Float64Array.from(x, (v) => ((v * 3 + 1) / 2 - 0.5) ** 3),
      forwardTol: 1e-4,
    }));
});

describe('reductions: gradients vs finite differences', () => {
  const cases: [string, number[], number[] | null][] = [
    ['sum', [3, 4, 5], [1]], ['sum', [3, 4, 5], [0, 2]], ['sum', [7, 1, 9], null],
    ['mean', [3, 4, 5], [2]], ['mean', [2, 300], [1]], ['max', [3, 4, 5], [1]], ['max', [4, 6], null], ['min', [4, 6], [0]],
  ];
  for (const [op, shape, axes] of cases) {
    it(`${op} ${JSON.stringify(shape)} axes=${JSON.stringify(axes)}`, () =>
      gradcheck({
        name: op,
        inputs: [input(shape)],
        gpu: ([x]) => (wg as any)[op](x, axes),
        ref: ([x]) => reduceRef(op as any, x, shape, axes ?? shape.map((_, i) => i)).data,
      }));
  }
  it('keepdim then broadcast back: x - mean(x, 1, keepdim)', () =>
    gradcheck({
      name: 'center',
      inputs: [input([3, 5])],
      gpu: ([x]) => x.sub(x.mean(1, true)),
      ref: ([x]) => {
        const m = reduceRef('mean', x, [3, 5], [1]).data;
        return Float64Array.from(x, (v, i) => v - m[Math.floor(i / 5)]);
      },
    }));
});

describe('shape ops and non-contiguous inputs', () => {
  it('permute then elementwise (non-contiguous read)', () =>
    gradcheck({
      name: 'permute+mul',
      inputs: [input([2, 3, 4]), input([4, 2, 3])],
      gpu: ([x, y]) => x.permute([2, 0, 1]).mul(y),
      ref: ([x, y]) => permuteRef(x, [2, 3, 4], [2, 0, 1]).map((v, i) => v * y[i]),
    }));
  it('transpose + contiguous + reshape', () =>
    gradcheck({
      name: 'transpose',
      inputs: [input([3, 5])],
      gpu: ([x]) => x.transpose(0, 1).contiguous().reshape([15]).mul(2),
      ref: ([x]) => permuteRef(x, [3, 5], [1, 0]).map((v) => v * 2),
    }));
  it('slice with step, then sum', () =>
    gradcheck({
      name: 'slice',
      inputs: [input([3, 8])],
      gpu: ([x]) => x.slice(1, 1, 7, 2).mul(x.slice(1, 0, 3)),
      ref: ([x]) => {
        const out = new Float64Array(9);
        for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) out[r * 3 + c] = x[r * 8 + 1 + 2 * c] * x[r * 8 + c];
        return out;
      },
    }));
  it('expand', () =>
    gradcheck({
      name: 'expand',
      inputs: [input([3, 1])],
      gpu: ([x]) => x.expand([3, 4]).mul(1.5),
      ref: ([x]) => Float64Array.from({ length: 12 }, (_, i) => x[Math.floor(i / 4)] * 1.5),
    }));
  it('cat along dim 1', () =>
    gradcheck({
      name: 'cat',
      inputs: [input([2, 3]), input([2, 2])],
      gpu: ([a, b]) => wg.cat([a, b], 1).mul(wg.cat([a, b], 1)),
      ref: ([a, b]) => {
        const out = new Float64Array(10);
        for (let r = 0; r < 2; r++) for (let c = 0; c < 5; c++) {
          const v = c < 3 ? a[r * 3 + c] : b[r * 2 + c - 3];
          out[r * 5 + c] = v * v;
        }
        return out;
      },
    }));
});

describe('matmul: gradients vs finite differences', () => {
  it('[5,7] @ [7,3]', () =>
    gradcheck({ name: 'matmul', inputs: [input([5, 7]), input([7, 3])], gpu: ([a, b]) => wg.matmul(a, b), ref: ([a, b]) => matmulRef(a, b, 5, 7, 3) }));
  it('transposed operand view: a.T @ b', () =>
    gradcheck({
      name: 'matmul a.T',
      inputs: [input([7, 5]), input([7, 3])],
      gpu: ([a, b]) => wg.matmul(a.T, b),
      ref: ([a, b]) => matmulRef(permuteRef(a, [7, 5], [1, 0]), b, 5, 7, 3),
    }));
  it('batched with broadcast batch [2,4,3] @ [3,2]', () =>
    gradcheck({
      name: 'matmul batched',
      inputs: [input([2, 4, 3]), input([3, 2])],
      gpu: ([a, b]) => wg.matmul(a, b),
      ref: ([a, b]) => {
        const out = new Float64Array(16);
        for (let bt = 0; bt < 2; bt++) out.set(matmulRef(a.subarray(bt * 12, bt * 12 + 12), b, 4, 3, 2), bt * 8);
        return out;
      },
    }));
  it('vector @ matrix', () =>
    gradcheck({ name: 'matmul vec', inputs: [input([4]), input([4, 3])], gpu: ([a, b]) => wg.matmul(a, b), ref: ([a, b]) => matmulRef(a, b, 1, 4, 3) }));
});
