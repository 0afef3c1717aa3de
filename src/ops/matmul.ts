// SPDX-License-Identifier: MIT
// Differentiable matrix product with PyTorch's semantics: 1-D operands are promoted (and the
// added dimension removed again), leading batch dimensions broadcast.
//   y = a @ b          dA = gy @ b^T          dB = a^T @ gy
// Transposes are free: the GEMM kernels read operands through strides.

import { Tensor, assertAlive, assertFloat } from '../tensor/tensor.js';
import { gemm, viewOf } from '../kernels/matmul.js';
import { recordOp } from '../autograd/record.js';
import { OpArgumentError, fmtShape } from '../tensor/errors.js';
import { broadcastShapes, broadcastStrides, coalesce, numel } from '../tensor/shape.js';
import { copyBroadcast } from '../kernels/copy.js';
import { reshape } from './shape.js';
import { sumToShape } from './elementwise.js';

export interface MatmulOptions {
  /** Use a^T (over the last two dimensions) in place of a. */
  transA?: boolean;
  transB?: boolean;
}

/**
 * Run the GEMM for 2-D-or-more operands whose batch dimensions broadcast.
 * Returns (...batch, M, N), contiguous.
 */
function batchedProduct(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  const M = transA ? a.shape[a.rank - 1] : a.shape[a.rank - 2];
  const K = transA ? a.shape[a.rank - 2] : a.shape[a.rank - 1];
  const Kb = transB ? b.shape[b.rank - 1] : b.shape[b.rank - 2];
  const N = transB ? b.shape[b.rank - 2] : b.shape[b.rank - 1];
  if (K !== Kb) {
    throw new OpArgumentError(`matmul: inner dimensions differ: ${fmtShape(a.shape)}${transA ? '^T' : ''} @ ${fmtShape(b.shape)}${transB ? '^T' : ''} (${K} vs ${Kb})`);
  }
  const batchShape = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = numel(batchShape);
  // Express each operand's batch dimensions as a single stride if possible, else copy.
  let A = a;
  let B = b;
  const bsA = broadcastStrides(a.shape.slice(0, -2), a.strides.slice(0, -2), batchShape);
  const bsB = broadcastStrides(b.shape.slice(0, -2), b.strides.slice(0, -2), batchShape);
  const merged = coalesce(batchShape, [bsA, bsB]);
  let strideA = merged.strides[0][0];
  let strideB = merged.strides[1][0];
  if (merged.shape.length > 1) {
    A = copyBroadcast(a, [...batchShape, ...a.shape.slice(-2)]);
    B = copyBroadcast(b, [...batchShape, ...b.shape.slice(-2)]);
    strideA = A.shape[A.rank - 1] * A.shape[A.rank - 2];
    strideB = B.shape[B.rank - 1] * B.shape[B.rank - 2];
  }
  const flat = gemm(viewOf(A, strideA, transA), viewOf(B, strideB, transB), batch, M, N, K);
  if (A !== a) A.dispose();
  if (B !== b) B.dispose();
  const outShape = [...batchShape, M, N];
  if (flat.rank === outShape.length) return flat;
  const out = reshape(flat, outShape);
  flat.dispose();
  return out;
}

export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  assertAlive('matmul', a, b);
  assertFloat('matmul', a, b);
  if (a.rank === 0 || b.rank === 0) throw new OpArgumentError(`matmul: both operands need at least one dimension, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const transA = opts.transA ?? false;
  const transB = opts.transB ?? false;
  // 1-D operands: a vector on the left is a row (1, K), on the right a column (K, 1).
  const a2 = a.rank === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const b2 = b.rank === 1 ? reshape(b, [b.shape[0], 1]) : b;
  let y: Tensor;
  try {
    y = batchedProduct(a2, b2, transA && a.rank > 1, transB && b.rank > 1);
  } finally {
    // The promoted views are temporaries, also when the shapes turn out not to match.
    if (a2 !== a) a2.dispose();
    if (b2 !== b) b2.dispose();
  }
  if (a.rank === 1 || b.rank === 1) {
    const shape = y.shape.filter((_, i) => !((a.rank === 1 && i === y.rank - 2) || (b.rank === 1 && i === y.rank - 1)));
    const squeezed = reshape(y, shape);
    y.dispose();
    y = squeezed;
  }
  return recordOp('matmul', [a, b], y, [a, b], (gy, [sa, sb]) => {
    // Work in the promoted 2-D+ shapes, then reduce broadcast batch dims and restore 1-D shapes.
    const A = sa.rank === 1 ? reshape(sa, [1, sa.shape[0]]) : sa;
    const B = sb.rank === 1 ? reshape(sb, [sb.shape[0], 1]) : sb;
    const outShape = [...broadcastShapes('matmul', A.shape.slice(0, -2), B.shape.slice(0, -2)),
      transA && a.rank > 1 ? A.shape[A.rank - 1] : A.shape[A.rank - 2], transB && b.rank > 1 ? B.shape[B.rank - 2] : B.shape[B.rank - 1]];
    const G = reshape(gy, outShape);
    const tA = transA && a.rank > 1;
    const tB = transB && b.rank > 1;
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (a.requiresGrad) {
      // y = op(A) op(B): d op(A) = G op(B)^T; if op(A) = A^T then dA = (G op(B)^T)^T = op(B) G^T.
      const full = tA ? batchedProduct(B, G, tB, true) : batchedProduct(G, B, false, !tB);
      ga = finishGrad(full, A.shape, a.shape);
    }
    if (b.requiresGrad) {
      const full = tB ? batchedProduct(G, A, true, tA) : batchedProduct(A, G, !tA, false);
      gb = finishGrad(full, B.shape, b.shape);
    }
    for (const [t, s] of [[A, sa], [B, sb], [G, gy]] as const) if (t !== s) t.dispose();
    return [ga, gb];
  });
}

function finishGrad(full: Tensor, promoted: readonly number[], original: readonly number[]): Tensor {
  const reduced = sumToShape(full, promoted);
  if (reduced !== full) full.dispose();
  const out = reshape(reduced, original);
  if (out !== reduced) reduced.dispose();
  return out;
}
