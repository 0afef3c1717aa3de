// SPDX-License-Identifier: MIT
// Float64 reference for elementwise_binary.wgsl / elementwise_unary.wgsl: obviously-correct
// loops that define what the kernels compute. Tests compare the GPU with these, and check
// these with finite differences.

import { broadcastShapes, contiguousStrides, numel } from '../../tensor/shape.js';

export type Binary = (a: number, b: number) => number;
export type Unary = (x: number) => number;

export const binaryRef: Record<string, Binary> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => a ** b,
  maximum: (a, b) => Math.max(a, b),
  minimum: (a, b) => Math.min(a, b),
  gt: (a, b) => +(a > b),
  lt: (a, b) => +(a < b),
  ge: (a, b) => +(a >= b),
  le: (a, b) => +(a <= b),
  eq: (a, b) => +(a === b),
  addRelu: (a, b) => Math.max(a + b, 0),
};

export const unaryRef: Record<string, Unary> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  relu: (x) => Math.max(x, 0),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: Math.tanh,
  abs: Math.abs,
};

/** out[i] = f(a[ia], b[ib]) over the broadcast shape. */
export function broadcastBinaryRef(f: Binary, a: ArrayLike<number>, aShape: number[], b: ArrayLike<number>, bShape: number[]): { data: Float64Array; shape: number[] } {
  const shape = broadcastShapes('reference', aShape, bShape);
  const out = new Float64Array(numel(shape));
  const outStrides = contiguousStrides(shape);
  const aStrides = contiguousStrides(aShape);
  const bStrides = contiguousStrides(bShape);
  for (let i = 0; i < out.length; i++) {
    let ia = 0;
    let ib = 0;
    for (let d = 0; d < shape.length; d++) {
      const coord = Math.floor(i / outStrides[d]) % shape[d];
      const da = d - (shape.length - aShape.length);
      const db = d - (shape.length - bShape.length);
      if (da >= 0 && aShape[da] !== 1) ia += coord * aStrides[da];
      if (db >= 0 && bShape[db] !== 1) ib += coord * bStrides[db];
    }
    out[i] = f(a[ia], b[ib]);
  }
  return { data: out, shape };
}

export function unaryRefApply(f: Unary, x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, f);
}
