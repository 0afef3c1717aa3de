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
const reduceInner4Kernel = defineKernel('reduce', reduceSource, ['read', 'read_write', 'uniform'], 'main_inner4');
const argmaxKernels = {
  main: defineKernel('argmax', argmaxSource, ['read', 'read_write', 'uniform']),
  outer4: defineKernel('argmax', argmaxSource, ['read', 'read_write', 'uniform'], 'main_outer4'),
  inner4: defineKernel('argmax', argmaxSource, ['read', 'read_write', 'uniform'], 'main_inner4'),
};

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
  // Few long rows: a workgroup per output (or per chunk of one) keeps all lanes busy. Many rows:
  // a lane per output, or per 4 outputs where they are contiguous and the one reduced dimension
  // strides over them in whole vec4s (x.sum(0) of a matrix, a convolution's split weight
  // gradients): there `main` ran at ~40% of relu's byte rate on lavapipe, loading one scalar per
  // lane per step.
  const wide = outNumel < 1024 && redNumel >= 256;
  if (wide) return reduceWide(op, x, out, outNumel, redNumel, kept, red, scale);
  const outer4 = red.shape.length === 1 && outputsInVec4s(x.offset, kept, red.strides[0][0]);
  const inner4 = !outer4 && red.shape.length === 1 && axisInVec4s(x.offset, kept, red.strides[0][0], redNumel);
  launch(outer4 ? reduceOuter4Kernel : inner4 ? reduceInner4Kernel : reduceKernel, {
    buffers: [x.buffer, out.buffer],
    params: reduceParams(x, outNumel, redNumel, kept, red, scale, redNumel, 1),
    workgroups: grid1d(outer4 ? outNumel / 4 : outNumel, WG),
    constants: { OP: ReduceOp[op], WG },
    label: `${op}`,
  });
  return out;
}

type Coalesced = { shape: number[]; strides: number[][] };

/**
 * The main_outer4 layout (reduce.wgsl, argmax.wgsl): four neighbouring outputs are one aligned
 * vec4 of x at every step along the axis: the innermost kept dimension contiguous with a size that
 * is a multiple of 4, the other kept strides, the offset and the axis's stride multiples of 4.
 */
function outputsInVec4s(offset: number, kept: Coalesced, axisStride: number): boolean {
  const last = kept.shape.length - 1;
  return offset % 4 === 0 && kept.strides[0][last] === 1 && kept.shape[last] % 4 === 0 &&
    kept.strides[0].slice(0, last).every((s) => s % 4 === 0) && axisStride % 4 === 0;
}

/** Every output's first element starts a vec4: the offset and every kept stride multiples of 4. */
function basesInVec4s(offset: number, kept: Coalesced): boolean {
  return offset % 4 === 0 && kept.strides[0].every((s) => s % 4 === 0);
}

/** The main_inner4 layout: each output's axis is contiguous whole vec4s from a vec4-aligned start. */
function axisInVec4s(offset: number, kept: Coalesced, axisStride: number, axisLength: number): boolean {
  return basesInVec4s(offset, kept) && axisStride === 1 && axisLength % 4 === 0;
}

/** reduce.wgsl's Params (the same field order). */
function reduceParams(x: Tensor, outNumel: number, redNumel: number, kept: Coalesced, red: Coalesced, scale: number, chunk: number, chunks: number): Uint8Array {
  return new Uniforms()
    .u32(outNumel).u32(redNumel).u32(kept.shape.length).u32(red.shape.length)
    .u32(x.offset).f32(scale).u32(chunk).u32(chunks)
    .u32Array(kept.shape, 2, 1)
    .u32Array(kept.strides[0], 2)
    .u32Array(red.shape, 2, 1)
    .u32Array(red.strides[0], 2)
    .finish();
}

/**
 * Reduced elements per workgroup of main_wide when a reduction is split: 16384 (64 KB) keeps each
 * workgroup's loop long next to its tree reduction, and a full sum of [32, 64, 32, 32] becomes 128
 * workgroups. On lavapipe that sum went from 0.06-0.07x relu's byte rate (one workgroup, one CPU
 * thread, a division per element) to 0.75-0.81x.
 */
const REDUCE_CHUNK = 16384;

/** Few outputs with long reductions: main_wide, split into chunks and folded again where R is long. */
function reduceWide(op: ReduceOpName, x: Tensor, out: Tensor, outNumel: number, redNumel: number, kept: Coalesced, red: Coalesced, scale: number): Tensor {
  const chunks = redNumel >= 2 * REDUCE_CHUNK ? Math.ceil(redNumel / REDUCE_CHUNK) : 1;
  const chunk = chunks > 1 ? REDUCE_CHUNK : redNumel;
  // The reduced elements contiguous, and every output's first one on a vec4 (chunks are whole vec4s).
  const vec4 = red.shape.length === 1 && red.strides[0][0] === 1 && basesInVec4s(x.offset, kept);
  const partials = chunks > 1 ? emptyTensor([outNumel, chunks], 'float32', `${op} partials`) : out;
  launch(reduceWideKernel, {
    buffers: [x.buffer, partials.buffer],
    params: reduceParams(x, outNumel, redNumel, kept, red, chunks > 1 ? 1 : scale, chunk, chunks),
    workgroups: grid1d(outNumel * chunks, 1),
    constants: { OP: ReduceOp[op], WG, VEC4: vec4 ? 1 : 0 },
    label: `${op}`,
  });
  if (chunks === 1) return out;
  // The partials of each output, folded in a second pass (and scaled: a mean's 1/R).
  reduce(op, partials, [1], scale, out);
  partials.dispose();
  return out;
}

/**
 * Index of the largest value along `axis` of any view of x (the first on ties, NaN the largest),
 * int32, the axis removed: argmax.wgsl, four outputs per lane where they are contiguous and the
 * axis strides over whole vec4s, vec4 loads along a contiguous axis of whole vec4s, else one float
 * at a time.
 */
export function argmax(x: Tensor, axis: number): Tensor {
  const keptDims = x.shape.map((_, d) => d).filter((d) => d !== axis);
  const outShape = keptDims.map((d) => x.shape[d]);
  const out = emptyTensor(outShape, 'int32', 'argmax');
  const outNumel = numel(outShape);
  if (outNumel === 0) return out;
  const kept = coalesce(outShape, [keptDims.map((d) => x.strides[d])]);
  const D = x.shape[axis];
  const stride = x.strides[axis];
  const outer4 = outputsInVec4s(x.offset, kept, stride);
  const inner4 = !outer4 && axisInVec4s(x.offset, kept, stride, D);
  const params = new Uniforms()
    .u32(outNumel).u32(D).u32(kept.shape.length).u32(x.offset)
    .u32(stride).u32(0).u32(0).u32(0)
    .u32Array(kept.shape, 2, 1)
    .u32Array(kept.strides[0], 2)
    .finish();
  launch(outer4 ? argmaxKernels.outer4 : inner4 ? argmaxKernels.inner4 : argmaxKernels.main, {
    buffers: [x.buffer, out.buffer],
    params,
    workgroups: grid1d(outer4 ? outNumel / 4 : outNumel, WG),
    constants: { WG },
    label: 'argmax',
  });
  return out;
}
