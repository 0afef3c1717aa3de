// SPDX-License-Identifier: MIT
// Launchers for adaptive average pooling (no autograd here: see src/nn/functional/pool.ts):
// PyTorch's bins floor(i*H/OH) .. ceil((i+1)*H/OH), and the global (1, 1) case with kernels of
// its own (one plane per lane on CPU adapters, a workgroup per plane on GPUs). The window
// pooling (max, average) is in pool.ts, whose flat-grid launch this file shares.

import adaptiveForwardSource from './wgsl/adaptive_avg_pool2d_forward.wgsl';
import adaptiveBackwardSource from './wgsl/adaptive_avg_pool2d_backward.wgsl';
import globalForwardSource from './wgsl/adaptive_avg_pool2d_global_forward.wgsl';
import globalBackwardSource from './wgsl/adaptive_avg_pool2d_global_backward.wgsl';
import { defineKernel, launch, grid1d } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor } from '../tensor/tensor.js';
import { gpu, isCpuAdapter } from '../tensor/device.js';
import { OpArgumentError } from '../tensor/errors.js';
import { WG, MAX_PLANE_INDEX, planeLaunch } from './pool.js';

const adaptiveForwardKernel = defineKernel('adaptive_avg_pool2d_forward', adaptiveForwardSource, ['read', 'read_write', 'uniform']);
const adaptiveBackwardKernel = defineKernel('adaptive_avg_pool2d_backward', adaptiveBackwardSource, ['read', 'read_write', 'uniform']);
const globalForwardKernels = {
  scalar: defineKernel('adaptive_avg_pool2d_global_forward', globalForwardSource, ['read', 'read_write', 'uniform'], 'main'),
  vec4: defineKernel('adaptive_avg_pool2d_global_forward', globalForwardSource, ['read', 'read_write', 'uniform'], 'main_vec4'),
  perLane: defineKernel('adaptive_avg_pool2d_global_forward', globalForwardSource, ['read', 'read_write', 'uniform'], 'per_lane'),
  perLaneVec4: defineKernel('adaptive_avg_pool2d_global_forward', globalForwardSource, ['read', 'read_write', 'uniform'], 'per_lane_vec4'),
  perLaneQuad: defineKernel('adaptive_avg_pool2d_global_forward', globalForwardSource, ['read', 'read_write', 'uniform'], 'per_lane_quad'),
};
const globalBackwardKernels = {
  scalar: defineKernel('adaptive_avg_pool2d_global_backward', globalBackwardSource, ['read', 'read_write', 'uniform'], 'main'),
  vec4: defineKernel('adaptive_avg_pool2d_global_backward', globalBackwardSource, ['read', 'read_write', 'uniform'], 'main_vec4'),
  splitVec4: defineKernel('adaptive_avg_pool2d_global_backward', globalBackwardSource, ['read', 'read_write', 'uniform'], 'main_split_vec4'),
  quad: defineKernel('adaptive_avg_pool2d_global_backward', globalBackwardSource, ['read', 'read_write', 'uniform'], 'quad'),
};

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
  return new Uniforms()
    .u32(g.N * g.C).u32(g.H).u32(g.W).u32(g.OH)
    .u32(g.OW).u32(0).u32(0).u32(0)
    .f32(1 / g.H).f32(1 / g.W).f32(1 / g.OH).f32(1 / g.OW)
    .finish();
}

/** Checks the adaptive pooling sizes against the kernels' division range; `op` names errors. */
export function checkAdaptiveGeometry(op: string, g: AdaptivePoolGeometry): void {
  const big = Math.max(g.H * g.W, g.OH * g.OW, (g.OH + 1) * g.H + g.OH, (g.OW + 1) * g.W + g.OW, (g.H + 1) * g.OH + g.H, (g.W + 1) * g.OW + g.W);
  if (big >= MAX_PLANE_INDEX) throw new OpArgumentError(`${op}: input ${g.H}x${g.W} / output ${g.OH}x${g.OW} planes are too large for the kernels (index >= 2^23)`);
}

export function adaptiveAvgPool2dForward(x: Tensor, g: AdaptivePoolGeometry): Tensor {
  const y = emptyTensor([g.N, g.C, g.OH, g.OW], 'float32', 'adaptiveAvgPool2d');
  launch(adaptiveForwardKernel, {
    buffers: [x.buffer, y.buffer],
    params: packAdaptiveParams(g),
    ...planeLaunch(g.OH * g.OW, g.N * g.C),
    label: 'adaptiveAvgPool2d forward',
  });
  return y;
}

export function adaptiveAvgPool2dBackward(gy: Tensor, g: AdaptivePoolGeometry): Tensor {
  const dx = emptyTensor([g.N, g.C, g.H, g.W], 'float32', 'adaptiveAvgPool2d dx');
  launch(adaptiveBackwardKernel, {
    buffers: [gy.buffer, dx.buffer],
    params: packAdaptiveParams(g),
    ...planeLaunch(g.H * g.W, g.N * g.C),
    label: 'adaptiveAvgPool2d backward',
  });
  return dx;
}

/** Global average pooling: the units a kernel step reads (vec4s when H*W % 4 == 0). */
function globalUnits(g: AdaptivePoolGeometry): { vec4: boolean; S: number; params: Uint8Array } {
  const area = g.H * g.W;
  const vec4 = area % 4 === 0;
  const S = vec4 ? area / 4 : area;
  return { vec4, S, params: new Uniforms().u32(g.N * g.C).u32(S).f32(1 / area).u32(0).finish() };
}

/** Lanes per workgroup for `invocations` one-plane (or four-plane) lanes: at least 8 workgroups, 64 lanes at most. */
function perLaneWorkgroup(invocations: number): number {
  return Math.min(64, 2 ** Math.floor(Math.log2(Math.max(invocations / 8, 1))));
}

/**
 * adaptiveAvgPool2d to (1, 1) of a plain x: on CPU adapters one plane per lane (enough planes to
 * keep 8 workgroups busy; four planes per lane, read as vec4s, where planes are not whole vec4s
 * and their number divides by 4), elsewhere one workgroup per plane with a tree sum. `layout`
 * forces one.
 */
export function globalAvgPool2dForward(x: Tensor, g: AdaptivePoolGeometry, layout?: 'perLane' | 'perLaneQuad' | 'tree'): Tensor {
  const y = emptyTensor([g.N, g.C, 1, 1], 'float32', 'adaptiveAvgPool2d');
  const u = globalUnits(g);
  const planes = g.N * g.C;
  const perLane = layout ? layout !== 'tree' : isCpuAdapter(gpu().info) && planes >= 8 * 16;
  if (layout === 'perLaneQuad' && (u.vec4 || planes % 4 !== 0)) throw new Error(`wgslgrad internal: the four-plane global pooling takes planes that are not whole vec4s, a multiple of 4 of them (${JSON.stringify(g)})`);
  if (perLane && layout !== 'perLane' && !u.vec4 && planes % 4 === 0) {
    const lanes = perLaneWorkgroup(planes / 4);
    launch(globalForwardKernels.perLaneQuad, {
      buffers: [x.buffer, y.buffer],
      params: u.params,
      workgroups: grid1d(planes / 4, lanes),
      constants: { WG: lanes, PLANE: g.H * g.W },
      label: 'adaptiveAvgPool2d global forward',
    });
    return y;
  }
  if (perLane) {
    const lanes = perLaneWorkgroup(planes);
    launch(u.vec4 ? globalForwardKernels.perLaneVec4 : globalForwardKernels.perLane, {
      buffers: [x.buffer, y.buffer],
      params: u.params,
      workgroups: grid1d(planes, lanes),
      constants: { WG: lanes },
      label: 'adaptiveAvgPool2d global forward',
    });
    return y;
  }
  const wg = u.S >= 256 ? 64 : 16;
  launch(u.vec4 ? globalForwardKernels.vec4 : globalForwardKernels.scalar, {
    buffers: [x.buffer, y.buffer],
    params: u.params,
    workgroups: grid1d(g.N * g.C, 1),
    constants: { WG: wg },
    label: 'adaptiveAvgPool2d global forward',
  });
  return y;
}

/** The largest divisor of n up to `limit`. */
function divisorUpTo(n: number, limit: number): number {
  for (let d = Math.min(n, limit); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

/**
 * dx of global average pooling from a plain gy (N, C, 1, 1). Planes that are not whole vec4s
 * (7x7): on CPU adapters four planes per invocation group (`quad`: one vec4 of gy loaded, the
 * planes' dx stored as vec4s) where their number divides by 4, else vec4s that straddle two
 * planes (`split`). `layout` forces one.
 */
export function globalAvgPool2dBackward(gy: Tensor, g: AdaptivePoolGeometry, layout?: 'quad' | 'split' | 'plain'): Tensor {
  const dx = emptyTensor([g.N, g.C, g.H, g.W], 'float32', 'adaptiveAvgPool2d dx');
  const u = globalUnits(g);
  const area = g.H * g.W;
  const planes = g.N * g.C;
  const quad = !u.vec4 && planes % 4 === 0;
  const split = !u.vec4 && area >= 4 && (planes * area) % 4 === 0;
  if (layout === 'quad' && !quad) throw new Error(`wgslgrad internal: the four-plane global pooling backward does not take ${JSON.stringify(g)}`);
  if (layout === 'split' && !split) throw new Error(`wgslgrad internal: the straddling global pooling backward does not take ${JSON.stringify(g)}`);
  if (layout ? layout === 'quad' : quad && isCpuAdapter(gpu().info)) {
    const units = divisorUpTo(area, 16);   // vec4s stored per invocation (it loads gy once)
    launch(globalBackwardKernels.quad, {
      buffers: [gy.buffer, dx.buffer],
      params: u.params,
      workgroups: grid1d((planes / 4) * (area / units), WG),
      constants: { WG, UNITS: units, PER_PLANE: area / units, PLANE: area },
      label: 'adaptiveAvgPool2d global backward',
    });
    return dx;
  }
  if (layout ? layout === 'split' : split) {
    // Planes that are not whole vec4s (7x7), written as vec4s that may straddle two planes.
    launch(globalBackwardKernels.splitVec4, {
      buffers: [gy.buffer, dx.buffer],
      params: u.params,
      workgroups: grid1d((planes * area) / 4, WG),
      constants: { WG, PLANE: area },
      label: 'adaptiveAvgPool2d global backward',
    });
    return dx;
  }
  const units = u.S % 4 === 0 ? 4 : 1;   // units written per invocation (it loads gy once)
  launch(u.vec4 ? globalBackwardKernels.vec4 : globalBackwardKernels.scalar, {
    buffers: [gy.buffer, dx.buffer],
    params: u.params,
    workgroups: grid1d(g.N * g.C * (u.S / units), WG),
    constants: { WG, UNITS: units, PER_PLANE: u.S / units },
    label: 'adaptiveAvgPool2d global backward',
  });
  return dx;
}
