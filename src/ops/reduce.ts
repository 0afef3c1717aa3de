// SPDX-License-Identifier: MIT
// Differentiable reductions: sum, mean, max, min over axes, with keepdim; argmax.

import { Tensor, assertAlive, assertFloat } from '../tensor/tensor.js';
import { reduce, argmax as argmaxAlong, type ReduceOpName } from '../kernels/reduce.js';
import { binary, unary } from '../kernels/elementwise.js';
import { copyBroadcast } from '../kernels/copy.js';
import { recordOp } from '../autograd/record.js';
import { normalizeAxis, numel } from '../tensor/shape.js';
import { OpArgumentError } from '../tensor/errors.js';
import { reshape } from './shape.js';
import { fillRange } from '../kernels/fill.js';

export type Axes = number | readonly number[] | null | undefined;

function normalizeAxes(op: string, axes: Axes, rank: number): number[] {
  if (axes === null || axes === undefined) return [...Array(rank).keys()];
  const list = typeof axes === 'number' ? [axes] : [...axes];
  if (rank === 0) {
    // PyTorch: a 0-d tensor accepts dim 0 or -1 (once), and reducing it changes nothing.
    if (list.length > 1 || list.some((a) => a !== 0 && a !== -1)) {
      throw new OpArgumentError(`${op}: axes [${list.join(', ')}] are out of range for a 0-d tensor (expected 0 or -1)`);
    }
    return [];
  }
  const norm = list.map((a) => normalizeAxis(op, a, rank));
  if (new Set(norm).size !== norm.length) throw new OpArgumentError(`${op}: repeated axis in [${list.join(', ')}]`);
  return norm.sort((a, b) => a - b);
}

/** The output shape with reduced axes kept as size 1. */
function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** Materialise `g` (shaped like the keepdim output) broadcast back to `shape`. */
function broadcastBack(g: Tensor, keepShape: readonly number[], shape: readonly number[]): Tensor {
  const kept = reshape(g, keepShape);
  const out = copyBroadcast(kept, shape);
  kept.dispose();
  return out;
}

function reduceOp(op: ReduceOpName | 'mean', x: Tensor, axesArg: Axes, keepdim: boolean): Tensor {
  assertAlive(op, x);
  assertFloat(op, x);
  const axes = normalizeAxes(op, axesArg, x.rank);
  const count = numel(axes.map((a) => x.shape[a]));
  if ((op === 'max' || op === 'min') && count === 0) throw new OpArgumentError(`${op}: cannot reduce over an empty dimension of [${x.shape.join(', ')}]`);
  const raw = reduce(op === 'mean' ? 'sum' : op, x, axes, op === 'mean' ? 1 / count : 1);
  const keepShape = keptShape(x.shape, axes);
  const y = keepdim ? reshape(raw, keepShape) : raw;
  if (y !== raw) raw.dispose();
  const save = op === 'max' || op === 'min' ? [x, y] : [];
  return recordOp(op, [x], y, save, (gy, saved) => {
    if (op === 'sum') return [broadcastBack(gy, keepShape, x.shape)];
    if (op === 'mean') {
      const g = broadcastBack(gy, keepShape, x.shape);
      const out = unary('identity', g, 1 / count, 0);
      g.dispose();
      return [out];
    }
    // max/min: the gradient goes to the elements equal to the extreme, split evenly on ties.
    const [xs, ys] = saved;
    const extreme = broadcastBack(ys, keepShape, x.shape);
    const mask = binary('eq', xs, extreme);
    const ties = reduce('sum', mask, axes);
    const tiesFull = broadcastBack(ties, keepShape, x.shape);
    const gFull = broadcastBack(gy, keepShape, x.shape);
    const share = binary('div', gFull, tiesFull);
    const gx = binary('mul', share, mask);
    for (const t of [extreme, mask, ties, tiesFull, gFull, share]) t.dispose();
    return [gx];
  });
}

export const sum = (x: Tensor, axes?: Axes, keepdim = false): Tensor => reduceOp('sum', x, axes, keepdim);
export const mean = (x: Tensor, axes?: Axes, keepdim = false): Tensor => reduceOp('mean', x, axes, keepdim);
export const max = (x: Tensor, axes?: Axes, keepdim = false): Tensor => reduceOp('max', x, axes, keepdim);
export const min = (x: Tensor, axes?: Axes, keepdim = false): Tensor => reduceOp('min', x, axes, keepdim);

/** Index of the largest element along `axis` (first one on ties, NaN the largest, as in PyTorch), int32, axis removed. */
export function argmax(x: Tensor, axis = -1): Tensor {
  assertAlive('argmax', x);
  assertFloat('argmax', x);
  if (x.rank === 0) {
    if (axis !== 0 && axis !== -1) throw new OpArgumentError(`argmax: axis ${axis} is out of range for a 0-d tensor (expected 0 or -1)`);
    return fillRange([], 'int32', 0, 0); // the only element is the largest
  }
  const a = normalizeAxis('argmax', axis, x.rank);
  if (x.shape[a] === 0) throw new OpArgumentError(`argmax: cannot take the argmax over the empty dimension ${a} of [${x.shape.join(', ')}]`);
  return argmaxAlong(x, a);
}
