// SPDX-License-Identifier: MIT
// Launcher for conv2d_implicit_gemm.wgsl: the three convolution passes as one workgroup-tiled
// GEMM whose operands are gathered on the fly (the classic GPU structure, as in cuDNN's
// implicit-GEMM algorithms), and for its 128 x 128-tile form conv2d_implicit_gemm_wide.wgsl
// (8 x 8 outputs per invocation). On a GPU it is the rules' first choice for every pass (for
// input gradients after the stride-2 row kernel, the subsampled form of 1x1 stride-2 layers and
// the tiled GEMM of thin 1x1 layers); on a CPU adapter it is not offered (setConvRulesFor('gpu')
// lets tests run it there). Entries in conv2d.ts's kernel tables ('implicit-gemm',
// 'implicit-gemm-prefetch', 'implicit-gemm-wide', 'implicit-gemm-subsampled').

import implicitGemmSource from './wgsl/conv2d_implicit_gemm.wgsl';
import implicitGemmWideSource from './wgsl/conv2d_implicit_gemm_wide.wgsl';
import { defineKernel, launch, grid1d } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor } from '../tensor/tensor.js';
import { CONV2D_PARAM_FIELDS, withEpilogue, type Conv2dGeometry, type ConvEpilogue } from './conv2d.js';

const BINDINGS = ['read', 'read', 'read_write', 'uniform', 'read', 'read'] as const;
const kernel = defineKernel('conv2d_implicit_gemm', implicitGemmSource, BINDINGS);
const wideKernel = defineKernel('conv2d_implicit_gemm_wide', implicitGemmWideSource, BINDINGS);
const sumKernel = defineKernel('conv2d_implicit_gemm', implicitGemmSource, BINDINGS, 'sum_splits');

const PASS = { forward: 0, input: 1, weight: 2 } as const;
type GemmPass = keyof typeof PASS;

const TILE = 64; // rows and columns of the output per workgroup (TILE in the shader)
const WIDE_TILE = 128; // the same in conv2d_implicit_gemm_wide.wgsl

/** Which form of the kernel: `prefetch` gathers the next slab before computing the current one (the shader's PREFETCH); `wide` takes 128 x 128 tiles. */
export interface ImplicitGemmVariant {
  prefetch?: boolean;
  wide?: boolean;
}
const SLAB = 16; // reduction steps per staging step (SLAB in the shader)
/** Workgroups worth launching at least: a few per multiprocessor of a large GPU (132 on an H100). */
const TARGET_WORKGROUPS = 512;
/** The shortest stretch of the reduction worth a workgroup of its own (16 slabs). */
const MIN_SPAN = 16 * SLAB;
/** Partial outputs of a split reduction take at most this much memory. */
const MAX_SPLIT_BYTES = 64 * 1024 * 1024;

/** The GEMM a pass computes: out[rows, cols] = A[rows, t] · B[t, cols], t < reduction. */
function gemmShape(pass: GemmPass, g: Conv2dGeometry): { rows: number; cols: number; reduction: number } {
  if (pass === 'forward') return { rows: g.K, cols: g.N * g.PQ, reduction: g.CRS_g };
  if (pass === 'input') return { rows: g.C, cols: g.N * g.H * g.W, reduction: g.K * g.R * g.S };
  return { rows: g.K, cols: g.CRS_g, reduction: g.N * g.PQ };
}

/** Ungrouped layers whose tile grid fits one dispatch. */
export function implicitGemmApplies(g: Conv2dGeometry): boolean {
  if (g.G !== 1) return false;
  return (['forward', 'input', 'weight'] as const).every((pass) => {
    const { rows, cols } = gemmShape(pass, g);
    return Math.ceil(cols / TILE) <= 65535 && Math.ceil(rows / TILE) <= 65535;
  });
}

/**
 * How many stretches to cut the reduction into: enough workgroups to fill a large GPU, each
 * stretch at least MIN_SPAN steps, and the partial outputs within MAX_SPLIT_BYTES.
 */
export function implicitGemmSplit(pass: GemmPass, g: Conv2dGeometry, tile = TILE): { splits: number; span: number } {
  const { rows, cols, reduction } = gemmShape(pass, g);
  const tiles = Math.ceil(rows / tile) * Math.ceil(cols / tile);
  const byWork = Math.floor(TARGET_WORKGROUPS / tiles);
  const byLength = Math.floor(reduction / MIN_SPAN);
  const byMemory = Math.floor(MAX_SPLIT_BYTES / (4 * rows * cols));
  const wanted = Math.max(1, Math.min(byWork, byLength, byMemory, 65535));
  const span = Math.ceil(reduction / wanted / SLAB) * SLAB;
  return { splits: Math.ceil(reduction / span), span };
}

const NO_EPILOGUE: ConvEpilogue = { relu: false, residual: null };

function run(pass: GemmPass, a: Tensor, b: Tensor, bias: Tensor | null, g: Conv2dGeometry, outShape: number[], label: string, epilogue: ConvEpilogue, variant: ImplicitGemmVariant, into: Tensor | null = null): Tensor {
  const { rows, cols } = gemmShape(pass, g);
  const tile = variant.wide ? WIDE_TILE : TILE;
  const { splits, span } = implicitGemmSplit(pass, g, tile);
  // The epilogue (residual add, ReLU; for an input gradient the residual only) is applied as the
  // output is stored: by the GEMM itself, or with a split reduction (each workgroup z writing a
  // whole partial output) by the pass that sums the partials. A residual that is a strided view
  // is added in a pass of its own.
  const residual = epilogue.residual;
  const fused = !residual || (residual.isContiguous && residual.offset === 0);
  const params = new Uniforms();
  for (const f of CONV2D_PARAM_FIELDS) params.u32(g[f]);
  params.u32(span).u32(bias ? 1 : 0).u32(fused && epilogue.relu ? 1 : 0).u32(fused && residual ? 1 : 0);
  const packed = params.finish();
  const y = into ?? emptyTensor(outShape, 'float32', label);
  const partials = splits > 1 ? emptyTensor([splits, ...outShape], 'float32', `${label} partial sums`) : y;
  const extra = ((fused && residual) || a).buffer;
  launch(variant.wide ? wideKernel : kernel, {
    buffers: [a.buffer, b.buffer, partials.buffer, (bias ?? a).buffer, extra],
    params: packed,
    workgroups: [Math.ceil(cols / tile), Math.ceil(rows / tile), splits],
    constants: { PASS: PASS[pass], KR: g.R, KS: g.S, PREFETCH: variant.prefetch ? 1 : 0 },
    label,
  });
  if (splits > 1) {
    launch(sumKernel, {
      buffers: [partials.buffer, b.buffer, y.buffer, a.buffer, extra],
      params: packed,
      workgroups: grid1d(rows * cols, 256),
      constants: { PASS: PASS[pass], KR: g.R, KS: g.S },
      label,
    });
    partials.dispose();
  }
  return fused ? y : withEpilogue(y, epilogue);
}

/** y = epilogue(conv2d(x, w) + b). x, w, b plain (contiguous, offset 0). */
export function conv2dForwardImplicitGemm(x: Tensor, w: Tensor, b: Tensor | null, g: Conv2dGeometry, epilogue = NO_EPILOGUE, variant: ImplicitGemmVariant = {}): Tensor {
  return run('forward', w, x, b, g, [g.N, g.K, g.P, g.Q], 'conv2d_forward', epilogue, variant);
}

/**
 * dx from gy (N, K, P, Q) and w, plus `plus` (a tensor of dx's shape) where given: the gradient
 * that already reached the layer's input (a residual block's shortcut), added as dx is stored, by
 * the forward's residual epilogue, instead of in an add pass of its own.
 */
export function conv2dBackwardInputImplicitGemm(gy: Tensor, w: Tensor, g: Conv2dGeometry, variant: ImplicitGemmVariant = {}, plus: Tensor | null = null): Tensor {
  const epilogue = plus ? { relu: false, residual: plus } : NO_EPILOGUE;
  return run('input', w, gy, null, g, [g.N, g.C, g.H, g.W], 'conv2d_backward_input', epilogue, variant);
}

/** dw from gy (N, K, P, Q) and x; stored in `into` where given. */
export function conv2dBackwardWeightImplicitGemm(gy: Tensor, x: Tensor, g: Conv2dGeometry, variant: ImplicitGemmVariant = {}, into: Tensor | null = null): Tensor {
  return run('weight', gy, x, null, g, [g.K, g.C_g, g.R, g.S], 'conv2d_backward_weight', NO_EPILOGUE, variant, into);
}
