// SPDX-License-Identifier: MIT
// F.maxPool2d, F.avgPool2d, F.adaptiveAvgPool2d: pooling over (N, C, H, W) or (C, H, W) inputs,
// as torch.nn.functional. Backward passes are gathers over input positions (deterministic).
//   max:      saves the int32 argmax of every window; dx routes gy to it.
//   avg:      saves nothing but the geometry; dx spreads gy / divisor over each window.
//   adaptive: PyTorch's bins floor(i*H/OH) .. ceil((i+1)*H/OH); the global (1, 1) case has its
//             own kernels (a workgroup per plane; a broadcast in backward).

import { Tensor, assertAlive, assertFloat } from '../../tensor/tensor.js';
import { OpArgumentError, fmtShape } from '../../tensor/errors.js';
import { recordOp } from '../../autograd/record.js';
import { plain, disposeIfCopy, reshape, expand } from '../../ops/shape.js';
import { pool2dGeometry, maxPool2dForward, maxPool2dBackward, avgPool2dForward, avgPool2dBackward, type Pool2dGeometry } from '../../kernels/pool.js';
import {
  adaptiveAvgPool2dForward, adaptiveAvgPool2dBackward, checkAdaptiveGeometry, globalAvgPool2dForward, globalAvgPool2dBackward,
  type AdaptivePoolGeometry,
} from '../../kernels/adaptive-pool.js';
import { checkOptions } from './check-options.js';

/** A size for both spatial dimensions, or [height, width]. */
export type Size2 = number | readonly [number, number];

export interface MaxPool2dOptions {
  kernelSize: Size2;
  /** Default: kernelSize. */
  stride?: Size2 | null;
  padding?: Size2;
  dilation?: Size2;
  ceilMode?: boolean;
}

export interface AvgPool2dOptions {
  kernelSize: Size2;
  /** Default: kernelSize. */
  stride?: Size2 | null;
  padding?: Size2;
  ceilMode?: boolean;
  /** Divide by the full window size, padding included (default true, as PyTorch). */
  countIncludePad?: boolean;
}

function pair(op: string, name: string, v: Size2): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2) return [v[0], v[1]];
  throw new OpArgumentError(`${op}: ${name} must be a number or [height, width], got ${JSON.stringify(v)}`);
}

/**
 * Run `body` on a 4-D (N, C, H, W) version of x: (C, H, W) inputs get a batch of one, and the
 * result is reshaped back (through autograd).
 */
function as4d(op: string, x: Tensor, body: (x4: Tensor) => Tensor): Tensor {
  assertAlive(op, x);
  assertFloat(op, x);
  if (x.rank === 4) return body(x);
  if (x.rank !== 3) throw new OpArgumentError(`${op}: expected a 4-D (N, C, H, W) or 3-D (C, H, W) input, got ${fmtShape(x.shape)}`);
  // expand() adds the batch dimension as a view even when x is not contiguous (reshape would
  // copy), so a bad option is still rejected by body() before anything is dispatched.
  const x4 = expand(x, [1, ...x.shape]);
  try {
    const y4 = body(x4);
    const y = reshape(y4, y4.shape.slice(1));
    y4.dispose();
    return y;
  } finally {
    x4.dispose();
  }
}

export function maxPool2d(x: Tensor, opts: MaxPool2dOptions): Tensor {
  const op = 'maxPool2d';
  checkOptions(op, opts, ['kernelSize', 'stride', 'padding', 'dilation', 'ceilMode']);
  if (opts?.kernelSize === undefined) throw new OpArgumentError(`${op}: kernelSize is required`);
  const kernel = pair(op, 'kernelSize', opts.kernelSize);
  const spec = {
    kernel,
    stride: opts.stride == null ? kernel : pair(op, 'stride', opts.stride),
    padding: pair(op, 'padding', opts.padding ?? 0),
    dilation: pair(op, 'dilation', opts.dilation ?? 1),
    ceilMode: opts.ceilMode ?? false,
    countIncludePad: true,
  };
  return as4d(op, x, (x4) => {
    const g = pool2dGeometry(op, x4.shape, spec);
    const xp = plain(x4);
    const { y, argmax } = maxPool2dForward(xp, g);
    disposeIfCopy(xp, x4);
    const out = recordOp(op, [x4], y, [argmax], (gy, [idx]) => {
      const gyp = plain(gy);
      const dx = maxPool2dBackward(gyp, idx, g);
      disposeIfCopy(gyp, gy);
      return [dx];
    });
    argmax.dispose();
    return out;
  });
}

export function avgPool2d(x: Tensor, opts: AvgPool2dOptions): Tensor {
  const op = 'avgPool2d';
  checkOptions(op, opts, ['kernelSize', 'stride', 'padding', 'ceilMode', 'countIncludePad']);
  if (opts?.kernelSize === undefined) throw new OpArgumentError(`${op}: kernelSize is required`);
  const kernel = pair(op, 'kernelSize', opts.kernelSize);
  const spec = {
    kernel,
    stride: opts.stride == null ? kernel : pair(op, 'stride', opts.stride),
    padding: pair(op, 'padding', opts.padding ?? 0),
    dilation: [1, 1] as const,
    ceilMode: opts.ceilMode ?? false,
    countIncludePad: opts.countIncludePad ?? true,
  };
  return as4d(op, x, (x4) => {
    const g: Pool2dGeometry = pool2dGeometry(op, x4.shape, spec);
    const xp = plain(x4);
    const y = avgPool2dForward(xp, g);
    disposeIfCopy(xp, x4);
    return recordOp(op, [x4], y, [], (gy) => {
      const gyp = plain(gy);
      const dx = avgPool2dBackward(gyp, g);
      disposeIfCopy(gyp, gy);
      return [dx];
    });
  });
}

/** Average pooling into `outputSize` bins per plane ([1, 1]: global average pooling). */
export function adaptiveAvgPool2d(x: Tensor, outputSize: Size2): Tensor {
  const op = 'adaptiveAvgPool2d';
  const [OH, OW] = pair(op, 'outputSize', outputSize);
  return as4d(op, x, (x4) => {
    const [N, C, H, W] = x4.shape;
    if (!Number.isInteger(OH) || !Number.isInteger(OW) || OH < 1 || OW < 1) {
      throw new OpArgumentError(`${op}: outputSize must be positive integers, got [${OH}, ${OW}] (input ${fmtShape(x.shape)})`);
    }
    if (x4.size === 0) throw new OpArgumentError(`${op}: expected a non-empty input, got ${fmtShape(x.shape)}`);
    const g: AdaptivePoolGeometry = { N, C, H, W, OH, OW };
    if (OH === 1 && OW === 1) return globalAvgPool(x4, g);
    checkAdaptiveGeometry(op, g);
    const xp = plain(x4);
    const y = adaptiveAvgPool2dForward(xp, g);
    disposeIfCopy(xp, x4);
    return recordOp(op, [x4], y, [], (gy) => {
      const gyp = plain(gy);
      const dx = adaptiveAvgPool2dBackward(gyp, g);
      disposeIfCopy(gyp, gy);
      return [dx];
    });
  });
}

/** Fast path of adaptiveAvgPool2d(x, 1): one workgroup per plane, and a broadcast in backward. */
function globalAvgPool(x: Tensor, g: AdaptivePoolGeometry): Tensor {
  const xp = plain(x);
  const y = globalAvgPool2dForward(xp, g);
  disposeIfCopy(xp, x);
  return recordOp('adaptiveAvgPool2d', [x], y, [], (gy) => {
    const gyp = plain(gy);
    const dx = globalAvgPool2dBackward(gyp, g);
    disposeIfCopy(gyp, gy);
    return [dx];
  });
}
