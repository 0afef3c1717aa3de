// SPDX-License-Identifier: MIT
// Launchers for elementwise_binary.wgsl and elementwise_unary.wgsl (no autograd here: see
// src/ops/elementwise.ts for the differentiable ops built on these).

import binarySource from './wgsl/elementwise_binary.wgsl';
import unarySource from './wgsl/elementwise_unary.wgsl';
import { defineKernel, launch, grid1d } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor } from '../tensor/tensor.js';
import { broadcastShapes, broadcastStrides, contiguousStrides, numel, sameShape } from '../tensor/shape.js';
import { planRuns, packRuns, runLaunch, flatRows } from './runs.js';

const binaryKernel = defineKernel('elementwise_binary', binarySource, ['read', 'read', 'read_write', 'uniform']);
const binaryAnyRowsKernel = defineKernel('elementwise_binary', binarySource, ['read', 'read', 'read_write', 'uniform'], 'main_any_rows');
const binaryVec4Kernel = defineKernel('elementwise_binary', binarySource, ['read', 'read', 'read_write', 'uniform'], 'main_vec4');
const binaryFlatKernel = defineKernel('elementwise_binary', binarySource, ['read', 'read', 'read_write', 'uniform'], 'main_flat');
const unaryKernel = defineKernel('elementwise_unary', unarySource, ['read', 'read_write', 'uniform']);
const unaryAnyRowsKernel = defineKernel('elementwise_unary', unarySource, ['read', 'read_write', 'uniform'], 'main_any_rows');
const unaryVec4Kernel = defineKernel('elementwise_unary', unarySource, ['read', 'read_write', 'uniform'], 'main_vec4');

/** Contiguous with a 16-byte aligned start: the vec4 entry points can read it directly. */
function vec4Ready(t: Tensor): boolean {
  return t.isContiguous && t.offset % 4 === 0;
}

/** Operation codes of elementwise_binary.wgsl's `OP` constant. */
export const BinaryOp = {
  add: 0, sub: 1, mul: 2, div: 3, pow: 4, maximum: 5, minimum: 6,
  gt: 7, lt: 8, ge: 9, le: 10, eq: 11, ne: 12,
  reluBackward: 13, sigmoidBackward: 14, tanhBackward: 15,
  addRelu: 16,
} as const;
export type BinaryOpName = keyof typeof BinaryOp;

/** Operation codes of elementwise_unary.wgsl's `OP` constant. */
export const UnaryOp = {
  identity: 0, neg: 1, exp: 2, log: 3, sqrt: 4, relu: 5, sigmoid: 6, tanh: 7, abs: 8,
  powScalar: 9, sign: 10, reciprocal: 11, square: 12, step: 13,
} as const;
export type UnaryOpName = keyof typeof UnaryOp;

const WG = 256;

/** out = op(a, b) with broadcasting; a and b may be non-contiguous views. */
export function binary(op: BinaryOpName, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = emptyTensor(shape, 'float32', op);
  const n = numel(shape);
  if (n === 0) return out;
  if (sameShape(a.shape, b.shape) && vec4Ready(a) && vec4Ready(b)) {
    const params = new Uniforms().u32(n).u32(a.offset).u32(b.offset).u32(0).finish();
    launch(binaryVec4Kernel, { buffers: [a.buffer, b.buffer, out.buffer], params, workgroups: grid1d(Math.ceil(n / 4), WG), constants: { OP: BinaryOp[op], WG }, label: op });
    return out;
  }
  const plan = planRuns(shape, [
    { offset: a.offset, strides: broadcastStrides(a.shape, a.strides, shape) },
    { offset: b.offset, strides: broadcastStrides(b.shape, b.strides, shape) },
    { offset: 0, strides: contiguousStrides(shape) },
  ]);
  const flat = flatRows(plan);
  if (flat) {
    launch(binaryFlatKernel, {
      buffers: [a.buffer, b.buffer, out.buffer],
      params: packRuns(plan, new Uniforms()).finish(),
      workgroups: grid1d(Math.ceil(n / (4 * flat.vecs)), WG),
      constants: { OP: BinaryOp[op], WG, A_MODE: flat.modes[0], B_MODE: flat.modes[1], VECS: flat.vecs },
      label: op,
    });
    return out;
  }
  const [va, vb, vo] = plan.views;
  const runs = runLaunch(plan, WG);
  launch(vo.mode === 1 ? binaryKernel : binaryAnyRowsKernel, {
    buffers: [a.buffer, b.buffer, out.buffer],
    params: packRuns(plan, new Uniforms()).finish(),
    workgroups: runs.workgroups,
    constants: { OP: BinaryOp[op], WG, A_MODE: va.mode, B_MODE: vb.mode, RUNS: runs.RUNS },
    label: op,
  });
  return out;
}

/**
 * vec4s per invocation of the unary vec4 kernel. A unary op moves 8 bytes per element against
 * a binary op's 12, so the work of each invocation (its index, its bounds test) weighs more:
 * ReLU on [8, 64, 56, 56] went from 57-75% to 78-95% of the copy ceiling (CPU time, three
 * interleaved runs on lavapipe). Binary ops showed no clear difference and keep one.
 */
const UNARY_V = 4;
/** out = op(alpha * x + beta); `scalar` is the exponent of powScalar / threshold of step. */
export function unary(op: UnaryOpName, x: Tensor, alpha = 1, beta = 0, scalar = 0): Tensor {
  const out = emptyTensor(x.shape, 'float32', op);
  const n = x.size;
  if (n === 0) return out;
  if (vec4Ready(x)) {
    const params = new Uniforms().u32(n).u32(x.offset).u32(0).u32(0).f32(alpha).f32(beta).f32(scalar).u32(0).finish();
    launch(unaryVec4Kernel, {
      buffers: [x.buffer, out.buffer],
      params,
      workgroups: grid1d(Math.ceil(n / 4), WG * UNARY_V),
      constants: { OP: UnaryOp[op], WG, V: UNARY_V },
      label: op,
    });
    return out;
  }
  const plan = planRuns(x.shape, [{ offset: x.offset, strides: x.strides }, { offset: 0, strides: contiguousStrides(x.shape) }]);
  const [vx, vo] = plan.views;
  const runs = runLaunch(plan, WG);
  launch(vo.mode === 1 ? unaryKernel : unaryAnyRowsKernel, {
    buffers: [x.buffer, out.buffer],
    params: packRuns(plan, new Uniforms()).f32(alpha).f32(beta).f32(scalar).finish(),
    workgroups: runs.workgroups,
    constants: { OP: UnaryOp[op], WG, X_MODE: vx.mode, RUNS: runs.RUNS },
    label: op,
  });
  return out;
}
