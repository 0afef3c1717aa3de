// SPDX-License-Identifier: MIT
// Float64 reference for reduce.wgsl: fold over `axes` of a row-major tensor.

import { contiguousStrides, numel } from '../../tensor/shape.js';

export type ReduceRefOp = 'sum' | 'mean' | 'max' | 'min';

export function reduceRef(op: ReduceRefOp, x: ArrayLike<number>, shape: number[], axes: number[]): { data: Float64Array; shape: number[] } {
  const outShape = shape.filter((_, d) => !axes.includes(d));
  const out = new Float64Array(numel(outShape)).fill(op === 'max' ? -Infinity : op === 'min' ? Infinity : 0);
  const strides = contiguousStrides(shape);
  const outStrides = contiguousStrides(outShape);
  const count = numel(axes.map((a) => shape[a]));
  for (let i = 0; i < x.length; i++) {
    let o = 0;
    let k = 0;
    for (let d = 0; d < shape.length; d++) {
      if (axes.includes(d)) continue;
      o += (Math.floor(i / strides[d]) % shape[d]) * outStrides[k++];
    }
    const v = x[i];
    out[o] = op === 'max' ? Math.max(out[o], v) : op === 'min' ? Math.min(out[o], v) : out[o] + v;
  }
  if (op === 'mean') for (let o = 0; o < out.length; o++) out[o] /= count;
  return { data: out, shape: outShape };
}

/**
 * Reference for argmax.wgsl: the index along `axis` of each output's largest value, PyTorch's
 * rules: the first index on ties, and NaN larger than every number (the first NaN).
 */
export function argmaxRef(x: ArrayLike<number>, shape: number[], axis: number): { data: Int32Array; shape: number[] } {
  const outShape = shape.filter((_, d) => d !== axis);
  const D = shape[axis];
  const inner = numel(shape.slice(axis + 1));
  const out = new Int32Array(numel(outShape));
  for (let o = 0; o < out.length; o++) {
    const base = Math.floor(o / inner) * D * inner + (o % inner);
    let best = x[base];
    let bestI = 0;
    for (let r = 1; r < D; r++) {
      const v = x[base + r * inner];
      if (v > best || (Number.isNaN(v) && !Number.isNaN(best))) {
        best = v;
        bestI = r;
      }
    }
    out[o] = bestI;
  }
  return { data: out, shape: outShape };
}
