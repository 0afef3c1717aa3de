// SPDX-License-Identifier: MIT
// Shape arithmetic shared by every op: element counts, strides, broadcasting, axis handling.

import { OpArgumentError, fmtShape } from './errors.js';

export type Shape = readonly number[];

/** The kernels index dimensions with `array<vec4<u32>, 2>`: at most 8 of them. */
export const MAX_RANK = 8;

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C-order) strides in elements: the last dimension is contiguous. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** NumPy broadcasting: align from the right; each pair must be equal or contain a 1. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new OpArgumentError(
        `${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together (dimension ${i} of the result: ${da} vs ${db}; expected equal sizes or a 1)`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read a tensor of `shape`/`strides` as if it had `target` shape (stride 0 on broadcast dims). */
export function broadcastStrides(shape: Shape, strides: readonly number[], target: Shape): number[] {
  const out = new Array<number>(target.length).fill(0);
  const shift = target.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[i + shift] = shape[i] === 1 ? 0 : strides[i];
  return out;
}

/** Normalise a possibly negative axis; throws a clear error when out of range. */
export function normalizeAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= Math.max(rank, 1)) {
    throw new OpArgumentError(`${op}: axis ${axis} is out of range for a tensor of rank ${rank} (expected ${-rank}..${rank - 1})`);
  }
  return a;
}

export function checkShape(op: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new OpArgumentError(`${op}: invalid shape ${fmtShape(shape)} (dimensions must be non-negative integers)`);
  }
  if (shape.length > MAX_RANK) throw new OpArgumentError(`${op}: shape ${fmtShape(shape)} has rank ${shape.length}; at most ${MAX_RANK} dimensions are supported`);
}

/**
 * Merge neighbouring dimensions that are contiguous with each other in *every* operand
 * (stride[i] == stride[i+1] * shape[i+1] for all of them), and drop size-1 dimensions.
 * A same-shape contiguous elementwise op collapses to rank 1, so the kernel's index
 * arithmetic costs one division instead of one per dimension.
 */
export function coalesce(shape: Shape, stridesList: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const dims: number[] = [];
  const strides: number[][] = stridesList.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 1) continue;
    const last = dims.length - 1;
    const mergeable =
      last >= 0 && stridesList.every((s, k) => strides[k][last] === s[d] * shape[d]);
    if (mergeable) {
      dims[last] *= shape[d];
      stridesList.forEach((s, k) => (strides[k][last] = s[d]));
    } else {
      dims.push(shape[d]);
      stridesList.forEach((s, k) => strides[k].push(s[d]));
    }
  }
  if (dims.length === 0) {
    dims.push(1);
    strides.forEach((s) => s.push(0));
  }
  return { shape: dims, strides };
}
