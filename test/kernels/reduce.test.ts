// Reductions run four outputs per invocation as vec4s where one reduced dimension strides over
// contiguous outputs (reduce.wgsl main_outer4), vec4 loads along a contiguous reduced axis
// (main_inner4), and long reductions with few outputs in chunks folded by a second pass
// (main_wide); each is checked against the float64 reference, as are the layouts that must keep
// one float per load.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { reduce } from '../../src/kernels/reduce.js';
import { reduceRef, argmaxRef, type ReduceRefOp } from '../../src/kernels/reference/reduce.js';
import { useDevice, expectClose } from '../helpers.js';
import { randomArray } from '../random-data.js';

useDevice();

describe('reductions with many outputs (vec4 loads where the layout allows)', () => {
  const cases: [string, number[], number[]][] = [
    ['rows of a matrix', [7, 12], [0]],
    ['the split partials of a weight gradient', [5, 8, 4, 3, 3], [0]],
    ['two leading axes of one stride', [3, 2, 16], [0, 1]],
    ['the channels of NCHW (kept rank 2)', [3, 8, 4, 3], [1]],
    ['the last axis, rows of whole vec4s (main_inner4)', [5, 7, 16], [2]],
    ['the last axis, rows of 10 (one float at a time)', [5, 10], [1]],
    ['a middle axis with rows of 6 (one float at a time)', [5, 9, 6], [1]],
  ];
  for (const [name, shape, axes] of cases) {
    for (const op of ['sum', 'mean', 'max', 'min'] as ReduceRefOp[]) {
      it(`${op} over ${JSON.stringify(axes)} of ${JSON.stringify(shape)}: ${name}`, async () => {
        const data = randomArray(shape.reduce((a, b) => a * b), 31);
        const x = wg.tensor(data, shape);
        const y = op === 'sum' ? wg.sum(x, axes) : op === 'mean' ? wg.mean(x, axes) : op === 'max' ? wg.max(x, axes) : wg.min(x, axes);
        const want = reduceRef(op, data, shape, axes);
        expect([...y.shape]).toEqual(want.shape);
        expectClose(await y.data(), want.data, 1e-6, `${op} ${name}`);
        for (const t of [x, y]) t.dispose();
      });
    }
  }

  it('a view starting at a multiple of 4 elements reads from its offset; other offsets take the scalar path', async () => {
    const data = randomArray(9 * 12, 32);
    const base = wg.tensor(data, [9, 12]);
    for (const start of [1, 2]) {   // element offsets 12 and 24: vec4-aligned
      const rows = wg.slice(base, 0, start, 9);
      const got = await reduce('sum', rows, [0]).data();
      const want = reduceRef('sum', data.slice(start * 12), [9 - start, 12], [0]).data;
      expectClose(got, want, 1e-6, `rows ${start}..8`);
      rows.dispose();
    }
    const cols = wg.slice(base, 1, 1, 9);   // offset 1, rows of 8 with stride 12
    const colData: number[] = [];
    for (let r = 0; r < 9; r++) colData.push(...data.slice(r * 12 + 1, r * 12 + 9));
    expectClose(await reduce('sum', cols, [0]).data(), reduceRef('sum', colData, [9, 8], [0]).data, 1e-6, 'columns 1..8');
    cols.dispose();
    base.dispose();
  });
});

describe('long reductions with few outputs (main_wide, split into chunks)', () => {
  // [3, 70001] in full: 210,003 elements, 13 chunks of 16,384, the last one short and not whole
  // vec4s; axes (1, 2) of [3, 300, 200]: three outputs of 4 chunks each (60,000 elements);
  // a transposed view (the reduced axes strided) and a slice at an odd offset (scalar loads);
  // 20,000 elements: one workgroup per output, no second pass.
  const cases: [string, number[], number[], (t: wg.Tensor) => wg.Tensor, (d: number[], s: number[]) => { data: number[]; shape: number[] }][] = [
    ['everything, 13 chunks', [3, 70001], [0, 1], (t) => t, (d, s) => ({ data: d, shape: s })],
    ['two trailing axes, 4 chunks per output', [3, 300, 200], [1, 2], (t) => t, (d, s) => ({ data: d, shape: s })],
    ['a transposed view', [300, 200], [0, 1], (t) => t.transpose(0, 1), (d) => ({ data: Array.from({ length: 60000 }, (_, i) => d[(i % 300) * 200 + Math.floor(i / 300)]), shape: [200, 300] })],
    ['a slice at an odd offset (rows 40,004 apart: only the offset is not whole vec4s)', [2, 40004], [1], (t) => t.slice(1, 1, 40001), (d) => ({ data: Array.from({ length: 80000 }, (_, i) => d[Math.floor(i / 40000) * 40004 + 1 + (i % 40000)]), shape: [2, 40000] })],
    ['one workgroup per output', [4, 20000], [1], (t) => t, (d, s) => ({ data: d, shape: s })],
  ];
  for (const [name, shape, axes, view, hostView] of cases) {
    it(`sum, mean, max and min: ${name}`, async () => {
      const data = randomArray(shape.reduce((a, b) => a * b), 33);
      const base = wg.tensor(data, shape);
      const x = view(base);
      const h = hostView(Array.from(data), shape);
      for (const op of ['sum', 'mean', 'max', 'min'] as ReduceRefOp[]) {
        const y = op === 'sum' ? wg.sum(x, axes) : op === 'mean' ? wg.mean(x, axes) : op === 'max' ? wg.max(x, axes) : wg.min(x, axes);
        const want = reduceRef(op, h.data, h.shape, axes);
        expect([...y.shape], `${op} ${name}`).toEqual(want.shape);
        if (op === 'max' || op === 'min') {
          expectClose(await y.data(), want.data, 0, `${op} ${name}`);
        } else {
          // Sums of up to 210,003 float32 values that mostly cancel: the error is bounded by the
          // rounding of the partial sums, i.e. relative to the sum of magnitudes (float32 eps ~6e-8).
          const magnitude = reduceRef(op, h.data.map(Math.abs), h.shape, axes).data;
          const got = await y.data();
          const worst = Math.max(...want.data.map((w, i) => Math.abs(got[i] - w) / magnitude[i]));
          expect(worst, `${op} ${name}`).toBeLessThan(1e-6);
        }
        y.dispose();
      }
      if (x !== base) x.dispose();
      base.dispose();
    });
  }
});

describe('argmax along any axis (strided, PyTorch tie and NaN rules)', () => {
  // Values from a small set, so ties are common; some NaNs in the second half of the cases.
  const cases: [string, number[], number, boolean][] = [
    ['the channels of NCHW (four outputs per lane)', [2, 6, 3, 4], 1, false],
    ['the last axis, rows of whole vec4s (vec4 loads)', [5, 12], 1, false],
    ['the last axis, rows of 10 (one float at a time)', [7, 10], 1, false],
    ['a leading axis of a matrix', [9, 8], 0, false],
    ['the channels, with NaNs', [2, 6, 3, 4], 1, true],
    ['rows of whole vec4s, with NaNs', [5, 12], 1, true],
    ['rows of 10, with NaNs', [7, 10], 1, true],
  ];
  for (const [name, shape, axis, nans] of cases) {
    it(`${name}: ${JSON.stringify(shape)} axis ${axis}`, async () => {
      const n = shape.reduce((a, b) => a * b);
      const data = randomArray(n, 40 + axis).map((v, i) => (nans && i % 7 === 3 ? Number.NaN : Math.round(v * 2) / 2));
      const x = wg.tensor(data, shape);
      const y = wg.argmax(x, axis);
      const want = argmaxRef(data, shape, axis);
      expect([...y.shape]).toEqual(want.shape);
      expect(Array.from(await y.data()), name).toEqual(Array.from(want.data));
      for (const t of [x, y]) t.dispose();
    });
  }

  it('views: a transposed matrix and a slice at an odd offset', async () => {
    const data = randomArray(8 * 12, 41).map((v) => Math.round(v * 2) / 2);
    const base = wg.tensor(data, [8, 12]);
    const t = base.transpose(0, 1);           // [12, 8]: argmax over axis 1 walks a column of base
    const tHost = Array.from({ length: 96 }, (_, i) => data[(i % 8) * 12 + Math.floor(i / 8)]);
    expect(Array.from(await wg.argmax(t, 1).data())).toEqual(Array.from(argmaxRef(tHost, [12, 8], 1).data));
    const s = base.slice(1, 1, 9);             // [8, 8] from offset 1
    const sHost = Array.from({ length: 64 }, (_, i) => data[Math.floor(i / 8) * 12 + 1 + (i % 8)]);
    expect(Array.from(await wg.argmax(s, 1).data())).toEqual(Array.from(argmaxRef(sHost, [8, 8], 1).data));
    for (const v of [t, s, base]) v.dispose();
  });
});
