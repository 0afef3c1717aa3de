// The strided kernels (elementwise_binary.wgsl and elementwise_unary.wgsl's `main` and
// `main_any_rows`, copy_strided.wgsl) walk views in runs of 4 along the innermost dimension
// (src/kernels/runs.ts): each operand in one of three modes, RUNS runs per invocation, rows of
// whole vec4s or not. Every case here is checked element by element against the same view read on
// the host, and the plans of a few layouts are pinned so that a slower mode does not creep in.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';
import { hostRandom, randomArray } from '../gradcheck.js';
import { planRuns, runLaunch, flatRows } from '../../src/kernels/runs.js';
import { gpu, isCpuAdapter } from '../../src/tensor/device.js';
import { broadcastShapes, broadcastStrides, contiguousStrides, numel } from '../../src/tensor/shape.js';

useDevice();
const rnd = hostRandom(20261127);

/** The elements of a view (shape, strides, offset) of `base`, in row-major order. */
function readView(base: ArrayLike<number>, shape: readonly number[], strides: readonly number[], offset: number): number[] {
  const out: number[] = [];
  const index = shape.map(() => 0);
  for (let i = 0; i < numel(shape); i++) {
    out.push(base[offset + index.reduce((s, c, d) => s + c * strides[d], 0)]);
    for (let d = shape.length - 1; d >= 0 && ++index[d] === shape[d]; d--) index[d] = 0;
  }
  return out;
}

/** A tensor's elements as the host sees its view of the underlying buffer (after broadcasting to `shape`). */
function hostView(t: wg.Tensor, base: ArrayLike<number>, shape: readonly number[] = t.shape): number[] {
  return readView(base, shape, broadcastStrides(t.shape, t.strides, shape), t.offset);
}

/** got == want element by element (Object.is), reporting the first difference (a whole-array diff of 500k elements would take minutes). */
function expectSame(got: ArrayLike<number>, want: readonly number[], what: string): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  const at = want.findIndex((w, i) => !Object.is(got[i], w));
  expect(at === -1 ? 'all equal' : `element ${at}: got ${got[at]}, want ${want[at]}`, what).toBe('all equal');
}

/** A random float32 tensor of `shape` and its data. */
function random(shape: number[]): { t: wg.Tensor; data: number[] } {
  const data = randomArray(numel(shape), rnd, -2, 2);
  return { t: wg.tensor(data, shape), data };
}

describe('strided kernels in runs of 4', () => {
  it('plans: modes and runs per invocation for typical layouts', () => {
    // 4 runs per invocation where a row holds a multiple of 4, on CPU adapters; GPUs take 1.
    const cpuRuns = isCpuAdapter(gpu().info) ? 4 : 1;
    const plan = (shape: number[], views: { offset: number; strides: number[] }[]) => {
      const p = planRuns(shape, views);
      return { L: p.L, outer: p.outer.length, modes: p.views.map((v) => v.mode), runs: runLaunch(p, 256).RUNS };
    };
    const out = (shape: number[]) => ({ offset: 0, strides: contiguousStrides(shape) });
    // x + bias: x aligned vec4s, the bias constant along each row; rows of 1024, 4 runs each.
    const bias = [8, 16, 32, 32];
    expect(plan(bias, [out(bias), { offset: 0, strides: [0, 1, 0, 0] }, out(bias)])).toEqual({ L: 1024, outer: 2, modes: [1, 0, 1], runs: cpuRuns });
    // An offset that is not a multiple of 4 (a slice) makes that operand strided.
    expect(plan(bias, [{ offset: 1, strides: contiguousStrides(bias) }, out(bias), out(bias)]).modes).toEqual([2, 1, 1]);
    // Rows of 6: no operand is whole vec4s, one run per invocation (2 runs per row).
    expect(plan([5, 6], [out([5, 6]), { offset: 0, strides: [0, 1] }, out([5, 6])])).toEqual({ L: 6, outer: 1, modes: [2, 2, 2], runs: 1 });
    // A transpose: the row runs down a column of x.
    expect(plan([12, 8], [{ offset: 0, strides: [1, 12] }, out([12, 8])])).toEqual({ L: 8, outer: 1, modes: [2, 1], runs: 1 });
    // Rows of 14: 4 runs, so 4 per invocation, the last one 2 elements long.
    expect(plan([3, 5, 14], [{ offset: 0, strides: [14, 42, 1] }, out([3, 5, 14])])).toEqual({ L: 14, outer: 2, modes: [2, 2], runs: cpuRuns });
  });

  it('plans: flat vec4s where rows are not whole vec4s (main_flat)', () => {
    const flat = (shape: number[], views: { offset: number; strides: number[] }[]) => flatRows(planRuns(shape, views))?.modes ?? null;
    const out = (shape: number[]) => ({ offset: 0, strides: contiguousStrides(shape) });
    // x + bias on 7x7 planes: x laid out like out (1), the bias constant along each row (0).
    const x = [4, 8, 7, 7];
    expect(flat(x, [out(x), { offset: 0, strides: [0, 1, 0, 0] }, out(x)])).toEqual([1, 0]);
    expect(flat(x, [{ offset: 0, strides: [0, 1, 0, 0] }, { offset: 8, strides: contiguousStrides(x) }, out(x)])).toEqual([0, 1]);
    // vec4s per invocation on CPU adapters: 8 where rows hold 32 or more (49 here), 4 from 16; GPUs 1.
    const cpu = isCpuAdapter(gpu().info);
    const vecs = (shape: number[]) => flatRows(planRuns(shape, [out(shape), { offset: 0, strides: [0, 1, ...shape.slice(2).map(() => 0)] }, out(shape)]))?.vecs;
    expect(vecs(x)).toBe(cpu ? 8 : 1);
    expect(vecs([4, 8, 5, 4])).toBe(cpu ? 4 : 1);
    expect(vecs([4, 8, 5])).toBe(1);
    // Rows of whole vec4s that `main` would walk one run per invocation (14x14: 49 vec4s) take the
    // flat walk on CPU adapters only; rows of 16 vec4s (8x8) stay with `main`.
    expect(vecs([4, 8, 14, 14])).toBe(cpu ? 8 : undefined);
    expect(vecs([4, 8, 8, 8])).toBe(undefined);
    // Not taken: rows of whole vec4s (main), rows shorter than 4, an offset that is not a
    // multiple of 4, a transposed operand, an operand that moves along the row but not like out.
    expect(flat([4, 8, 4, 4], [out([4, 8, 4, 4]), { offset: 0, strides: [0, 1, 0, 0] }, out([4, 8, 4, 4])])).toBeNull();
    expect(flat([5, 3], [out([5, 3]), { offset: 0, strides: [1, 0] }, out([5, 3])])).toBeNull();
    expect(flat(x, [{ offset: 2, strides: contiguousStrides(x) }, { offset: 0, strides: [0, 1, 0, 0] }, out(x)])).toBeNull();
    expect(flat([6, 5], [{ offset: 0, strides: [1, 6] }, { offset: 0, strides: [1, 0] }, out([6, 5])])).toBeNull();
    expect(flat([6, 5], [out([6, 5]), { offset: 0, strides: [0, 1] }, out([6, 5])])).toBeNull();
  });

  const binaryCases: [string, () => { a: wg.Tensor; b: wg.Tensor; base: [number[], number[]] }][] = [
    ['x + bias [1, C, 1, 1] (modes 1, 0; 4 runs per invocation)', () => {
      const x = random([2, 3, 8, 12]);
      const b = random([1, 3, 1, 1]);
      return { a: x.t, b: b.t, base: [x.data, b.data] };
    }],
    ['rows of 6 plus a row vector (rows not whole vec4s)', () => {
      const x = random([5, 7, 6]);
      const b = random([6]);
      return { a: x.t, b: b.t, base: [x.data, b.data] };
    }],
    ['rows of 14 (4 runs per invocation, the last one short)', () => {
      const x = random([5, 3, 14]);
      const y = random([3, 1, 14]);
      return { a: x.t.transpose(0, 1), b: y.t, base: [x.data, y.data] };
    }],
    ['a transposed operand (strided along the row)', () => {
      const x = random([8, 12]);
      const y = random([12, 8]);
      return { a: x.t.transpose(0, 1), b: y.t, base: [x.data, y.data] };
    }],
    ['a slice at an odd offset, and a column times a row', () => {
      const x = random([6, 9]);
      const y = random([1, 8]);
      return { a: x.t.slice(1, 1, 9), b: y.t, base: [x.data, y.data] };
    }],
    ['a column broadcast against a row (mode 0 against mode 1)', () => {
      const x = random([6, 1]);
      const y = random([1, 16]);
      return { a: x.t, b: y.t, base: [x.data, y.data] };
    }],
    ['x + bias on 7x7 planes (flat vec4s spanning two rows, a partial last vec4)', () => {
      const x = random([3, 5, 7, 7]);
      const b = random([1, 5, 1, 1]);
      return { a: x.t, b: b.t, base: [x.data, b.data] };
    }],
    ['a per-channel scale first, on 7x7 planes over many rows', () => {
      const x = random([16, 64, 7, 7]);
      const b = random([1, 64, 1, 1]);
      return { a: b.t, b: x.t, base: [b.data, x.data] };
    }],
    ['x + bias on 14x14 planes (rows of whole vec4s, 8 vec4s per invocation on CPU adapters)', () => {
      const x = random([2, 3, 14, 14]);
      const b = random([1, 3, 1, 1]);
      return { a: x.t, b: b.t, base: [x.data, b.data] };
    }],
    ['x + bias on 5x4 planes (rows of 20: 4 vec4s per invocation on CPU adapters)', () => {
      const x = random([3, 7, 5, 4]);
      const b = random([1, 7, 1, 1]);
      return { a: x.t, b: b.t, base: [x.data, b.data] };
    }],
    ['rows of 5 with a per-row scalar (the split at every place in a vec4)', () => {
      const x = random([9, 5]);
      const y = random([9, 1]);
      return { a: x.t, b: y.t, base: [x.data, y.data] };
    }],
    ['one row of 7 and a scalar tensor (no outer dimension)', () => {
      const x = random([7]);
      const y = random([1]);
      return { a: y.t, b: x.t, base: [y.data, x.data] };
    }],
    ['a slice of whole vec4s from offset 12, plus a bias (rows of 6)', () => {
      const x = random([3, 2, 6]);
      const y = random([1, 2, 1]);
      return { a: x.t.slice(0, 1, 3), b: y.t, base: [x.data, y.data] };
    }],
    ['rank 8 reversed: seven outer dimensions', () => {
      const x = random([2, 3, 2, 3, 2, 5, 2, 2]);
      const y = random([2, 2, 5, 2, 3, 2, 3, 2]);
      return { a: x.t.permute([7, 6, 5, 4, 3, 2, 1, 0]), b: y.t, base: [x.data, y.data] };
    }],
    ['many rows (the grid spills into y) with a per-row scalar', () => {
      const x = random([70000, 8]);
      const y = random([70000, 1]);
      return { a: x.t, b: y.t, base: [x.data, y.data] };
    }],
  ];
  for (const [name, make] of binaryCases) {
    it(`binary: ${name}`, async () => {
      const { a, b, base } = make();
      const shape = broadcastShapes('test', a.shape, b.shape);
      const av = hostView(a, base[0], shape);
      const bv = hostView(b, base[1], shape);
      // sub and maximum: operand order and the per-element pairing both show.
      for (const [op, f] of [[wg.sub, (p: number, q: number) => Math.fround(p - q)], [wg.maximum, Math.max]] as const) {
        const y = op(a, b);
        expect(y.shape).toEqual(shape);
        expectSame(await y.data(), av.map((v, i) => f(v, bv[i])), `${name} ${op.name}`);
        y.dispose();
      }
      a.dispose();
      b.dispose();
    });
  }

  it('unary: transposed, sliced and expanded views, with alpha and beta', async () => {
    const x = random([6, 10, 7]);
    // (The last: one column repeated along the rows, mode 0, from elements whose place in their
    // vec4 varies from row to row.)
    const views = [x.t.transpose(1, 2), x.t.slice(2, 1, 6), x.t.slice(0, 0, 1).expand([4, 10, 7]), x.t.permute([2, 0, 1]), x.t.slice(2, 3, 4).expand([6, 10, 5])];
    for (const v of views) {
      const host = hostView(v, x.data);
      expectSame(await wg.relu(v).data(), host.map((e) => Math.max(e, 0)), `relu ${v.describe()}`);
      expectSame(await v.mul(3).add(1).data(), host.map((e) => Math.fround(Math.fround(3 * e) + 1)), `3x + 1 ${v.describe()}`);
      v.dispose();
    }
    x.t.dispose();
  });

  it('copies: contiguous(), cat and a slice\'s gradient move int32 bits exactly', async () => {
    const n = 4 * 5 * 6;
    const ints = Int32Array.from({ length: n }, (_, i) => (i * 2654435761) | 0);   // all bit patterns, NaN-like ones too
    const t = wg.tensor(ints, [4, 5, 6]);
    for (const v of [t.permute([2, 0, 1]), t.transpose(0, 2), t.slice(2, 1, 5), t.slice(0, 1, 3).expand([2, 2, 5, 6]), t.slice(2, 1, 2).expand([4, 5, 3])]) {
      const c = v.contiguous();
      expectSame(await c.data(), hostView(v, ints), v.describe());
      c.dispose();
      v.dispose();
    }
    // cat along every dimension: dst rows strided, of 6 (not whole vec4s) and of whole vec4s.
    const u = wg.tensor(Int32Array.from({ length: 4 * 5 * 8 }, (_, i) => -i), [4, 5, 8]);
    const w = wg.tensor(Int32Array.from({ length: 4 * 5 * 8 }, (_, i) => 1000 + i), [4, 5, 8]);
    for (const dim of [0, 1, 2]) {
      const c = wg.cat([u, w], dim);
      const hu = await u.data();
      const hw = await w.data();
      const want: number[] = [];
      const idx = [0, 0, 0];
      for (let i = 0; i < c.size; i++) {
        const inFirst = idx[dim] < u.shape[dim];
        const j = [...idx];
        if (!inFirst) j[dim] -= u.shape[dim];
        const flat = (j[0] * 5 + j[1]) * 8 + j[2];
        want.push(inFirst ? hu[flat] : hw[flat]);
        for (let d = 2; d >= 0 && ++idx[d] === c.shape[d]; d--) idx[d] = 0;
      }
      expectSame(await c.data(), want, `cat dim ${dim}`);
      c.dispose();
    }
    // A slice's gradient: zeros with the upstream gradient copied into the slice (dst strided).
    const x = wg.randn([3, 7, 10], { seed: 5, requiresGrad: true });
    const s = x.slice(2, 3, 9);
    const g = wg.randn([...s.shape], { seed: 6 });
    s.backward(g);
    const gx = await x.grad!.data();
    const hg = await g.data();
    const want = Array.from({ length: 3 * 7 * 10 }, (_, i) => {
      const col = i % 10;
      return col >= 3 && col < 9 ? hg[Math.floor(i / 10) * 6 + col - 3] : 0;
    });
    expectSame(gx, want, 'slice gradient');
    // With a step: the gradient lands in every other column (dst strided along the row).
    const x2 = wg.randn([3, 7, 10], { seed: 7, requiresGrad: true });
    const s2 = x2.slice(2, 1, 9, 2);
    const g2 = wg.randn([...s2.shape], { seed: 8 });
    s2.backward(g2);
    const hg2 = await g2.data();
    const want2 = Array.from({ length: 3 * 7 * 10 }, (_, i) => {
      const col = i % 10;
      return col % 2 === 1 && col < 9 ? hg2[Math.floor(i / 10) * 4 + (col - 1) / 2] : 0;
    });
    expectSame(await x2.grad!.data(), want2, 'stepped slice gradient');
    for (const d of [x2, s2, g2]) d.dispose();
    for (const d of [t, u, w, x, s, g]) d.dispose();
  });
});
