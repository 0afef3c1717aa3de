// SPDX-License-Identifier: MIT
// Shape ops. Most are *views*: a new Tensor over the same storage with different shape,
// strides or offset, so they cost no GPU work. A kernel that needs plain row-major data calls
// `plain(x)`, which copies only when x is not already laid out that way.

import { Tensor, assertAlive } from '../tensor/tensor.js';
import { recordOp } from '../autograd/record.js';
import { OpArgumentError, fmtShape } from '../tensor/errors.js';
import { contiguousStrides, normalizeAxis, numel, broadcastShapes, broadcastStrides, checkShape } from '../tensor/shape.js';
import { copyContiguous, copyInto } from '../kernels/copy.js';
import { fillRange } from '../kernels/fill.js';
import { sumToShape } from './elementwise.js';

function view(x: Tensor, shape: readonly number[], strides: readonly number[], offset: number): Tensor {
  return new Tensor(x.storage.retain(), shape, x.dtype, { strides, offset });
}

/** x itself if it is contiguous with offset 0, else a contiguous copy (no graph recorded). */
export function plain(x: Tensor): Tensor {
  return x.isContiguous && x.offset === 0 ? x : copyContiguous(x);
}

/** Dispose `t` if it is a temporary made by plain(x). */
export function disposeIfCopy(t: Tensor, x: Tensor): void {
  if (t !== x) t.dispose();
}

/** Resolve one -1 in a target shape and check the element count. */
function resolveShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  const out = [...shape];
  const infer = out.indexOf(-1);
  if (out.filter((d) => d === -1).length > 1) throw new OpArgumentError(`${op}: only one dimension can be -1, got ${fmtShape(shape)}`);
  if (infer >= 0) {
    const known = numel(out.filter((d) => d !== -1));
    if (known === 0 || x.size % known !== 0) throw new OpArgumentError(`${op}: cannot infer -1 in ${fmtShape(shape)} for input ${fmtShape(x.shape)} (${x.size} elements)`);
    out[infer] = x.size / known;
  }
  checkShape(op, out);
  if (numel(out) !== x.size) {
    throw new OpArgumentError(`${op}: input ${fmtShape(x.shape)} (${x.size} elements) cannot be viewed as ${fmtShape(shape)} (${numel(out)} elements)`);
  }
  return out;
}

/** Same elements, new shape (one dimension may be -1). A view when x is contiguous. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  assertAlive('reshape', x);
  const target = resolveShape('reshape', x, shape);
  const source = x.isContiguous ? x : copyContiguous(x);
  const y = view(source, target, contiguousStrides(target), source.offset);
  if (source !== x) source.dispose();
  return recordOp('reshape', [x], y, [], (gy) => [reshape(gy, x.shape)]);
}

export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  // A 0-d tensor flattens to [1]; like PyTorch, its dims may be given as 0 or -1.
  const s = normalizeAxis('flatten', x.rank === 0 && startDim === -1 ? 0 : startDim, x.rank);
  const e = normalizeAxis('flatten', x.rank === 0 && endDim === -1 ? 0 : endDim, x.rank);
  if (x.rank === 0) return reshape(x, [1]);
  if (s > e) throw new OpArgumentError(`flatten: startDim ${startDim} comes after endDim ${endDim} for input ${fmtShape(x.shape)}`);
  const shape = [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normalizeAxis('unsqueeze', dim, x.rank + 1);
  const shape = [...x.shape];
  shape.splice(d, 0, 1);
  return reshape(x, shape);
}

/** Remove size-1 dimensions (all, or just `dim`). */
export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined) return reshape(x, x.shape.filter((d) => d !== 1));
  const d = normalizeAxis('squeeze', dim, x.rank);
  if (x.shape[d] !== 1) return reshape(x, x.shape);
  return reshape(x, x.shape.filter((_, i) => i !== d));
}

/** Reorder dimensions: y.shape[i] = x.shape[dims[i]]. A view. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  assertAlive('permute', x);
  const norm = dims.map((d) => normalizeAxis('permute', d, x.rank));
  if (norm.length !== x.rank || new Set(norm).size !== x.rank) {
    throw new OpArgumentError(`permute: dims ${fmtShape(dims)} is not a permutation of the ${x.rank} dimensions of ${fmtShape(x.shape)}`);
  }
  const y = view(x, norm.map((d) => x.shape[d]), norm.map((d) => x.strides[d]), x.offset);
  const inverse = new Array<number>(norm.length);
  norm.forEach((d, i) => (inverse[d] = i));
  return recordOp('permute', [x], y, [], (gy) => [permute(gy, inverse)]);
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const a = normalizeAxis('transpose', dim0, x.rank);
  const b = normalizeAxis('transpose', dim1, x.rank);
  if (x.rank === 0) return permute(x, []); // dims 0 / 0 of a 0-d tensor: nothing to swap
  const dims = x.shape.map((_, i) => i);
  [dims[a], dims[b]] = [dims[b], dims[a]];
  return permute(x, dims);
}

/** x[..., start:end:step, ...] along `dim` (Python slice semantics, negative indices allowed). A view. */
export function slice(x: Tensor, dim: number, start: number, end?: number, step = 1): Tensor {
  assertAlive('slice', x);
  if (x.rank === 0) throw new OpArgumentError('slice: cannot slice a 0-d tensor');
  const d = normalizeAxis('slice', dim, x.rank);
  if (!Number.isInteger(step) || step <= 0) throw new OpArgumentError(`slice: step must be a positive integer, got ${step}`);
  const size = x.shape[d];
  const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + size : i, 0), size);
  const s = clamp(start);
  const e = clamp(end ?? size);
  const len = Math.max(0, Math.ceil((e - s) / step));
  const shape = [...x.shape];
  shape[d] = len;
  const strides = [...x.strides];
  strides[d] = x.strides[d] * step;
  const y = view(x, shape, strides, x.offset + s * x.strides[d]);
  return recordOp('slice', [x], y, [], (gy) => {
    // The gradient of a slice is zero everywhere except the sliced elements.
    const gx = fillRange(x.shape, 'float32', 0, 0);
    const xs = contiguousStrides(x.shape);
    const dstStrides = [...xs];
    dstStrides[d] = xs[d] * step;
    copyInto(gy, { buffer: gx.buffer, offset: s * xs[d], strides: dstStrides }, 'slice_backward');
    return [gx];
  });
}

/** Broadcast to a larger shape without copying (stride 0 on expanded dimensions). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  assertAlive('expand', x);
  const lead = shape.length - x.rank;
  if (lead < 0 || shape.some((s, i) => !Number.isInteger(s) || s < -1 || (s === -1 && i < lead))) {
    throw new OpArgumentError(
      `expand: cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)} (expected at least ${x.rank} sizes, each >= 0, or -1 to keep an existing dimension)`,
    );
  }
  const target = shape.map((s, i) => (s === -1 ? x.shape[i - lead] : s));
  const b = broadcastShapes('expand', x.shape, target);
  if (b.some((d, i) => d !== target[i])) throw new OpArgumentError(`expand: cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  const y = view(x, target, broadcastStrides(x.shape, x.strides, target), x.offset);
  return recordOp('expand', [x], y, [], (gy) => {
    const g = sumToShape(gy, x.shape);
    return [g === gy ? gy.detach() : g];
  });
}

/** A contiguous copy (or a view of x if it already is contiguous with offset 0). */
export function contiguous(x: Tensor): Tensor {
  assertAlive('contiguous', x);
  const y = x.isContiguous && x.offset === 0 ? x.detach() : copyContiguous(x);
  return recordOp('contiguous', [x], y, [], (gy) => [gy.detach()]);
}

/** Join tensors along an existing dimension. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new OpArgumentError('cat: expected at least one tensor');
  assertAlive('cat', ...tensors);
  const first = tensors[0];
  if (first.rank === 0) throw new OpArgumentError(`cat: 0-d tensors cannot be concatenated (unsqueeze them first); got ${tensors.map((u) => fmtShape(u.shape)).join(', ')}`);
  const d = normalizeAxis('cat', dim, first.rank);
  for (const t of tensors) {
    if (t.rank !== first.rank || t.dtype !== first.dtype || t.shape.some((s, i) => i !== d && s !== first.shape[i])) {
      throw new OpArgumentError(`cat: tensors must match except in dimension ${d}; got ${tensors.map((u) => fmtShape(u.shape) + ' ' + u.dtype).join(', ')}`);
    }
  }
  const shape = [...first.shape];
  shape[d] = tensors.reduce((n, t) => n + t.shape[d], 0);
  const out = fillRange(shape, first.dtype, 0, 0);
  const strides = contiguousStrides(shape);
  let at = 0;
  for (const t of tensors) {
    copyInto(t, { buffer: out.buffer, offset: at * strides[d], strides }, 'cat');
    at += t.shape[d];
  }
  const starts: number[] = [];
  at = 0;
  for (const t of tensors) {
    starts.push(at);
    at += t.shape[d];
  }
  return recordOp('cat', tensors, out, [], (gy) =>
    tensors.map((t, i) => {
      if (!t.requiresGrad) return null;
      const part = slice(gy, d, starts[i], starts[i] + t.shape[d]);
      const g = copyContiguous(part);
      part.dispose();
      return g;
    }),
  );
}
