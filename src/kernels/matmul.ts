// SPDX-License-Identifier: MIT
// Launcher for the GEMM kernels. Operands are described by strides, so a transposed operand is
// just a view with swapped strides (no copy), and a broadcast batch has batch stride 0.
//
// Kernels (all compute C (batch, M, N) contiguous = A (batch, M, K) @ B (batch, K, N)):
//   matmul_naive.wgsl     one output per invocation; the readable reference
//   matmul.wgsl           4 x 4 outputs per invocation, any strides ("blocked"; the fallback)
//   matmul_tiled.wgsl     64 x 64 tiles staged in workgroup memory (real GPUs)
//   matmul_subgroup.wgsl  32 x 32 tiles per 8-lane subgroup, loads shared by subgroupBroadcast
//                         (CPU adapters: llvmpipe); needs vec4-aligned rows, see packOperand()
// The variant is chosen in one place, chooseGemmVariant(), from the adapter and the shape.

import naiveSource from './wgsl/matmul_naive.wgsl';
import blockedSource from './wgsl/matmul.wgsl';
import tiledSource from './wgsl/matmul_tiled.wgsl';
import subgroupSource from './wgsl/matmul_subgroup.wgsl';
import packSource from './wgsl/matmul_pack.wgsl';
import { defineKernel, launch, grid1d, unusedWritableBinding } from './launch.js';
import type { BufferRef } from '../tensor/storage.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor } from '../tensor/tensor.js';
import { gpu, isCpuAdapter } from '../tensor/device.js';
import { randn } from '../ops/creation.js';
import { offerTunable, tunedChoice, isCollectingTunables } from './autotune.js';

const gemmBindings = ['read', 'read', 'read_write', 'uniform'] as const;
const naiveKernel = defineKernel('matmul_naive', naiveSource, gemmBindings);
const blockedKernel = defineKernel('matmul', blockedSource, gemmBindings);
const tiledKernel = defineKernel('matmul_tiled', tiledSource, gemmBindings);
// The subgroup kernel also binds its epilogue operands (bias, residual), see GemmEpilogue.
const subgroupKernel = defineKernel('matmul_subgroup', subgroupSource, [...gemmBindings, 'read', 'read', 'read', 'read_write']);
const packKernel = defineKernel('matmul_pack', packSource, ['read', 'read_write', 'uniform']);
const packVec4Kernel = defineKernel('matmul_pack', packSource, ['read', 'read_write', 'uniform'], 'main_vec4');

/** A matrix operand: buffer + element offset + strides for (batch, row, col). */
export interface MatrixView {
  buffer: BufferRef;
  offset: number;
  batchStride: number;
  rowStride: number;
  colStride: number;
}

export function viewOf(t: Tensor, batchStride: number, transpose = false): MatrixView {
  const r = t.strides[t.rank - 2];
  const c = t.strides[t.rank - 1];
  return { buffer: t.buffer, offset: t.offset, batchStride, rowStride: transpose ? c : r, colStride: transpose ? r : c };
}

export type GemmVariant = 'naive' | 'blocked' | 'tiled' | 'subgroup';

/** Rows and columns of C per subgroup of matmul_subgroup.wgsl, and the lanes it is written for. */
const SUBGROUP_TILE = 32;
const SUBGROUP_LANES = 8;
/** Below this many multiply-adds the simple kernel wins (no packing, one small dispatch). */
const FAST_GEMM_MIN_WORK = 64 * 64 * 64;

/** The one place that picks a GEMM kernel: by adapter, then by problem size. */
export function chooseGemmVariant(M: number, N: number, K: number, batch: number): GemmVariant {
  const ctx = gpu();
  if (M * N * K * batch < FAST_GEMM_MIN_WORK || Math.min(M, N, K) < 8) return 'blocked';
  if (isCpuAdapter(ctx.info)) {
    // 8-lane subgroups only: the kernel broadcasts from lanes 0..7 by name.
    return ctx.hasSubgroups && ctx.info.subgroupSize === SUBGROUP_LANES ? 'subgroup' : 'blocked';
  }
  return 'tiled';
}

/** The variants wg.autotune() may time for a problem: the tiled kernels that run on this adapter. */
function tunableVariants(): GemmVariant[] {
  const ctx = gpu();
  const subgroup = ctx.hasSubgroups && ctx.info.subgroupSize === SUBGROUP_LANES;
  return subgroup ? ['subgroup', 'tiled', 'blocked'] : ['tiled', 'blocked'];
}

/**
 * The variant for 'auto': the rules' (chooseGemmVariant), unless wg.autotune() timed this problem
 * (its sizes and both operands' layouts) on this adapter. Problems too small for the fast kernels
 * are not tuned.
 */
function autoVariant(a: MatrixView, b: MatrixView, batch: number, M: number, N: number, K: number): GemmVariant {
  const rule = chooseGemmVariant(M, N, K, batch);
  if (M * N * K * batch < FAST_GEMM_MIN_WORK || Math.min(M, N, K) < 8) return rule;
  const layout = (v: MatrixView) => `${v.offset},${v.batchStride},${v.rowStride},${v.colStride}`;
  const key = `gemm ${batch}x${M}x${N}x${K} a ${layout(a)} b ${layout(b)}`;
  if (isCollectingTunables()) {
    const variants = tunableVariants();
    const candidates = [rule, ...variants.filter((v) => v !== rule)];
    // Operands of the same layouts: buffers large enough for the furthest element each view reads.
    const extent = (v: MatrixView, rows: number, cols: number) => v.offset + (batch - 1) * v.batchStride + (rows - 1) * v.rowStride + (cols - 1) * v.colStride + 1;
    offerTunable({
      key,
      candidates,
      makeInputs: () => [randn([extent(a, M, K)], { seed: 1 }), randn([extent(b, K, N)], { seed: 2 })],
      run: (name, [ta, tb]) => gemm({ ...a, buffer: ta.buffer }, { ...b, buffer: tb.buffer }, batch, M, N, K, name as GemmVariant),
    });
  }
  const tuned = tunedChoice(key) as GemmVariant | undefined;
  return tuned && tunableVariants().includes(tuned) ? tuned : rule;
}

/**
 * What matmul_subgroup.wgsl can add before it stores C (convolutions run as GEMMs at inference):
 * C = relu?(A @ B + bias[m] + residual), bias (M) and residual (batch, M, N) contiguous.
 */
export interface GemmEpilogue {
  bias?: Tensor | null;
  residual?: Tensor | null;
  relu?: boolean;
}

/**
 * C (batch, M, N) = A (batch, M, K) @ B (batch, K, N); an epilogue needs the subgroup variant.
 * 'auto': chooseGemmVariant()'s pick, or the one wg.autotune() measured fastest for this problem.
 */
export function gemm(a: MatrixView, b: MatrixView, batch: number, M: number, N: number, K: number, variant: GemmVariant | 'auto' = 'auto', epilogue: GemmEpilogue = {}): Tensor {
  const chosen = variant === 'auto' ? autoVariant(a, b, batch, M, N, K) : variant;
  if (chosen === 'subgroup') return gemmSubgroup(a, b, batch, M, N, K, epilogue);
  if (epilogue.bias || epilogue.residual || epilogue.relu) throw new Error(`gemm: an epilogue needs the subgroup kernel, not '${chosen}'`);
  const out = emptyTensor(batch === 1 ? [M, N] : [batch, M, N], 'float32', 'matmul');
  const params = new Uniforms()
    .u32(M).u32(N).u32(K).u32(batch)
    .u32(a.offset).u32(a.batchStride).u32(a.rowStride).u32(a.colStride)
    .u32(b.offset).u32(b.batchStride).u32(b.rowStride).u32(b.colStride)
    .finish();
  const buffers = [a.buffer, b.buffer, out.buffer];
  if (chosen === 'naive') {
    launch(naiveKernel, { buffers, params, workgroups: [Math.ceil(N / 16), Math.ceil(M / 16), batch], label: 'matmul_naive' });
  } else if (chosen === 'tiled') {
    launch(tiledKernel, { buffers, params, workgroups: [Math.ceil(N / 64), Math.ceil(M / 64), batch], label: 'matmul' });
  } else {
    launch(blockedKernel, { buffers, params, workgroups: [Math.ceil(N / 32), Math.ceil(M / 32), batch], label: 'matmul' });
  }
  return out;
}

const isVec4Aligned = (x: number) => x % 4 === 0;

/**
 * matmul_subgroup.wgsl reads A as vec4 along K and B as vec4 along N. An operand whose rows
 * are not vec4-aligned (transposed, odd strides or offsets, K not a multiple of 4) is first
 * packed into a contiguous zero-padded copy: O(MK + KN) work against the O(MNK) product.
 */
function gemmSubgroup(a: MatrixView, b: MatrixView, batch: number, M: number, N: number, K: number, epilogue: GemmEpilogue): Tensor {
  const K4 = Math.ceil(K / 4);
  const N4 = Math.ceil(N / 4);
  const batchAligned = (v: MatrixView) => batch === 1 || isVec4Aligned(v.batchStride);
  const aReady = K % 4 === 0 && a.colStride === 1 && isVec4Aligned(a.rowStride) && isVec4Aligned(a.offset) && batchAligned(a);
  const bReady = K % 4 === 0 && b.colStride === 1 && isVec4Aligned(b.rowStride) && isVec4Aligned(b.offset) && batchAligned(b);
  // A zero-padded K needs both operands padded: the extra k must multiply to exactly 0.
  const packedA = aReady ? null : packOperand(a, batch, M, K, M, K4 * 4);
  const packedB = bReady ? null : packOperand(b, batch, K, N, K4 * 4, N4 * 4);
  const A = packedA ? contiguousView(packedA, M * K4 * 4, K4 * 4) : a;
  const B = packedB ? contiguousView(packedB, K4 * 4 * N4 * 4, N4 * 4) : b;
  const out = emptyTensor(batch === 1 ? [M, N] : [batch, M, N], 'float32', 'matmul');
  const params = new Uniforms()
    .u32(M).u32(N).u32(K4).u32(N4)
    .u32(A.offset / 4).u32(A.batchStride / 4).u32(A.rowStride / 4).u32(batch)
    .u32(B.offset / 4).u32(B.batchStride / 4).u32(B.rowStride / 4).u32(0)
    .finish();
  const SUBGROUPS = 1;
  const { bias = null, residual = null, relu = false } = epilogue;
  // With N % 4 == 0 the kernel stores C as vec4s through binding 7; the unused one of 2 and 7 gets
  // the placeholder (WebGPU forbids binding one buffer writable twice in a dispatch).
  const cVec4 = N % 4 === 0;
  const unused = unusedWritableBinding();
  // One A for the whole batch (a convolution's weights) and products whose vec4 columns are not
  // whole tiles: the batch's products side by side in the grid's columns, so no tile idles lanes
  // at the end of each product (FOLD_BATCH). ResNet-50's 1x1 layers at batch 8, lavapipe, CPU
  // time: 7x7 0.76-0.86x, 14x14 0.87-0.98x; where the tiles are whole (28x28, 56x56) no gain.
  const columnTiles = (vec4Columns: number) => Math.ceil(vec4Columns / (SUBGROUP_LANES * SUBGROUPS));
  const fold = batch > 1 && A.batchStride === 0 && columnTiles(batch * N4) < batch * columnTiles(N4) && columnTiles(batch * N4) <= 65535;
  launch(subgroupKernel, {
    // Absent epilogue operands bind A again (read-only, never read).
    buffers: [A.buffer, B.buffer, cVec4 ? unused : out.buffer, (bias ?? A).buffer, (residual ?? A).buffer, (residual ?? A).buffer, cVec4 ? out.buffer : unused],
    params,
    workgroups: fold ? [Math.ceil(M / SUBGROUP_TILE), columnTiles(batch * N4), 1] : [Math.ceil(M / SUBGROUP_TILE), columnTiles(N4), batch],
    constants: {
      SUBGROUPS, HAS_BIAS: bias ? 1 : 0, HAS_RESIDUAL: residual ? 1 : 0, RELU: relu ? 1 : 0, RES_VEC4: residual && N % 4 === 0 ? 1 : 0,
      C_VEC4: cVec4 ? 1 : 0, FOLD_BATCH: fold ? 1 : 0,
    },
    label: 'matmul',
  });
  packedA?.dispose();
  packedB?.dispose();
  return out;
}

function contiguousView(t: Tensor, batchStride: number, rowStride: number): MatrixView {
  return { buffer: t.buffer, offset: 0, batchStride, rowStride, colStride: 1 };
}

/**
 * Copy (batch, rows, cols) of a strided view into a contiguous (batch, rowsP, colsP), zero-padded
 * (matmul_pack.wgsl): the layout matmul_subgroup.wgsl needs.
 */
export function packOperand(v: MatrixView, batch: number, rows: number, cols: number, rowsP: number, colsP: number): Tensor {
  const out = emptyTensor([batch, rowsP, colsP], 'float32', 'matmul pack');
  const total = batch * rowsP * colsP;
  const params = new Uniforms()
    .u32(rows).u32(cols).u32(rowsP).u32(colsP)
    .u32(v.offset).u32(v.batchStride).u32(v.rowStride).u32(v.colStride)
    .u32(total).u32(0).u32(0).u32(0)
    .finish();
  const WG = 256;
  const vec4 = colsP % 4 === 0;
  launch(vec4 ? packVec4Kernel : packKernel, {
    buffers: [v.buffer, out.buffer], params, workgroups: grid1d(vec4 ? total / 4 : total, WG), constants: { WG }, label: 'matmul_pack',
  });
  return out;
}
