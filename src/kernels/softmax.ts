// SPDX-License-Identifier: MIT
// Launchers for softmax_forward.wgsl and softmax_backward.wgsl (no autograd here: see
// src/nn/functional/activation.ts). A plain tensor is viewed as (outer, D, inner) lines along
// the softmax dimension; the launcher picks one invocation per line (many lines) or one
// workgroup per line (few long lines).

import forwardSource from './wgsl/softmax_forward.wgsl';
import backwardSource from './wgsl/softmax_backward.wgsl';
import { defineKernel, launch, grid1d } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor } from '../tensor/tensor.js';
import { numel } from '../tensor/shape.js';

const forwardKernels = {
  line: defineKernel('softmax_forward', forwardSource, ['read', 'read_write', 'uniform'], 'main'),
  wide: defineKernel('softmax_forward', forwardSource, ['read', 'read_write', 'uniform'], 'main_wide'),
  lines4: defineKernel('softmax_forward', forwardSource, ['read', 'read_write', 'uniform'], 'main_lines4'),
  rows4: defineKernel('softmax_forward', forwardSource, ['read', 'read_write', 'uniform'], 'main_rows4'),
};
const backwardKernels = {
  line: defineKernel('softmax_backward', backwardSource, ['read', 'read', 'read_write', 'uniform'], 'main'),
  wide: defineKernel('softmax_backward', backwardSource, ['read', 'read', 'read_write', 'uniform'], 'main_wide'),
  lines4: defineKernel('softmax_backward', backwardSource, ['read', 'read', 'read_write', 'uniform'], 'main_lines4'),
  rows4: defineKernel('softmax_backward', backwardSource, ['read', 'read', 'read_write', 'uniform'], 'main_rows4'),
};

const LINE_WG = 64;
const WIDE_WG = 64;

/** (outer, D, inner) of `shape` around dimension `dim` (already normalised). */
export interface SoftmaxGeometry {
  outer: number;
  D: number;
  inner: number;
  lines: number;
  /** One workgroup per line: few lines, each long enough to share. */
  wide: boolean;
}

export function softmaxGeometry(shape: readonly number[], dim: number): SoftmaxGeometry {
  const outer = numel(shape.slice(0, dim));
  const D = shape[dim];
  const inner = numel(shape.slice(dim + 1));
  const lines = outer * inner;
  return { outer, D, inner, lines, wide: lines < 512 && D >= 256 };
}

function packParams(g: SoftmaxGeometry): Uint8Array {
  return new Uniforms().u32(g.lines).u32(g.D).u32(g.inner).u32(0).finish();
}

/**
 * The vec4 layout of a geometry's lines (softmax_forward.wgsl's main_lines4 / main_rows4):
 * 'lines4' where inner % 4 == 0, 'rows4' where the lines are contiguous rows of whole vec4s, else
 * null (one float per load). Few long lines take main_wide instead.
 */
function softmaxVec4(g: SoftmaxGeometry): 'lines4' | 'rows4' | null {
  if (g.wide) return null;
  if (g.inner % 4 === 0) return 'lines4';
  return g.inner === 1 && g.D % 4 === 0 ? 'rows4' : null;
}

type Entry = 'line' | 'wide' | 'lines4' | 'rows4';

/** Which entry point runs the geometry (the same one in both kernels), its grid and workgroup size. */
function dispatch(g: SoftmaxGeometry): { entry: Entry; workgroups: [number, number]; WG: number } {
  if (g.wide) return { entry: 'wide', workgroups: grid1d(g.lines, 1), WG: WIDE_WG };
  const vec4 = softmaxVec4(g);
  return { entry: vec4 ?? 'line', workgroups: grid1d(vec4 === 'lines4' ? g.lines / 4 : g.lines, LINE_WG), WG: LINE_WG };
}

/** softmax (or log-softmax when `log`) of a plain x along the geometry's dimension. */
export function softmaxForward(x: Tensor, g: SoftmaxGeometry, log: boolean): Tensor {
  const y = emptyTensor(x.shape, 'float32', log ? 'logSoftmax' : 'softmax');
  const d = dispatch(g);
  launch(forwardKernels[d.entry], {
    buffers: [x.buffer, y.buffer],
    params: packParams(g),
    workgroups: d.workgroups,
    constants: { WG: d.WG, LOG: log ? 1 : 0 },
    label: log ? 'logSoftmax forward' : 'softmax forward',
  });
  return y;
}

/** dx from a plain gy and the saved (plain) forward output y. */
export function softmaxBackward(gy: Tensor, y: Tensor, g: SoftmaxGeometry, log: boolean): Tensor {
  const dx = emptyTensor(y.shape, 'float32', log ? 'logSoftmax dx' : 'softmax dx');
  const d = dispatch(g);
  launch(backwardKernels[d.entry], {
    buffers: [gy.buffer, y.buffer, dx.buffer],
    params: packParams(g),
    workgroups: d.workgroups,
    constants: { WG: d.WG, LOG: log ? 1 : 0 },
    label: log ? 'logSoftmax backward' : 'softmax backward',
  });
  return dx;
}
