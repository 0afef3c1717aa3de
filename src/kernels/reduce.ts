// SPDX-License-Identifier: MIT
// Launchers for reduce.wgsl (sum/max/min/mean over axes) and argmax.wgsl.

import reduceSource from './wgsl/reduce.wgsl';
import argmaxSource from './wgsl/argmax.wgsl';
import { defineKernel, launch, grid1d } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor } from '../tensor/tensor.js';
import { coalesce, numel } from '../tensor/shape.js';

const reduceKernel = defineKernel('reduce', reduceSource, ['read', 'read_write', 'uniform']);
const reduceWideKernel = defineKernel('reduce', reduceSource, ['read', 'read_write', 'uniform'], 'main_wide');
const reduceOuter4Kernel = defineKernel('reduce', reduceSource, ['read', 'read_write', 'uniform'], 'main_outer4');
const argmaxKernel = defineKernel('argmax', argmaxSource, ['read', 'read_write', 'uniform']);

export const ReduceOp = { sum: 0, max: 1, min: 2 } as const;
export type ReduceOpName = keyof typeof ReduceOp;

const WG = 64;

/**
 * Fold `x` over the (sorted, unique, non-negative) `axes`. The output has the kept
 * dimensions (keepdim handling is the caller's reshape). `scale` multiplies the result
 * (1/R turns a sum into a mean). `into`: a contiguous float32 tensor of the output's size to
 * store the result in (returned), instead of a new one.
 */
export function reduce(op: ReduceOpName, x: Tensor, axes: readonly number[], scale = 1, into: Tensor | null = null): Tensor {
  const keptDims = x.shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const outShape = keptDims.map((d) => x.shape[d]);
  if (into && (into.size !== numel(outShape) || !into.isContiguous || into.offset !== 0 || into.dtype !== 'float32')) {
    throw new Error(`wgslgrad internal: reduce into ${into.describe()}, expected a plain float32 tensor of ${numel(outShape)} elements`);
  }
  const out = into ?? emptyTensor(outShape, 'float32', op);
  const kept = coalesce(outShape, [keptDims.map((d) => x.strides[d])]);
  const redShape = axes.map((d) => x.shape[d]);
  const red = coalesce(redShape, [axes.map((d) => x.strides[d])]);
  const outNumel = numel(outShape);
  const redNumel = numel(redShape);
  const params = new Uniforms()
    .u32(outNumel).u32(redNumel).u32(kept.shape.length).u32(red.shape.length)
    .u32(x.offset).f32(scale).u32(0).u32(0)
    .u32Array(kept.shape, 2, 1)
    .u32Array(kept.strides[0], 2)
    .u32Array(red.shape, 2, 1)
    .u32Array(red.strides[0], 2)
    .finish();
  // Few long rows: a workgroup per output keeps all lanes busy. Many rows: a lane per output,
  // or per 4 outputs where they are contiguous and the one reduced dimension strides over them
  // in whole vec4s (x.sum(0) of a matrix, a convolution's split weight gradients): there
  // `main` ran at ~40% of relu's byte rate on lavapipe, loading one scalar per lane per step.
  const wide = outNumel < 1024 && redNumel >= 256;
  const outer4 = !wide && kept.shape.length === 1 && kept.strides[0][0] === 1 && red.shape.length === 1 &&
    outNumel % 4 === 0 && red.strides[0][0] % 4 === 0 && x.offset % 4 === 0;
  launch(wide ? reduceWideKernel : outer4 ? reduceOuter4Kernel : reduceKernel, {
    buffers: [x.buffer, out.buffer],
    params,
    workgroups: wide ? grid1d(outNumel, 1) : grid1d(outer4 ? outNumel / 4 : outNumel, WG),
    constants: { OP: ReduceOp[op], WG },
    label: `${op}`,
  });
  return out;
}

/** Index of the maximum along the last axis of a contiguous (rows, cols) tensor, as int32. */
export function argmaxRows(x: Tensor, rows: number, cols: number): Tensor {
  const out = emptyTensor([rows], 'int32', 'argmax');
  const params = new Uniforms().u32(rows).u32(cols).finish();
  launch(argmaxKernel, { buffers: [x.buffer, out.buffer], params, workgroups: grid1d(rows, WG), constants: { WG }, label: 'argmax' });
  return out;
}
