// SPDX-License-Identifier: MIT
// Launcher for the GEMM kernels. Operands are described by strides, so a transposed operand is
// just a view with swapped strides (no copy), and a broadcast batch has batch stride 0.

import naiveSource from './wgsl/matmul_naive.wgsl';
import blockedSource from './wgsl/matmul.wgsl';
import { defineKernel, launch } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor } from '../tensor/tensor.js';

const naiveKernel = defineKernel('matmul_naive', naiveSource, ['read', 'read', 'read_write', 'uniform']);
const blockedKernel = defineKernel('matmul', blockedSource, ['read', 'read', 'read_write', 'uniform']);

/** A matrix operand: buffer + element offset + strides for (batch, row, col). */
export interface MatrixView {
  buffer: GPUBuffer;
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

export type GemmVariant = 'naive' | 'blocked';

/** C (batch, M, N) = A (batch, M, K) @ B (batch, K, N). */
export function gemm(a: MatrixView, b: MatrixView, batch: number, M: number, N: number, K: number, variant: GemmVariant = 'blocked'): Tensor {
  const out = emptyTensor(batch === 1 ? [M, N] : [batch, M, N], 'float32', 'matmul');
  const params = new Uniforms()
    .u32(M).u32(N).u32(K).u32(batch)
    .u32(a.offset).u32(a.batchStride).u32(a.rowStride).u32(a.colStride)
    .u32(b.offset).u32(b.batchStride).u32(b.rowStride).u32(b.colStride)
    .finish();
  if (variant === 'naive') {
    launch(naiveKernel, { buffers: [a.buffer, b.buffer, out.buffer], params, workgroups: [Math.ceil(N / 16), Math.ceil(M / 16), batch], label: 'matmul_naive' });
  } else {
    launch(blockedKernel, { buffers: [a.buffer, b.buffer, out.buffer], params, workgroups: [Math.ceil(N / 32), Math.ceil(M / 32), batch], label: 'matmul' });
  }
  return out;
}
