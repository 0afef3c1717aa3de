// Reductions over a leading axis of contiguous rows run four outputs per invocation as vec4s
// (reduce.wgsl main_outer4), checked against the float64 reference, as are the views that must
// keep one output per invocation.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { reduce } from '../../src/kernels/reduce.js';
import { reduceRef, type ReduceRefOp } from '../../src/kernels/reference/reduce.js';
import { useDevice, expectClose } from '../helpers.js';
import { randomArray } from '../random-data.js';

useDevice();

describe('reductions over a leading axis (vec4 outputs)', () => {
  const cases: [string, number[], number[]][] = [
    ['rows of a matrix', [7, 12], [0]],
    ['the split partials of a weight gradient', [5, 8, 4, 3, 3], [0]],
    ['two leading axes of one stride', [3, 2, 16], [0, 1]],
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
