// SPDX-License-Identifier: MIT
// Launchers for the pooling kernels (no autograd here: see src/nn/functional/pool.ts).
// Every pooling geometry is computed once by pool2dGeometry(), whose fields are the
// Pool2dParams struct of the max/avg kernels, in the same order.

import maxForwardSource from './wgsl/max_pool2d_forward.wgsl';
import maxBackwardSource from './wgsl/max_pool2d_backward.wgsl';
import avgForwardSource from './wgsl/avg_pool2d_forward.wgsl';
import avgBackwardSource from './wgsl/avg_pool2d_backward.wgsl';
import adaptiveForwardSource from './wgsl/adaptive_avg_pool2d_forward.wgsl';
import adaptiveBackwardSource from './wgsl/adaptive_avg_pool2d_backward.wgsl';
import { defineKernel, launch, grid1d } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor } from '../tensor/tensor.js';
import { OpArgumentError, fmtShape } from '../tensor/errors.js';

const maxForwardKernel = defineKernel('max_pool2d_forward', maxForwardSource, ['read', 'read_write', 'read_write', 'uniform']);
const maxBackwardKernel = defineKernel('max_pool2d_backward', maxBackwardSource, ['read', 'read', 'read_write', 'uniform']);
const avgForwardKernel = defineKernel('avg_pool2d_forward', avgForwardSource, ['read', 'read_write', 'uniform']);
const avgBackwardKernel = defineKernel('avg_pool2d_backward', avgBackwardSource, ['read', 'read_write', 'uniform']);
const adaptiveForwardKernel = defineKernel('adaptive_avg_pool2d_forward', adaptiveForwardSource, ['read', 'read_write', 'uniform']);
const adaptiveBackwardKernel = defineKernel('adaptive_avg_pool2d_backward', adaptiveBackwardSource, ['read', 'read_write', 'uniform']);

const WG = 256;

/** x: (N, C, H, W) pooled with a (kH, kW) window to (N, C, OH, OW). */
export interface Pool2dGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  kH: number;
  kW: number;
  sH: number;
  sW: number;
  pH: number;
  pW: number;
  dH: number;
  dW: number;
  ceilMode: boolean;
  countIncludePad: boolean;
}

export interface Pool2dSpec {
  kernel: readonly [number, number];
  stride: readonly [number, number];
  padding: readonly [number, number];
  dilation: readonly [number, number];
  ceilMode: boolean;
  countIncludePad: boolean;
}

/**
 * PyTorch's pooling_output_shape: floor (or ceil) of (in + 2p - d(k-1) - 1) / s + 1; in ceil
 * mode a last window that would start inside the right padding is dropped.
 */
export function poolOutputSize(size: number, k: number, s: number, p: number, d: number, ceilMode: boolean): number {
  let out = Math.floor((size + 2 * p - d * (k - 1) - 1 + (ceilMode ? s - 1 : 0)) / s) + 1;
  if (ceilMode && (out - 1) * s >= size + p) out--;
  return out;
}

/** Validate and compute a pooling geometry (PyTorch's pool2d_shape_check); `op` names errors. */
export function pool2dGeometry(op: string, shape: readonly number[], spec: Pool2dSpec): Pool2dGeometry {
  const [N, C, H, W] = shape;
  const [kH, kW] = spec.kernel;
  const [sH, sW] = spec.stride;
  const [pH, pW] = spec.padding;
  const [dH, dW] = spec.dilation;
  const at = `input ${fmtShape(shape)}, kernelSize [${kH}, ${kW}], stride [${sH}, ${sW}], padding [${pH}, ${pW}]${dH !== 1 || dW !== 1 ? `, dilation [${dH}, ${dW}]` : ''}`;
  const ints = [kH, kW, sH, sW, pH, pW, dH, dW];
  if (!ints.every((v) => Number.isInteger(v))) throw new OpArgumentError(`${op}: kernelSize, stride, padding and dilation must be integers (${at})`);
  if (kH <= 0 || kW <= 0) throw new OpArgumentError(`${op}: kernelSize must be greater than zero (${at})`);
  if (sH <= 0 || sW <= 0) throw new OpArgumentError(`${op}: stride must be greater than zero (${at})`);
  if (dH <= 0 || dW <= 0) throw new OpArgumentError(`${op}: dilation must be greater than zero (${at})`);
  if (pH < 0 || pW < 0) throw new OpArgumentError(`${op}: padding must be non-negative (${at})`);
  if (pH > Math.floor(kH / 2) || pW > Math.floor(kW / 2)) {
    throw new OpArgumentError(`${op}: padding should be at most half of the kernel size (${at})`);
  }
  if (H <= 0 || W <= 0 || C <= 0 || N <= 0) throw new OpArgumentError(`${op}: expected a non-empty input (${at})`);
  const OH = poolOutputSize(H, kH, sH, pH, dH, spec.ceilMode);
  const OW = poolOutputSize(W, kW, sW, pW, dW, spec.ceilMode);
  if (OH < 1 || OW < 1) {
    throw new OpArgumentError(`${op}: the window is larger than the padded input: output size would be [${OH}, ${OW}] (${at})`);
  }
  return { N, C, H, W, OH, OW, kH, kW, sH, sW, pH, pW, dH, dW, ceilMode: spec.ceilMode, countIncludePad: spec.countIncludePad };
}

/** The Pool2dParams struct shared by the max/avg pooling kernels. */
function packPool2dParams(g: Pool2dGeometry): Uint8Array {
  return new Uniforms()
    .u32(g.N * g.C).u32(g.H).u32(g.W).u32(g.OH)
    .u32(g.OW).u32(g.kH).u32(g.kW).u32(g.sH)
    .u32(g.sW).u32(g.pH).u32(g.pW).u32(g.dH)
    .u32(g.dW).u32(g.countIncludePad ? 1 : 0).u32(0).u32(0)
    .finish();
}

/** Max pooling of a plain x: returns y and the int32 argmax (ih * W + iw) of each window. */
export function maxPool2dForward(x: Tensor, g: Pool2dGeometry): { y: Tensor; argmax: Tensor } {
  const shape = [g.N, g.C, g.OH, g.OW];
  const y = emptyTensor(shape, 'float32', 'maxPool2d');
  const argmax = emptyTensor(shape, 'int32', 'maxPool2d argmax');
  launch(maxForwardKernel, {
    buffers: [x.buffer, y.buffer, argmax.buffer],
    params: packPool2dParams(g),
    workgroups: grid1d(y.size, WG),
    constants: { WG },
    label: 'maxPool2d forward',
  });
  return { y, argmax };
}

/** dx of max pooling from a plain gy and the saved argmax. */
export function maxPool2dBackward(gy: Tensor, argmax: Tensor, g: Pool2dGeometry): Tensor {
  const dx = emptyTensor([g.N, g.C, g.H, g.W], 'float32', 'maxPool2d dx');
  launch(maxBackwardKernel, {
    buffers: [gy.buffer, argmax.buffer, dx.buffer],
    params: packPool2dParams(g),
    workgroups: grid1d(dx.size, WG),
    constants: { WG },
    label: 'maxPool2d backward',
  });
  return dx;
}

export function avgPool2dForward(x: Tensor, g: Pool2dGeometry): Tensor {
  const y = emptyTensor([g.N, g.C, g.OH, g.OW], 'float32', 'avgPool2d');
  launch(avgForwardKernel, {
    buffers: [x.buffer, y.buffer],
    params: packPool2dParams(g),
    workgroups: grid1d(y.size, WG),
    constants: { WG },
    label: 'avgPool2d forward',
  });
  return y;
}

export function avgPool2dBackward(gy: Tensor, g: Pool2dGeometry): Tensor {
  const dx = emptyTensor([g.N, g.C, g.H, g.W], 'float32', 'avgPool2d dx');
  launch(avgBackwardKernel, {
    buffers: [gy.buffer, dx.buffer],
    params: packPool2dParams(g),
    workgroups: grid1d(dx.size, WG),
    constants: { WG },
    label: 'avgPool2d backward',
  });
  return dx;
}

/** x: (N, C, H, W) pooled into (OH, OW) bins. */
export interface AdaptivePoolGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
}

function packAdaptiveParams(g: AdaptivePoolGeometry): Uint8Array {
  return new Uniforms().u32(g.N * g.C).u32(g.H).u32(g.W).u32(g.OH).u32(g.OW).u32(0).u32(0).u32(0).finish();
}

export function adaptiveAvgPool2dForward(x: Tensor, g: AdaptivePoolGeometry): Tensor {
  const y = emptyTensor([g.N, g.C, g.OH, g.OW], 'float32', 'adaptiveAvgPool2d');
  launch(adaptiveForwardKernel, {
    buffers: [x.buffer, y.buffer],
    params: packAdaptiveParams(g),
    workgroups: grid1d(y.size, WG),
    constants: { WG },
    label: 'adaptiveAvgPool2d forward',
  });
  return y;
}

export function adaptiveAvgPool2dBackward(gy: Tensor, g: AdaptivePoolGeometry): Tensor {
  const dx = emptyTensor([g.N, g.C, g.H, g.W], 'float32', 'adaptiveAvgPool2d dx');
  launch(adaptiveBackwardKernel, {
    buffers: [gy.buffer, dx.buffer],
    params: packAdaptiveParams(g),
    workgroups: grid1d(dx.size, WG),
    constants: { WG },
    label: 'adaptiveAvgPool2d backward',
  });
  return dx;
}
