// GEMM kernels: every variant (naive, blocked, tiled, subgroup where the adapter has 8-lane
// subgroups) against the float64 reference on odd sizes, 1 x 1, row vectors, batches with a
// broadcast operand, transposed and offset operands, K not a multiple of 4 and large K; the
// variant choice; wg.matmul on the fast path without leaking the packing temporaries.
// Tolerance: FORWARD_TOL (1e-4) relative to the largest expected magnitude.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { gemm, chooseGemmVariant, type GemmVariant, type MatrixView } from '../../src/kernels/matmul.js';
import { matmulRef } from '../../src/kernels/reference/matmul.js';
import { gpu, isCpuAdapter } from '../../src/tensor/device.js';
import { useDevice, expectClose, FORWARD_TOL } from '../helpers.js';
import { randomArray } from '../random-data.js';

useDevice();


interface Layout {
  /** Store the operand transposed (column-major), so the kernel reads it through swapped strides. */
  transposed?: boolean;
  /** Elements before the operand in its buffer. */
  offset?: number;
  /** Batch stride 0: one matrix shared by every batch entry. */
  broadcast?: boolean;
}

/** A (batch, rows, cols) operand laid out as asked, its logical values, and a MatrixView of it. */
function operand(batch: number, rows: number, cols: number, layout: Layout, seed: number) {
  const count = layout.broadcast ? 1 : batch;
  const values = randomArray(count * rows * cols, seed);
  const offset = layout.offset ?? 0;
  const store = new Float32Array(offset + count * rows * cols + 3).fill(Number.NaN); // NaN outside: reads there would show
  const [rowStride, colStride] = layout.transposed ? [1, rows] : [cols, 1];
  for (let b = 0; b < count; b++) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) store[offset + b * rows * cols + r * rowStride + c * colStride] = values[(b * rows + r) * cols + c];
    }
  }
  const t = wg.tensor(store, [store.length]);
  const view: MatrixView = { buffer: t.buffer, offset, batchStride: layout.broadcast ? 0 : rows * cols, rowStride, colStride };
  const logical = (b: number) => values.subarray((layout.broadcast ? 0 : b) * rows * cols, ((layout.broadcast ? 0 : b) + 1) * rows * cols);
  return { t, view, logical };
}

interface Case {
  name: string;
  M: number;
  K: number;
  N: number;
  batch?: number;
  a?: Layout;
  b?: Layout;
}

const CASES: Case[] = [
  { name: '37x53 @ 53x29', M: 37, K: 53, N: 29 },
  { name: '1x1 @ 1x1', M: 1, K: 1, N: 1 },
  { name: '1xK row vector @ KxN', M: 1, K: 64, N: 40 },
  { name: 'Mx1 @ 1xN (outer product)', M: 70, K: 1, N: 44 },
  { name: 'aligned 64x64x64', M: 64, K: 64, N: 64 },
  { name: 'edges: M, N not tile multiples', M: 45, K: 20, N: 52 },
  { name: 'large K', M: 33, K: 1000, N: 36 },
  { name: 'batched, A broadcast', M: 40, K: 36, N: 44, batch: 3, a: { broadcast: true } },
  { name: 'batched, B broadcast, odd K', M: 35, K: 37, N: 41, batch: 2, b: { broadcast: true } },
  { name: 'A transposed', M: 48, K: 40, N: 36, a: { transposed: true } },
  { name: 'B transposed', M: 48, K: 40, N: 36, b: { transposed: true } },
  { name: 'both transposed, batched', M: 33, K: 29, N: 50, batch: 2, a: { transposed: true }, b: { transposed: true } },
  { name: 'offsets: unaligned A, aligned B', M: 40, K: 32, N: 40, a: { offset: 3 }, b: { offset: 8 } },
];

const hasSubgroupKernel = () => gpu().hasSubgroups && gpu().info.subgroupSize === 8;
const VARIANTS: GemmVariant[] = ['naive', 'blocked', 'tiled', 'subgroup'];

async function check(variant: GemmVariant, c: Case, seed: number): Promise<void> {
  const batch = c.batch ?? 1;
  const A = operand(batch, c.M, c.K, c.a ?? {}, seed);
  const B = operand(batch, c.K, c.N, c.b ?? {}, seed + 1);
  const out = gemm(A.view, B.view, batch, c.M, c.N, c.K, variant);
  expect([...out.shape]).toEqual(batch === 1 ? [c.M, c.N] : [batch, c.M, c.N]);
  const got = await out.data();
  for (let b = 0; b < batch; b++) {
    const want = matmulRef(A.logical(b), B.logical(b), c.M, c.K, c.N);
    expectClose(got.subarray(b * c.M * c.N, (b + 1) * c.M * c.N), want, FORWARD_TOL, `${variant} ${c.name} batch ${b}`);
  }
  for (const t of [A.t, B.t, out]) t.dispose();
}

describe('gemm kernels against the float64 reference', () => {
  for (const variant of VARIANTS) {
    it(`${variant}`, async (ctx) => {
      if (variant === 'subgroup' && !hasSubgroupKernel()) ctx.skip();
      let seed = 1;
      for (const c of CASES) await check(variant, c, (seed += 7));
    });
  }
});

describe('chooseGemmVariant', () => {
  it('keeps small problems on the simple kernel and large ones on the fast kernel for this adapter', () => {
    expect(chooseGemmVariant(4, 4, 4, 1)).toBe('blocked');
    expect(chooseGemmVariant(1, 4096, 4096, 1)).toBe('blocked'); // a row vector: a 32-row tile would waste 31 rows
    const big = chooseGemmVariant(256, 256, 256, 1);
    if (isCpuAdapter(gpu().info)) expect(big).toBe(hasSubgroupKernel() ? 'subgroup' : 'blocked');
    else expect(big).toBe('tiled');
  });
});

describe('wg.matmul on the fast path', () => {
  it('matches the reference for a @ b^T and a^T @ b and frees the packed copies', async () => {
    const M = 96, K = 70, N = 80;
    const av = randomArray(M * K, 11);
    const bv = randomArray(N * K, 12);
    const a = wg.tensor(av, [M, K]);
    const bt = wg.tensor(bv, [N, K]);
    const before = wg.memory().liveTensors;
    const y = wg.matmul(a, bt, { transB: true });
    const b = new Float64Array(K * N);
    for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) b[k * N + n] = bv[n * K + k];
    expectClose(await y.data(), matmulRef(av, b, M, K, N), FORWARD_TOL, 'a @ b^T');
    y.dispose();
    expect(wg.memory().liveTensors).toBe(before);
    // a^T @ a: (K, M) @ (M, K)
    const z = wg.matmul(a, a, { transA: true });
    const at = new Float64Array(K * M);
    for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) at[k * M + m] = av[m * K + k];
    expectClose(await z.data(), matmulRef(at, av, K, M, K), FORWARD_TOL, 'a^T @ a');
    for (const t of [z, a, bt]) t.dispose();
  });
});
