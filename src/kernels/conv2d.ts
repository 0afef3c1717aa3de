// SPDX-License-Identifier: MIT
// Launchers for the conv2d kernels, and the one geometry computation they all share.
//
// Legend (used in every conv2d file): N batch, C input channels, H x W input size, K output
// channels, R x S kernel size, P x Q output size, G groups, C_g = C / G, K_g = K / G.
//   x: (N, C, H, W)   w: (K, C_g, R, S)   b: (K)   y: (N, K, P, Q)     all NCHW float32.
//
// Two implementations of each pass, chosen in one place (`setConvImplementation`):
//   'direct'  conv2d_forward / conv2d_backward_input / conv2d_backward_weight .wgsl: one output
//             element per invocation, the readable oracle.
//   'fast'    implicit GEMMs with register blocking (conv2d_*_fast.wgsl) and, where the adapter
//             has subgroups, the variants that share weight loads across lanes (*_subgroup.wgsl);
//             for kernels 3 taps wide (the 3x3 layers) the row kernels
//             (conv2d_*_rows_subgroup.wgsl), which also reuse each x load across the 3 taps,
//             and for the 3x3 stride-2 input gradient conv2d_backward_input_rows_s2_subgroup.wgsl;
//             where the adapter's GEMM is the subgroup kernel, 1x1 layers as one GEMM per image
//             and the channel-poor ImageNet stem as im2col + GEMM (its input gradient as GEMM +
//             col2im; see those sections below); and, for GPUs, the workgroup-tiled implicit
//             GEMM of all three passes (conv2d_implicit_gemm.wgsl, launched by conv2d-gemm.ts).
// Within 'fast', each pass lists its kernels in the order the rules prefer them (FORWARD_KERNELS,
// INPUT_KERNELS, WEIGHT_KERNELS at the end of this file): the first that applies runs, unless
// wg.autotune() timed them on this device (src/kernels/autotune.ts). The order was measured on
// lavapipe; on a GPU the kernels marked gpuFirst (the workgroup-tiled one, prefetching) come first.
// Launchers take plain (contiguous, offset 0) tensors and record no autograd: see
// src/nn/functional/conv.ts for the differentiable op.

import forwardSource from './wgsl/conv2d_forward.wgsl';
import backwardInputSource from './wgsl/conv2d_backward_input.wgsl';
import backwardWeightSource from './wgsl/conv2d_backward_weight.wgsl';
import packWeightsSource from './wgsl/conv2d_pack_weights.wgsl';
import forwardFastSource from './wgsl/conv2d_forward_fast.wgsl';
import forwardFastSubgroupSource from './wgsl/conv2d_forward_fast_subgroup.wgsl';
import backwardInputFastSource from './wgsl/conv2d_backward_input_fast.wgsl';
import backwardInputFastSubgroupSource from './wgsl/conv2d_backward_input_fast_subgroup.wgsl';
import backwardWeightFastSource from './wgsl/conv2d_backward_weight_fast.wgsl';
import backwardWeightFastSubgroupSource from './wgsl/conv2d_backward_weight_fast_subgroup.wgsl';
import forwardRowsSubgroupSource from './wgsl/conv2d_forward_rows_subgroup.wgsl';
import packWeightsRowsSource from './wgsl/conv2d_pack_weights_rows.wgsl';
import backwardWeightRowsSubgroupSource from './wgsl/conv2d_backward_weight_rows_subgroup.wgsl';
import backwardInputRowsS2SubgroupSource from './wgsl/conv2d_backward_input_rows_s2_subgroup.wgsl';
import { defineKernel, launch, grid1d, isRecordOnly, unusedWritableBinding } from './launch.js';
import { offerTunable, tunedChoice, isCollectingTunables } from './autotune.js';
import { Uniforms } from './uniforms.js';
import { reduce } from './reduce.js';
import { gemm, chooseGemmVariant, packOperand, type MatrixView, type GemmEpilogue, type GemmVariant } from './matmul.js';
import { binary, unary } from './elementwise.js';
import im2colSource from './wgsl/im2col.wgsl';
import col2imSource from './wgsl/col2im.wgsl';
import padRowsSource from './wgsl/pad_rows.wgsl';
import { copyView } from './copy.js';
import { shortcutAForward, shortcutABackward } from './shortcut.js';
import { Tensor, emptyTensor } from '../tensor/tensor.js';
import { gpu, isCpuAdapter } from '../tensor/device.js';
import {
  conv2dForwardImplicitGemm, conv2dBackwardInputImplicitGemm, conv2dBackwardWeightImplicitGemm, implicitGemmApplies, type ImplicitGemmVariant,
} from './conv2d-gemm.js';
import { randn } from '../ops/creation.js';
import { isGradEnabled, setGradEnabled } from '../autograd/grad-mode.js';
import { OpArgumentError, fmtShape } from '../tensor/errors.js';

// ---- geometry ------------------------------------------------------------------------------

export type Pair = number | readonly [number, number];

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

/** Everything the kernels need to know about one convolution; fields in WGSL struct order. */
export interface Conv2dGeometry {
  N: number; C: number; H: number; W: number;
  K: number; R: number; S: number; G: number;
  P: number; Q: number; stride_h: number; stride_w: number;
  pad_h: number; pad_w: number; dil_h: number; dil_w: number;
  /** Channels per group, C / G and K / G. */
  C_g: number; K_g: number;
  /** Length of one output channel's filter, C_g * R * S (the GEMM reduction of the forward). */
  CRS_g: number;
  /** Output pixels per image, P * Q. */
  PQ: number;
}

/** The field order of `struct Conv2dParams` in every conv2d .wgsl file. */
export const CONV2D_PARAM_FIELDS = [
  'N', 'C', 'H', 'W', 'K', 'R', 'S', 'G', 'P', 'Q', 'stride_h', 'stride_w',
  'pad_h', 'pad_w', 'dil_h', 'dil_w', 'C_g', 'K_g', 'CRS_g', 'PQ',
] as const satisfies readonly (keyof Conv2dGeometry)[];

function pair(op: string, name: string, v: Pair | undefined, dflt: number, min: number): [number, number] {
  const p: readonly number[] = v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) && typeof v !== 'number' && v !== undefined) {
    throw new OpArgumentError(`${op}: ${name} must be a number or [h, w], got ${String(v)}`);
  }
  if (p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new OpArgumentError(`${op}: ${name} must be an integer >= ${min} or a pair [h, w] of them, got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}

/**
 * Validate a convolution's shapes and options and compute its geometry (output size, per-group
 * sizes). Throws OpArgumentError naming conv2d, the shapes and what was expected.
 */
export function conv2dGeometry(xShape: readonly number[], wShape: readonly number[], opts: Conv2dOptions = {}, op = 'conv2d'): Conv2dGeometry {
  const shapes = `x ${fmtShape(xShape)}, w ${fmtShape(wShape)}`;
  if (xShape.length !== 4) throw new OpArgumentError(`${op}: x must be 4-D (N, C, H, W), got ${shapes}`);
  if (wShape.length !== 4) throw new OpArgumentError(`${op}: w must be 4-D (K, C/groups, R, S), got ${shapes}`);
  const [stride_h, stride_w] = pair(op, 'stride', opts.stride, 1, 1);
  const [pad_h, pad_w] = pair(op, 'padding', opts.padding, 0, 0);
  const [dil_h, dil_w] = pair(op, 'dilation', opts.dilation, 1, 1);
  const G = opts.groups ?? 1;
  if (!Number.isInteger(G) || G < 1) throw new OpArgumentError(`${op}: groups must be a positive integer, got ${G}`);
  const [N, C, H, W] = xShape;
  const [K, C_g, R, S] = wShape;
  if (C % G !== 0) throw new OpArgumentError(`${op}: groups=${G} does not divide the ${C} input channels (${shapes})`);
  if (K % G !== 0) throw new OpArgumentError(`${op}: groups=${G} does not divide the ${K} output channels (${shapes})`);
  if (C_g * G !== C) {
    throw new OpArgumentError(`${op}: channel mismatch: x has C=${C} channels but w expects C/groups * groups = ${C_g} * ${G} = ${C_g * G} (${shapes})`);
  }
  if (R < 1 || S < 1) throw new OpArgumentError(`${op}: empty kernel (${shapes})`);
  const effR = (R - 1) * dil_h + 1;
  const effS = (S - 1) * dil_w + 1;
  if (effR > H + 2 * pad_h || effS > W + 2 * pad_w) {
    throw new OpArgumentError(
      `${op}: kernel ${R}x${S} (dilated ${effR}x${effS}) is larger than the padded input ${H + 2 * pad_h}x${W + 2 * pad_w} (${shapes}, padding [${pad_h}, ${pad_w}])`,
    );
  }
  const P = Math.floor((H + 2 * pad_h - effR) / stride_h) + 1;
  const Q = Math.floor((W + 2 * pad_w - effS) / stride_w) + 1;
  return {
    N, C, H, W, K, R, S, G, P, Q, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w,
    C_g, K_g: K / G, CRS_g: C_g * R * S, PQ: P * Q,
  };
}

/** Pack `struct Conv2dParams` (all u32, CONV2D_PARAM_FIELDS order). */
export function packConv2dParams(g: Conv2dGeometry): Uint8Array {
  const u = new Uniforms();
  for (const f of CONV2D_PARAM_FIELDS) u.u32(g[f]);
  return u.finish();
}

export function conv2dOutputShape(g: Conv2dGeometry): [number, number, number, number] {
  return [g.N, g.K, g.P, g.Q];
}

// ---- implementation choice -----------------------------------------------------------------

/**
 * 'fast' (default): implicit-GEMM kernels, with subgroup sharing where the adapter allows it.
 * 'fast-no-subgroups': the same, restricted to the fallback kernels an adapter without
 *   subgroups runs (so they can be tested and timed anywhere).
 * 'direct': one output element per invocation, the readable oracle.
 */
export type ConvImplementation = 'direct' | 'fast' | 'fast-no-subgroups';
const IMPLEMENTATIONS: readonly ConvImplementation[] = ['direct', 'fast', 'fast-no-subgroups'];
let implementation: ConvImplementation = 'fast';

/** Choose the conv2d kernels for all later calls (forward and both gradients). */
export function setConvImplementation(impl: ConvImplementation): void {
  if (!IMPLEMENTATIONS.includes(impl)) {
    throw new OpArgumentError(`setConvImplementation: expected one of ${IMPLEMENTATIONS.join(', ')}, got ${String(impl)}`);
  }
  implementation = impl;
}

export function getConvImplementation(): ConvImplementation {
  return implementation;
}

// ---- direct kernels (one output element per invocation) ------------------------------------

const forwardKernel = defineKernel('conv2d_forward', forwardSource, ['read', 'read', 'read', 'read_write', 'uniform']);
const backwardInputKernel = defineKernel('conv2d_backward_input', backwardInputSource, ['read', 'read', 'read_write', 'uniform']);
const backwardWeightKernel = defineKernel('conv2d_backward_weight', backwardWeightSource, ['read', 'read', 'read_write', 'uniform']);

const WG = 64;

function checkGrid(g: Conv2dGeometry, y: number, z: number): void {
  if (y > 65535 || z > 65535) {
    throw new OpArgumentError(`conv2d: too many channels or images for one dispatch (N=${g.N}, C=${g.C}, K=${g.K}; at most 65535)`);
  }
}

/** y = conv2d(x, w) + b with the direct kernel. x, w, b plain (contiguous, offset 0). */
export function conv2dForwardDirect(x: Tensor, w: Tensor, b: Tensor | null, g: Conv2dGeometry): Tensor {
  checkGrid(g, g.K, g.N);
  const y = emptyTensor(conv2dOutputShape(g), 'float32', 'conv2d');
  launch(forwardKernel, {
    buffers: [x.buffer, w.buffer, (b ?? w).buffer, y.buffer],
    params: packConv2dParams(g),
    workgroups: [Math.ceil(g.PQ / WG), g.K, g.N],
    constants: { WG, HAS_BIAS: b ? 1 : 0 },
    label: 'conv2d_forward',
  });
  return y;
}

/** dx = conv2d's gradient w.r.t. x, from gy (N, K, P, Q) and w, with the direct kernel. */
export function conv2dBackwardInputDirect(gy: Tensor, w: Tensor, g: Conv2dGeometry): Tensor {
  checkGrid(g, g.C, g.N);
  const dx = emptyTensor([g.N, g.C, g.H, g.W], 'float32', 'conv2d_backward_input');
  launch(backwardInputKernel, {
    buffers: [gy.buffer, w.buffer, dx.buffer],
    params: packConv2dParams(g),
    workgroups: [Math.ceil((g.H * g.W) / WG), g.C, g.N],
    constants: { WG },
    label: 'conv2d_backward_input',
  });
  return dx;
}

/** dw = conv2d's gradient w.r.t. w, from gy (N, K, P, Q) and x, with the direct kernel. */
export function conv2dBackwardWeightDirect(gy: Tensor, x: Tensor, g: Conv2dGeometry, into: Tensor | null = null): Tensor {
  checkGrid(g, g.K, 1);
  const dw = into ?? emptyTensor([g.K, g.C_g, g.R, g.S], 'float32', 'conv2d_backward_weight');
  launch(backwardWeightKernel, {
    buffers: [gy.buffer, x.buffer, dw.buffer],
    params: packConv2dParams(g),
    workgroups: [Math.ceil(g.CRS_g / WG), g.K],
    constants: { WG },
    label: 'conv2d_backward_weight',
  });
  return dw;
}

// ---- fast kernels (implicit GEMM, 16 channels x 2 pixels per invocation) -------------------

const packKernel = defineKernel('conv2d_pack_weights', packWeightsSource, ['read', 'read_write', 'uniform']);
const FAST = {
  forward: defineKernel('conv2d_forward_fast', forwardFastSource, ['read', 'read', 'read', 'read_write', 'uniform']),
  forwardSubgroup: defineKernel('conv2d_forward_fast_subgroup', forwardFastSubgroupSource, ['read', 'read', 'read', 'read_write', 'uniform']),
  input: defineKernel('conv2d_backward_input_fast', backwardInputFastSource, ['read', 'read', 'read_write', 'uniform']),
  inputSubgroup: defineKernel('conv2d_backward_input_fast_subgroup', backwardInputFastSubgroupSource, ['read', 'read', 'read_write', 'uniform']),
  weight: defineKernel('conv2d_backward_weight_fast', backwardWeightFastSource, ['read', 'read', 'read_write', 'uniform']),
  weightSubgroup: defineKernel('conv2d_backward_weight_fast_subgroup', backwardWeightFastSubgroupSource, ['read', 'read', 'read_write', 'uniform', 'read']),
  // The row kernels bind x a second time as vec4s (after the uniform) for aligned row loads.
  forwardRowsSubgroup: defineKernel('conv2d_forward_rows_subgroup', forwardRowsSubgroupSource, ['read', 'read', 'read', 'read_write', 'uniform', 'read', 'read', 'read_write', 'read']),
  weightRowsSubgroup: defineKernel('conv2d_backward_weight_rows_subgroup', backwardWeightRowsSubgroupSource, ['read', 'read', 'read_write', 'uniform', 'read']),
  // Binds gy a second time as vec4s (after the uniform); `main` stores vec4s, `main_scalar` floats.
  inputRowsS2Subgroup: defineKernel('conv2d_backward_input_rows_s2_subgroup', backwardInputRowsS2SubgroupSource, ['read', 'read', 'read_write', 'uniform', 'read'], 'main'),
  inputRowsS2SubgroupScalar: defineKernel('conv2d_backward_input_rows_s2_subgroup', backwardInputRowsS2SubgroupSource, ['read', 'read', 'read_write', 'uniform', 'read'], 'main_scalar'),
};
const padRowsKernel = defineKernel('pad_rows', padRowsSource, ['read', 'read_write', 'uniform']);
const packRowsKernel = defineKernel('conv2d_pack_weights_rows', packWeightsRowsSource, ['read', 'read_write', 'uniform']);

/** Channels per invocation in the fast kernels. With a single channel per group (depthwise) the
 * fast kernels would waste 15/16 of their work, and the direct kernels are as fast. */
const BLOCK = 16;
const MIN_FAST_ROWS = 2;

/**
 * The subgroup kernels broadcast from lanes 0..7, so they need subgroups of at least 8 lanes
 * (lavapipe: 8; most GPUs: 32 or 64; checked on lavapipe and on an NVIDIA H100 with 32).
 */
function useSubgroups(): boolean {
  const ctx = gpu();
  return implementation === 'fast' && ctx.hasSubgroups && ctx.info.subgroupSize >= 8;
}

/**
 * Invocations per workgroup of the fast kernels. On llvmpipe a workgroup of 8 is one SIMD
 * row and measured fastest; real GPUs want at least a full subgroup.
 */
function fastWorkgroupSize(): number {
  return Math.min(64, Math.max(8, gpu().info.subgroupSize));
}

/**
 * Weights in the layout of conv2d_pack_weights.wgsl: rows = K (or C when transposed), the
 * reduction t = (r, s, col) in quads, each tap padded to whole quads when quadsPerTap.
 */
function packWeightsNow(w: Tensor, g: Conv2dGeometry, transposed: boolean, quadsPerTap: boolean): Tensor {
  const rows = transposed ? g.C_g : g.K_g;
  const cols = transposed ? g.K_g : g.C_g;
  const colsPerTap = quadsPerTap ? Math.ceil(cols / 4) * 4 : cols;
  const count = g.G * Math.ceil(rows / BLOCK) * Math.ceil((g.R * g.S * colsPerTap) / 4) * BLOCK * 4;
  const wp = emptyTensor([count], 'float32', 'conv2d_pack_weights');
  launch(packKernel, {
    buffers: [w.buffer, wp.buffer],
    params: packConv2dParams(g),
    workgroups: grid1d(count, 64),
    constants: {
      WG: 64, TRANSPOSED: transposed ? 1 : 0, QUADS_PER_TAP: quadsPerTap ? 1 : 0,
      T_QUADS: Math.ceil((g.R * g.S * colsPerTap) / 4), ROW_BLOCKS: Math.ceil(rows / BLOCK), COLS_PER_TAP: colsPerTap, TAPS: g.R * g.S,
    },
    label: 'conv2d_pack_weights',
  });
  return wp;
}

/**
 * Packed weights for one launch: `release()` after the dispatch is recorded. In training (a
 * forward with gradients enabled, and every backward pass: each step changes the weights) they
 * are packed for each call and released at once. A forward under noGrad (inference) keeps the
 * packed copy on the weight's storage and reuses it while the weights are unchanged: every write
 * to a buffer bumps its write version (src/tensor/storage.ts), which invalidates the copy; it is
 * freed with the weights, by the next training pass, or by wg.emptyCache(). Measured on
 * lavapipe: packing was ~20% of a ResNet-18 batch-1 forward.
 */
interface PackedWeights {
  wp: Tensor;
  release(): void;
}

function packed(w: Tensor, key: string, forward: boolean, pack: () => Tensor): PackedWeights {
  const storage = w.storage;
  // wg.warmup's record-only pass dispatches nothing: a pack made there holds garbage.
  if (!forward || isGradEnabled() || isRecordOnly()) {
    storage.dropDerived(key); // a copy kept by an earlier inference pass: stale from now on
    const wp = pack();
    return { wp, release: () => wp.dispose() };
  }
  const hit = storage.derived(key) as Tensor | null;
  if (hit) return { wp: hit, release: () => {} };
  const wp = pack().keep(); // owned by the weights' storage, not by the caller's scope()
  storage.setDerived(key, wp);
  return { wp, release: () => {} };
}

/** The layout-defining part of a geometry, for cache keys. */
function layoutKey(g: Conv2dGeometry): string {
  return `${g.G},${g.K_g},${g.C_g},${g.R},${g.S}`;
}

/** Transposed packs serve the input gradient (a backward pass) and are never kept. */
function packWeights(w: Tensor, g: Conv2dGeometry, transposed: boolean, quadsPerTap: boolean): PackedWeights {
  return packed(w, `pack:${layoutKey(g)}:${quadsPerTap}`, !transposed, () => packWeightsNow(w, g, transposed, quadsPerTap));
}

function packWeightsRows(w: Tensor, g: Conv2dGeometry, transposed: boolean, block: number): PackedWeights {
  return packed(w, `rows${block}:${layoutKey(g)}`, !transposed, () => packWeightsRowsNow(w, g, transposed, block));
}

/**
 * Pipelines specialised to one layer shape (see "Specialisation" in the subgroup .wgsl files):
 * constant loop bounds and divisors let the shader compiler unroll and fold the index arithmetic.
 * 'auto' specialises a pass when it is large (>= 2^24 flops: compiling one pipeline costs
 * ~0.3-0.5 s on lavapipe, so tests and tiny models keep the generic one) and its innermost loop
 * is at most SPECIALIZE_MAX_LOOP long: reduction channels (forward: C_g, input gradient: K_g) or
 * output columns (weight gradient: Q). Measured on lavapipe (CPU time, specialised vs generic):
 * 1.1-1.6x on the CIFAR ResNet-20 layers (16-32 channels). The limit was 32 while ResNet-18's
 * layers ran 0.77-0.95x specialised; since the row kernel takes 16 channels x 8 pixels per lane
 * (rowsShape) they gain too (bench/conv.ts, alternating runs, bench/results/lavapipe-s7-spec-*):
 * limit 32 -> 64: CIFAR 64->64 @8 forward 72-73% -> 78-81% of the FMA ceiling, ResNet-18
 * 64->64 @56 72% -> 85-88%; 64 -> 128: 128->128 @28 65-68% -> 76-79%; 128 -> 256: 256->256 @14
 * 50-54% -> 71-75%. At 512 the 512->512 @7 layers gained as well (55% -> 66-69%) but the stride-2
 * input gradient of 256->512 lost (52% -> 43%), so 256, and 32 for that kernel
 * (SPECIALIZE_MAX_LOOP_ROWS_S2). One pipeline per distinct layer shape
 * (N stays a uniform), cached by launch().
 */
export type ConvSpecialization = 'auto' | 'always' | 'never';
let specializationMode: ConvSpecialization = 'auto';
const SPECIALIZE_MIN_FLOPS = 2 ** 24;
const SPECIALIZE_MAX_LOOP = 256;
/**
 * ... but the stride-2 input gradient's row kernel keeps the old limit: unrolled over 64-256
 * channels it ran 0.6-0.8x (CIFAR 32->64 s2 61-64% -> 48-49%, ResNet-18 128->256 s2 52-58% ->
 * 36-38% of the FMA ceiling).
 */
const SPECIALIZE_MAX_LOOP_ROWS_S2 = 32;

/** Testing and benchmarking hook; returns the previous mode. */
export function setConvSpecialization(mode: ConvSpecialization): ConvSpecialization {
  const old = specializationMode;
  specializationMode = mode;
  return old;
}

function specialization(g: Conv2dGeometry, pass: 'forward' | 'input' | 'weight', maxLoop = SPECIALIZE_MAX_LOOP): Record<string, number> {
  if (specializationMode === 'never') return {};
  if (specializationMode === 'auto') {
    const loop = pass === 'forward' ? g.C_g : pass === 'input' ? g.K_g : g.Q;
    if (2 * g.N * g.K * g.PQ * g.CRS_g < SPECIALIZE_MIN_FLOPS || loop > maxLoop) return {};
  }
  const c: Record<string, number> = { SPECIALIZED: 1 };
  for (const f of CONV2D_PARAM_FIELDS) if (f !== 'N') c[`SPEC_${f}`] = g[f];
  return c;
}

function checkZ(g: Conv2dGeometry, z: number): void {
  if (z > 65535) throw new OpArgumentError(`conv2d: too many channel blocks for one dispatch (C=${g.C}, K=${g.K}, groups=${g.G})`);
}

// ---- row kernels (3-tap rows, x loads reused across the taps) -----------------------------

/**
 * The row kernels serve 3-wide kernels at unit width dilation: conv2d_forward_rows_subgroup.wgsl
 * the forward pass at width stride 1 or 2 and, run on gy with the flipped, transposed kernel, the
 * input gradient at stride 1; conv2d_backward_weight_rows_subgroup.wgsl the weight gradient at
 * width stride 1 or 2 (on gy padded to whole vec4 rows when Q % 4 != 0). `setConvRowKernels(false)` keeps the 2-pixel kernels
 * everywhere (for A/B measurements and tests of both paths).
 */
let rowKernels = true;

/** Testing and benchmarking hook; returns the previous setting. */
export function setConvRowKernels(on: boolean): boolean {
  const old = rowKernels;
  rowKernels = on;
  return old;
}

/** Whether the row kernel runs the convolution g (`stride2`: the forward also takes stride_w 2). */
function rowsApply(g: Conv2dGeometry, stride2 = false): boolean {
  const strideOk = g.stride_w === 1 || (stride2 && g.stride_w === 2);
  return rowKernels && useSubgroups() && g.S === 3 && strideOk && g.dil_w === 1 && g.K_g >= MIN_FAST_ROWS;
}

/** Weights in the layout of conv2d_pack_weights_rows.wgsl (g is the geometry of w's own conv). */
function packWeightsRowsNow(w: Tensor, g: Conv2dGeometry, transposed: boolean, block: number): Tensor {
  const rows = transposed ? g.C_g : g.K_g;
  const cols = transposed ? g.K_g : g.C_g;
  const count = g.G * Math.ceil(rows / block) * cols * g.R * 3 * block + 32;
  const wp = emptyTensor([count], 'float32', 'conv2d_pack_weights_rows');
  launch(packRowsKernel, {
    buffers: [w.buffer, wp.buffer],
    params: packConv2dParams(g),
    workgroups: grid1d(count / 4, 64),
    constants: { WG: 64, TRANSPOSED: transposed ? 1 : 0, BLOCK_K: block, KR: g.R, COLS: cols, ROW_BLOCKS: Math.ceil(rows / block) },
    label: 'conv2d_pack_weights_rows',
  });
  return wp;
}

/** Output channels per lane of the row kernel: 32 when there are that many (fewer loads per
 * multiply-add), else 16. */
function rowBlock(outChannels: number): number {
  return outChannels >= 32 ? 32 : 16;
}

let wideRows = true;

/** Benchmarking hook (the rule below, or 32 channels x 4 pixels wherever there are 32 channels); returns the previous setting. */
export function setConvRowsWide(on: boolean): boolean {
  const old = wideRows;
  wideRows = on;
  return old;
}

/**
 * What a lane of the forward row kernel computes (gl: the geometry it runs, the input gradient's
 * for that pass): 16 output channels x 8 pixels at width stride 1 on rows of 8+ pixels, else 32
 * channels (where there are 32) x 4 pixels. Both take 128 accumulators; at stride 1 the 8-pixel
 * lane loads 10 x values and 12 weight vec4s per (c, r) for 384 multiply-adds, the 4-pixel one 6
 * and 24. On lavapipe (bench/conv.ts --rows-narrow against the rule, two alternating rounds each,
 * by worker CPU time, bench/results/lavapipe-s7-rows-wide-*): CIFAR 64->64 @8 forward and input
 * gradient 59-62% -> 73-75% of the FMA ceiling; ResNet-18 64->64 @56 58-60% -> 67-74%, 128->128
 * @28 57-61% -> 64-66%, 256->256 @14 input gradient 47-48% -> 54%. At stride 2 (4 pixels either
 * way) 32 channels stayed faster (43-48% against 66-76% in a trial). Rows of 5-7 pixels take 8
 * too: one group of 8 computes no more pixels than two of 4, and on 7x7 (ResNet-18 512->512 at
 * batch 8, forward and input gradient, worker CPU time) 8 pixels ran 0.90-0.93x the time of 4 on
 * unpadded rows and 0.82x on rows padded to 8 (alignRows).
 */
interface RowsShape { block: number; pix: number }

function rowsShape(gl: Conv2dGeometry): RowsShape {
  if (gl.stride_w === 1 && gl.Q >= 5 && (wideRows || gl.K_g < 32)) return { block: 16, pix: 8 };
  return { block: rowBlock(gl.K_g), pix: 4 };
}

/** 1 when the middle 4 columns of every row window are inside the image and vec4-aligned. */
function alignedRows(g: Conv2dGeometry): number {
  // Stride 1: window columns 1..4 are q0..q0+3, inside when the last group's q0 + 3 < W (Q == W
  // rounded up to 4; on rows padded by alignRows, W is the padded width). Stride 2: 2q0..2q0+3,
  // inside because 2q0 is a multiple of 8 below W - 1 (and the second vec4 is tested by the kernel).
  const inside = g.stride_w === 1 ? Math.ceil(g.Q / 4) * 4 <= g.W : true;
  return g.W % 4 === 0 && g.pad_w === 1 && inside ? 1 : 0;
}

let padRowsForAlignment = true;

/** Benchmarking hook (whether alignRows pads); returns the previous setting. */
export function setConvAlignRows(on: boolean): boolean {
  const old = padRowsForAlignment;
  padRowsForAlignment = on;
  return old;
}

/**
 * x with its rows padded by zero columns to a multiple of 4, and the geometry that reads it (W
 * the padded width), where only W % 4 != 0 keeps the row kernel from loading each window's middle
 * columns as one aligned vec4: "same" 3-wide rows at stride 1 (ResNet-18's 14x14 and 7x7 layers,
 * all three passes) and, for the weight gradient (`stride2`), rows at stride 2 (the forward
 * measured no gain there); on CPU adapters (the kernel's loads are what counts there). The
 * extra columns are zeros, as the padding they stand for: outputs past Q read them and are not
 * stored. The copy is one pass over x; the kernel then loads 3 values per window row instead of 6
 * (PIX 4) or 4 instead of 10 (PIX 8).
 */
function alignRows(x: Tensor, g: Conv2dGeometry, stride2 = false): { xa: Tensor; ga: Conv2dGeometry } | null {
  const rowsFit = g.stride_w === 1 ? g.Q === g.W : stride2 && g.stride_w === 2;
  if (!padRowsForAlignment || g.W % 4 === 0 || g.pad_w !== 1 || !rowsFit || !isCpuAdapter(gpu().info)) return null;
  const xa = padRows(x, [g.N, g.C, g.H, g.W], 'conv2d x padded to whole vec4 rows');
  return { xa, ga: { ...g, W: xa.shape[3] } };
}

/** Run the row kernel for the convolution described by g, with weights already packed. */
function launchRows(x: Tensor, wp: Tensor, b: Tensor | null, g: Conv2dGeometry, shape: RowsShape, label: string, epilogue: ConvEpilogue = NO_EPILOGUE): Tensor {
  const aligned = alignRows(x, g);
  const y = launchRowsOn(aligned?.xa ?? x, wp, b, aligned?.ga ?? g, shape, label, epilogue);
  aligned?.xa.dispose();
  return y;
}

/** launchRows on x as given (padded or not). */
function launchRowsOn(x: Tensor, wp: Tensor, b: Tensor | null, g: Conv2dGeometry, shape: RowsShape, label: string, epilogue: ConvEpilogue): Tensor {
  const wg = fastWorkgroupSize();
  const { block, pix } = shape;
  const z = g.G * Math.ceil(g.K_g / block);
  checkZ(g, z);
  const y = emptyTensor(conv2dOutputShape(g), 'float32', label);
  // Rows of whole vec4s (Q % 4 == 0) store y as vec4s through binding 7; the other of 3 and 7 gets
  // the placeholder (one buffer may not be bound writable twice). On lavapipe, forward and input
  // gradient: 64 @8 (CIFAR stage 3) 0.76-0.84x the CPU time, 16 @32, 32 @16 and 64 @56 unchanged.
  const yVec4 = g.Q % 4 === 0;
  const unused = unusedWritableBinding();
  const res = epilogue.residual ?? x;
  launch(FAST.forwardRowsSubgroup, {
    buffers: [x.buffer, wp.buffer, (b ?? x).buffer, yVec4 ? unused : y.buffer, x.buffer, res.buffer, yVec4 ? y.buffer : unused, res.buffer],
    params: packConv2dParams(g),
    workgroups: [...grid1d(g.N * g.P * Math.ceil(g.Q / pix), wg), z],
    constants: {
      WG: wg, HAS_BIAS: b ? 1 : 0, BLOCK_K: block, PIX: pix, STRIDE_W: g.stride_w, ALIGNED_ROWS: alignedRows(g),
      HAS_RESIDUAL: epilogue.residual ? 1 : 0, RELU: epilogue.relu ? 1 : 0, Y_VEC4: yVec4 ? 1 : 0, ...specialization(g, 'forward'),
    },
    label,
  });
  return y;
}

function conv2dForwardRows(x: Tensor, w: Tensor, b: Tensor | null, g: Conv2dGeometry, epilogue: ConvEpilogue): Tensor {
  const shape = rowsShape(g);
  const pw = packWeightsRows(w, g, false, shape.block);
  const y = launchRows(x, pw.wp, b, g, shape, 'conv2d_forward', epilogue);
  pw.release();
  return y;
}

/**
 * At stride 1 the input gradient is itself a convolution: dx = conv2d(gy, w'), where
 * w'[c, k, r, s] = w[k, c, R-1-r, S-1-s] and the padding becomes dil*(R-1) - pad, so the output
 * is H x W again. Needs that padding to be >= 0 (true for every "same" or "valid" layer).
 */
function inputGradAsConv(g: Conv2dGeometry): Conv2dGeometry | null {
  if (g.stride_h !== 1 || g.stride_w !== 1) return null;
  const pad_h = g.dil_h * (g.R - 1) - g.pad_h;
  const pad_w = g.dil_w * (g.S - 1) - g.pad_w;
  if (pad_h < 0 || pad_w < 0) return null;
  return {
    N: g.N, C: g.K, H: g.P, W: g.Q, K: g.C, R: g.R, S: g.S, G: g.G, P: g.H, Q: g.W,
    stride_h: 1, stride_w: 1, pad_h, pad_w, dil_h: g.dil_h, dil_w: g.dil_w,
    C_g: g.K_g, K_g: g.C_g, CRS_g: g.K_g * g.R * g.S, PQ: g.H * g.W,
  };
}

function conv2dBackwardInputRows(gy: Tensor, w: Tensor, g: Conv2dGeometry, gt: Conv2dGeometry, plus: Tensor | null = null): Tensor {
  const shape = rowsShape(gt);
  const pw = packWeightsRows(w, g, true, shape.block);
  const dx = launchRows(gy, pw.wp, null, gt, shape, 'conv2d_backward_input', { relu: false, residual: plus });
  pw.release();
  return dx;
}

/** The 2-pixel kernels (conv2d_forward_fast*.wgsl): no epilogue of their own. */
function conv2dForwardFastPixels(x: Tensor, w: Tensor, b: Tensor | null, g: Conv2dGeometry): Tensor {
  const wg = fastWorkgroupSize();
  const z = g.G * Math.ceil(g.K_g / BLOCK);
  checkZ(g, z);
  // Quads of 4 channels per tap when the channels allow it; else quads over flattened (r, s, c).
  const quadsPerTap = g.C_g % 4 === 0;
  const pw = packWeights(w, g, false, quadsPerTap);
  const y = emptyTensor(conv2dOutputShape(g), 'float32', 'conv2d');
  const sub = useSubgroups();
  launch(sub ? FAST.forwardSubgroup : FAST.forward, {
    buffers: [x.buffer, pw.wp.buffer, (b ?? x).buffer, y.buffer],
    params: packConv2dParams(g),
    workgroups: [...grid1d(g.N * g.PQ, wg * 2), z],
    constants: { WG: wg, HAS_BIAS: b ? 1 : 0, QUADS_PER_TAP: quadsPerTap ? 1 : 0, ...(sub ? specialization(g, 'forward') : {}) },
    label: 'conv2d_forward',
  });
  pw.release();
  return y;
}

/**
 * Whether conv2d_backward_input_rows_s2_subgroup.wgsl computes the input gradient of g: 3x3
 * kernels at stride 2, padding 1, no dilation (the downsampling 3x3 layers of a ResNet).
 */
function rowsS2InputApplies(g: Conv2dGeometry): boolean {
  return rowKernels && useSubgroups() && g.R === 3 && g.S === 3 && g.stride_h === 2 && g.stride_w === 2 &&
    g.pad_h === 1 && g.pad_w === 1 && g.dil_h === 1 && g.dil_w === 1 && g.C_g >= MIN_FAST_ROWS;
}

/**
 * The stride-2 input gradient with the row kernel: a 2 x 8 block of dx x 8 channels per lane.
 * gy rows must be whole vec4s: when Q % 4 != 0 (ResNet-18's 14x14 and 7x7 outputs) the kernel
 * runs on a copy padded with zero columns (they add nothing).
 */
function conv2dBackwardInputRowsS2(gy: Tensor, w: Tensor, g: Conv2dGeometry): Tensor {
  if (g.Q % 4 !== 0) {
    const { padded, gp } = padGyRows(gy, g);
    const dx = conv2dBackwardInputRowsS2(padded, w, gp);
    padded.dispose();
    return dx;
  }
  const wg = fastWorkgroupSize();
  const z = g.G * Math.ceil(g.C_g / 8); // (group, block of 8 input channels)
  checkZ(g, z);
  const lanes = g.N * Math.ceil(g.H / 2) * Math.ceil(g.W / 8);
  // The stride-1 input gradient's layout (transposed, flipped), in 8-channel blocks.
  const wp = packWeightsRowsNow(w, g, true, 8);
  const dx = emptyTensor([g.N, g.C, g.H, g.W], 'float32', 'conv2d_backward_input');
  launch(g.W % 4 === 0 ? FAST.inputRowsS2Subgroup : FAST.inputRowsS2SubgroupScalar, {
    buffers: [gy.buffer, wp.buffer, dx.buffer, gy.buffer],
    params: packConv2dParams(g),
    workgroups: [...grid1d(lanes, wg), z],
    constants: { WG: wg, ...specialization(g, 'input', SPECIALIZE_MAX_LOOP_ROWS_S2) },
    label: 'conv2d_backward_input',
  });
  wp.dispose();
  return dx;
}

/** The input gradient by phase classes of the stride pattern (conv2d_backward_input_fast*.wgsl). */
function conv2dBackwardInputFast(gy: Tensor, w: Tensor, g: Conv2dGeometry): Tensor {
  const wg = fastWorkgroupSize();
  const phases = g.stride_h * g.stride_w;
  const z = g.G * Math.ceil(g.C_g / BLOCK) * phases;
  checkZ(g, z);
  // Tiles for the largest phase class (row/column 0 of the stride pattern).
  const largestClass = g.N * Math.ceil(g.H / g.stride_h) * Math.ceil(g.W / g.stride_w);
  const pw = packWeights(w, g, true, true);
  const dx = emptyTensor([g.N, g.C, g.H, g.W], 'float32', 'conv2d_backward_input');
  const sub = useSubgroups();
  launch(sub ? FAST.inputSubgroup : FAST.input, {
    buffers: [gy.buffer, pw.wp.buffer, dx.buffer],
    params: packConv2dParams(g),
    workgroups: [...grid1d(largestClass, wg * 2), z],
    constants: { WG: wg, ...(sub ? specialization(g, 'input') : {}) },
    label: 'conv2d_backward_input',
  });
  pw.release();
  return dx;
}

/**
 * Below this many workgroups the weight gradient splits its reduction over the images. Tuned
 * for lavapipe's few CPU threads; a large GPU would want thousands (on an H100 the weight
 * gradient of ResNet-18's first layers runs at ~0.3-1 TFLOP/s against ~5-7 for the other passes).
 */
const MIN_WEIGHT_WORKGROUPS = 64;

/**
 * How many ranges of images the weight gradient splits its reduction into, so that
 * `perSplit` workgroups times the splits keep the machine busy (at most N, and z <= 65535).
 */
function weightSplits(g: Conv2dGeometry, perSplit: number, blocks: number): number {
  return Math.max(1, Math.min(g.N, Math.ceil(MIN_WEIGHT_WORKGROUPS / perSplit), Math.floor(65535 / blocks)));
}

/** Where a split weight-gradient kernel writes: `into` (or a new dw) unsplit, else [splits, ...shape] partials for sumSplits. */
function splitOutput(splits: number, shape: number[], into: Tensor | null): Tensor {
  if (splits === 1 && into) return into;
  return emptyTensor(splits === 1 ? shape : [splits, ...shape], 'float32', 'conv2d_backward_weight');
}

/** Add the per-split partial gradients (deterministic order) into dw (K, C_g, R, S). */
function sumSplits(out: Tensor, splits: number, shape: number[], into: Tensor | null): Tensor {
  if (splits === 1) return out;
  if (into) {
    reduce('sum', out, [0], 1, into);
    out.dispose();
    return into;
  }
  const flat = reduce('sum', out, [0]);
  out.dispose();
  const dw = new Tensor(flat.storage.retain(), shape, 'float32');
  flat.dispose();
  return dw;
}

/** The weight gradient with the 2-pixel kernels (conv2d_backward_weight_fast*.wgsl). */
function conv2dBackwardWeightFast(gy: Tensor, x: Tensor, g: Conv2dGeometry, into: Tensor | null = null): Tensor {
  const wg = fastWorkgroupSize();
  const tiles = grid1d(g.CRS_g, wg * 2);
  const blocks = g.G * Math.ceil(g.K_g / BLOCK);
  const splits = weightSplits(g, tiles[0] * tiles[1] * blocks, blocks);
  checkZ(g, blocks);
  const shape = [g.K, g.C_g, g.R, g.S];
  const out = splitOutput(splits, shape, into);
  const sub = useSubgroups();
  launch(sub ? FAST.weightSubgroup : FAST.weight, {
    // The subgroup kernel binds gy a second time as vec4s (its binding 4, after the uniform).
    buffers: sub ? [gy.buffer, x.buffer, out.buffer, gy.buffer] : [gy.buffer, x.buffer, out.buffer],
    params: packConv2dParams(g),
    workgroups: [...tiles, blocks * splits],
    constants: { WG: wg, ...(sub ? specialization(g, 'weight') : {}) },
    label: 'conv2d_backward_weight',
  });
  return sumSplits(out, splits, shape, into);
}

/** The weight gradient with the row kernel (S = 3, width stride 1 or 2, unit width dilation, Q % 4 == 0; see the padded variant below otherwise). */
function conv2dBackwardWeightRows(gy: Tensor, x: Tensor, g: Conv2dGeometry, into: Tensor | null = null): Tensor {
  const wg = fastWorkgroupSize();
  // Two input channels of one kernel row per lane (PAIRS) where the rows are aligned: each
  // broadcast gy value serves twice the multiply-adds. Against one channel per lane on lavapipe
  // (CPU time, in-process A/B): stride 1 0.74-0.92x (CIFAR's 3x3 shapes at batch 128, ResNet-18's
  // 64 @56 and 128 @28 at batch 8), stride 2 0.86-0.95x (CIFAR's two, ResNet-18's 64 @56 and, on
  // x padded by alignRows, 256 @14). On unaligned rows it doubled the scalar loads: 1.18x.
  const pairs = g.C_g % 2 === 0 && alignedRows(g) === 1;
  const block = pairs ? 16 : rowBlock(g.K_g);
  const tiles = grid1d((g.C_g / (pairs ? 2 : 1)) * g.R, wg);
  const blocks = g.G * Math.ceil(g.K_g / block);
  const splits = weightSplits(g, tiles[0] * tiles[1] * blocks, blocks);
  checkZ(g, blocks);
  const shape = [g.K, g.C_g, g.R, g.S];
  const out = splitOutput(splits, shape, into);
  launch(FAST.weightRowsSubgroup, {
    buffers: [gy.buffer, x.buffer, out.buffer, x.buffer],
    params: packConv2dParams(g),
    workgroups: [...tiles, blocks * splits],
    constants: { WG: wg, BLOCK_K: block, STRIDE_W: g.stride_w, ALIGNED_ROWS: alignedRows(g), PAIRS: pairs ? 1 : 0, ...specialization(g, 'weight') },
    label: 'conv2d_backward_weight',
  });
  return sumSplits(out, splits, shape, into);
}

/**
 * The weight gradient with the row kernel when Q % 4 != 0 (ResNet-18's 14x14 and 7x7 layers):
 * gy is copied into a zeroed (N, K, P, Q4) buffer, Q4 = Q rounded up to 4, and the kernel runs
 * as if the output were Q4 wide. The extra pixels have gy = 0, so they add nothing to dw, and
 * their x windows past the right edge read as padding. Costs a copy of gy (O(K * PQ) against the
 * O(K * C * 9 * PQ) gradient) and Q4 / Q more multiply-adds (8/7 at Q = 7); the 2-pixel kernel
 * it replaces ran these layers at ~40% of the FMA ceiling.
 */
function conv2dBackwardWeightRowsPadded(gy: Tensor, x: Tensor, g: Conv2dGeometry, into: Tensor | null = null): Tensor {
  const { padded, gp } = padGyRows(gy, g);
  // On "same" rows and at stride 2, x is padded to whole vec4 rows too (alignRows): the kernel then
  // reads aligned vec4s and takes two input channels per lane (PAIRS). ResNet-18's 256 @14 and
  // 512 @7 at batch 8: 0.75-0.78x the CPU time on lavapipe (two in-process A/B runs).
  const aligned = alignRows(x, g, true);
  const dw = conv2dBackwardWeightRows(padded, aligned?.xa ?? x, aligned ? { ...gp, W: aligned.ga.W } : gp, into);
  padded.dispose();
  aligned?.xa.dispose();
  return dw;
}

/**
 * gy (N, K, P, Q) copied into a zeroed (N, K, P, Q4), Q4 = Q rounded up to a multiple of 4, and
 * the geometry that describes it (Q and PQ changed): the row kernels then read gy as aligned vec4s.
 */
function padGyRows(gy: Tensor, g: Conv2dGeometry): { padded: Tensor; gp: Conv2dGeometry } {
  const padded = padRows(gy, [g.N, g.K, g.P, g.Q], 'conv2d gy padded to whole vec4 rows');
  const Q4 = padded.shape[3];
  return { padded, gp: { ...g, Q: Q4, PQ: g.P * Q4 } };
}

/** A plain (N, C, H, W) tensor copied into a new (N, C, H, W4), W4 = W rounded up to 4, zero-filled (pad_rows.wgsl). */
function padRows(t: Tensor, [N, C, H, W]: number[], label: string): Tensor {
  const W4 = Math.ceil(W / 4) * 4;
  const rows = N * C * H;
  const padded = emptyTensor([N, C, H, W4], 'float32', label);
  launch(padRowsKernel, {
    buffers: [t.buffer, padded.buffer],
    params: new Uniforms().u32(rows).finish(),
    workgroups: grid1d(rows * (W4 / 4), 256),
    constants: { WG: 256, Q: W, Q4: W4 },
    label,
  });
  return padded;
}

// ---- 1x1 convolutions as GEMMs -------------------------------------------------------------

/**
 * A 1x1 convolution without padding or groups is a matrix product per image:
 * y[n] (K x PQ) = w (K x C) @ x[n] (C x PQ), and dx[n] (C x PQ) = w^T (C x K) @ gy[n].
 * Where the adapter's GEMM is the subgroup kernel (lavapipe), matmul_subgroup.wgsl does ~2x the
 * multiply-adds per loaded float of the 2-pixel conv kernel (a ResNet-50's 1x1 layers are about
 * half its FLOPs) and needs no weight packing. x and gy are read in place when PQ % 4 == 0 (else
 * the GEMM packs them, O(C * PQ) against O(K * C * PQ)). At stride 2 (the downsampling
 * shortcuts) the one-pass subsampling kernels of the CIFAR option-A shortcut (with no channel
 * padding) gather x[:, :, ::2, ::2] first, and scatter dx back. A bias (and an inference
 * epilogue, ConvEpilogue) is added by the GEMM before it stores. Elsewhere the conv kernels stay.
 */
function gemmApplies(g: Conv2dGeometry, pass: 'forward' | 'input'): boolean {
  const [rows, inner] = pass === 'forward' ? [g.K, g.C] : [g.C, g.K];
  return isGemmShaped(g) && chooseGemmVariant(rows, g.PQ, inner, g.N) === 'subgroup';
}

/** 1x1, stride 1 or 2 in both directions, no padding, no groups: a GEMM per image. */
function isGemmShaped(g: Conv2dGeometry): boolean {
  const stride = g.stride_h === g.stride_w && (g.stride_h === 1 || g.stride_h === 2);
  return implementation === 'fast' && g.R === 1 && g.S === 1 && stride && g.pad_h === 0 && g.pad_w === 0 && g.G === 1;
}

/**
 * The same GEMMs with the workgroup-tiled kernel (matmul_tiled.wgsl, the GPU-shaped one), bias
 * and epilogue as passes of their own. Never the rules' choice (unmeasured on a GPU, slower on
 * lavapipe): there for wg.autotune() to try, also where the subgroup GEMM cannot run (subgroups
 * of other than 8 lanes, i.e. most GPUs).
 */
function gemmTiledApplies(g: Conv2dGeometry): boolean {
  return isGemmShaped(g) && Math.min(g.K, g.C, g.PQ) >= 8;
}

/**
 * A 1x1 layer's forward as a GEMM per image. The subgroup GEMM adds the bias and the epilogue as
 * it stores; after the tiled one they are passes of their own.
 */
function conv2dForwardGemm(x: Tensor, w: Tensor, b: Tensor | null, g: Conv2dGeometry, epilogue: ConvEpilogue, variant: GemmVariant = 'subgroup'): Tensor {
  // At stride 2, x[:, :, ::2, ::2]: the pixels a 1x1 kernel reads.
  const xs = g.stride_h === 1 ? x : shortcutAForward(x, 0);
  const fused = variant === 'subgroup';
  let y = perImageGemm(matrices(w, 0, g.C), xs, g, g.K, g.C, conv2dOutputShape(g), fused ? { bias: b, ...epilogue } : {}, variant);
  if (xs !== x) xs.dispose();
  if (fused) return y;
  if (b) {
    const bias = new Tensor(b.storage.retain(), [g.K, 1, 1], 'float32');
    const biased = binary('add', y, bias);
    bias.dispose();
    y.dispose();
    y = biased;
  }
  return withEpilogue(y, epilogue);
}

function conv2dBackwardInputGemm(gy: Tensor, w: Tensor, g: Conv2dGeometry, variant: GemmVariant = 'subgroup'): Tensor {
  const wt = transposedWeights(w, g);
  const dxs = perImageGemm(matrices(wt, 0, g.K), gy, g, g.C, g.K, [g.N, g.C, g.P, g.Q], {}, variant);
  wt.dispose();
  if (g.stride_h === 1) return dxs;
  const dx = shortcutABackward(dxs, [g.N, g.C, g.H, g.W], 0); // scatter to [::2, ::2], zeros elsewhere
  dxs.dispose();
  return dx;
}

/**
 * The input gradient of a 1x1 layer at stride 2 on a GPU: the same product on the subsampled
 * pixels, dx[:, :, ::2, ::2] = w^T @ gy per image, computed as the forward pass of a 1x1 stride-1
 * convolution of gy with the transposed weights (C, K, 1, 1) by the workgroup-tiled implicit
 * GEMM, then scattered to [::2, ::2] with zeros elsewhere. The tiled GEMM (matmul_tiled.wgsl)
 * ran these at 11.5-13.3 TFLOP/s on an H100 where the implicit GEMM's forward ran the 1x1 layers
 * of the same network at 22-25 (ResNet-50 at batch 32, bench/results/h100-s8e-tune-r50-wide.json).
 */
function conv2dBackwardInputSubsampled(gy: Tensor, w: Tensor, g: Conv2dGeometry): Tensor {
  const wt = transposedWeights(w, g);
  const wt4 = new Tensor(wt.storage.retain(), [g.C, g.K, 1, 1], 'float32');
  wt.dispose();
  const gt = conv2dGeometry([g.N, g.K, g.P, g.Q], [g.C, g.K, 1, 1]);
  const dxs = conv2dForwardImplicitGemm(gy, wt4, null, gt, NO_EPILOGUE, { prefetch: true });
  wt4.dispose();
  const dx = shortcutABackward(dxs, [g.N, g.C, g.H, g.W], 0);
  dxs.dispose();
  return dx;
}

/** A contiguous (batch, rows, cols) tensor as GEMM operands; rows = 0: one matrix for all. */
function matrices(t: Tensor, rows: number, cols: number): MatrixView {
  return { buffer: t.buffer, offset: 0, batchStride: rows * cols, rowStride: cols, colStride: 1 };
}

/**
 * w (K, C_g * R * S) transposed to a contiguous (C_g * R * S, K) matrix, the A operand of the
 * input gradient as a GEMM: copied once, where the per-image GEMM would pack it for every image.
 */
function transposedWeights(w: Tensor, g: Conv2dGeometry): Tensor {
  return copyView(w, [g.CRS_g, g.K], [1, g.CRS_g], 0);
}

/** out[n] (rows x PQ) = w (rows x inner) @ input[n] (inner x PQ), reshaped to `shape`. */
function perImageGemm(
  w: MatrixView, input: Tensor, g: Conv2dGeometry, rows: number, inner: number, shape: number[], epilogue: GemmEpilogue = {}, variant: GemmVariant = 'subgroup',
): Tensor {
  const out = gemm(w, matrices(input, inner, g.PQ), g.N, rows, g.PQ, inner, variant, epilogue);
  const result = new Tensor(out.storage.retain(), shape, 'float32');
  out.dispose();
  return result;
}

// ---- channel-poor layers: im2col + GEMM ----------------------------------------------------

const im2colKernels = {
  scalar: defineKernel('im2col', im2colSource, ['read', 'read_write', 'uniform'], 'main'),
  vec4: defineKernel('im2col', im2colSource, ['read', 'read_write', 'uniform'], 'main_vec4'),
  rows: defineKernel('im2col', im2colSource, ['read', 'read_write', 'uniform'], 'main_rows'),
};
/** The cols buffer is T4/(stride_h*stride_w) times x; above this it is not worth the memory. */
const IM2COL_MAX_BYTES = 256 * 2 ** 20;

/**
 * The ImageNet stem (3 channels, 7x7, stride 2) as im2col + GEMM (im2col.wgsl): its
 * reduction has only T = 147 elements, on which the implicit-GEMM kernels waste most lanes, while
 * the unfolded input is small. Groups 1, where the GEMM is the subgroup kernel (lavapipe) and
 * the row kernel does not apply; the GEMM adds the bias (and any inference epilogue).
 */
function im2colApplies(g: Conv2dGeometry): boolean {
  const T4 = Math.ceil(g.CRS_g / 4) * 4;
  return implementation === 'fast' && g.G === 1 && g.C <= 4 && g.R * g.S > 9 &&
    4 * g.N * T4 * g.PQ <= IM2COL_MAX_BYTES && chooseGemmVariant(g.K, g.PQ, T4, g.N) === 'subgroup';
}

/**
 * Which entry of im2col.wgsl unfolds x: `main_rows` (all S taps of a kernel row from one span
 * of NV <= 8 vec4s; whole vec4s per input and output row) loads 4 vec4s where `main_vec4` loads
 * 28 scalars for the stem: on lavapipe 0.36x the CPU time at batch 8 (33 -> 12 ms, 87-90% of
 * relu's byte rate); `main_vec4` where only the output rows are whole vec4s, `main` elsewhere.
 */
export function im2colLayout(g: Conv2dGeometry): 'rows' | 'vec4' | 'scalar' {
  if (g.Q % 4 !== 0) return 'scalar';
  const off = (4 - (g.pad_w % 4)) % 4;
  const spanVec4s = Math.floor((off + 3 * g.stride_w + (g.S - 1) * g.dil_w + 4) / 4);
  return g.W % 4 === 0 && spanVec4s <= 8 ? 'rows' : 'vec4';
}

function conv2dForwardIm2col(x: Tensor, w: Tensor, b: Tensor | null, g: Conv2dGeometry, epilogue: ConvEpilogue): Tensor {
  const T = g.CRS_g;
  const T4 = Math.ceil(T / 4) * 4;
  const cols = emptyTensor([g.N, T4, g.PQ], 'float32', 'conv2d_im2col');
  const layout = im2colLayout(g);
  const invocations = { rows: g.N * g.C * g.R * g.P * (g.Q / 4), vec4: cols.size / 4, scalar: cols.size }[layout];
  launch(im2colKernels[layout], {
    buffers: [x.buffer, cols.buffer],
    params: new Uniforms().u32(g.N).finish(),
    workgroups: grid1d(invocations, 256),
    constants: {
      WG: 256, C: g.C, H: g.H, W: g.W, R: g.R, S: g.S, SH: g.stride_h, SW: g.stride_w,
      PH: g.pad_h, PW: g.pad_w, DH: g.dil_h, DW: g.dil_w, P: g.P, Q: g.Q, T4,
    },
    label: 'im2col',
  });
  // w as a (K x T4) matrix with zero columns past T, shared by every image.
  const wPadded = packOperand({ buffer: w.buffer, offset: 0, batchStride: 0, rowStride: T, colStride: 1 }, 1, g.K, T, g.K, T4);
  const y = perImageGemm(matrices(wPadded, 0, T4), cols, g, g.K, T4, conv2dOutputShape(g), { bias: b, ...epilogue });
  wPadded.dispose();
  cols.dispose();
  return y;
}

const col2imKernel = defineKernel('col2im', col2imSource, ['read', 'read_write', 'uniform']);

/**
 * The stem's input gradient as a GEMM and a fold (col2im.wgsl): cols[n] (T x PQ) = w^T (T x K) @
 * gy[n], then every input pixel sums the columns that came from it. The same layers as
 * im2colApplies() (channel-poor, more than 3x3 taps, groups 1, no dilation), where the
 * phase-class kernel wastes most of its 16 channel lanes on 3 channels.
 */
function col2imApplies(g: Conv2dGeometry): boolean {
  return implementation === 'fast' && g.G === 1 && g.C <= 4 && g.R * g.S > 9 && g.dil_h === 1 && g.dil_w === 1 &&
    4 * g.N * g.CRS_g * g.PQ <= IM2COL_MAX_BYTES && chooseGemmVariant(g.CRS_g, g.PQ, g.K, g.N) === 'subgroup';
}

function conv2dBackwardInputCol2im(gy: Tensor, w: Tensor, g: Conv2dGeometry): Tensor {
  const T = g.CRS_g;
  const wt = transposedWeights(w, g);
  const cols = perImageGemm(matrices(wt, 0, g.K), gy, g, T, g.K, [g.N, T, g.PQ]);
  wt.dispose();
  const dx = emptyTensor([g.N, g.C, g.H, g.W], 'float32', 'conv2d_backward_input');
  launch(col2imKernel, {
    buffers: [cols.buffer, dx.buffer],
    params: new Uniforms().u32(g.N).finish(),
    workgroups: grid1d(dx.size, 256),
    constants: { WG: 256, C: g.C, H: g.H, W: g.W, R: g.R, S: g.S, SH: g.stride_h, SW: g.stride_w, PH: g.pad_h, PW: g.pad_w, P: g.P, Q: g.Q },
    label: 'col2im',
  });
  cols.dispose();
  return dx;
}

// ---- entry points used by the differentiable op --------------------------------------------

/**
 * What a forward convolution can add before it stores y, for inference (a ResNet block with its
 * batch norms folded into the convolutions, see src/nn/fold-batch-norm.ts):
 * y = relu?(conv(x) + b + residual), residual (N, K, P, Q) contiguous.
 */
export interface ConvEpilogue {
  relu: boolean;
  residual: Tensor | null;
}
const NO_EPILOGUE: ConvEpilogue = { relu: false, residual: null };

/**
 * The epilogue as passes of its own, for the kernels without one (the 2-pixel and direct
 * kernels): the residual add + ReLU in one elementwise pass, or the ReLU alone. Consumes y.
 */
export function withEpilogue(y: Tensor, epilogue: ConvEpilogue): Tensor {
  if (!epilogue.residual && !epilogue.relu) return y;
  const out = epilogue.residual ? binary(epilogue.relu ? 'addRelu' : 'add', y, epilogue.residual) : unary('relu', y);
  y.dispose();
  return out;
}

// ---- choosing the kernel of each pass: the rules, or the autotuner's measurements ----------

/**
 * One way to compute a pass, and when it can. Each pass lists its kernels in the order the rules
 * prefer them (measured on lavapipe): the first that applies runs, unless wg.autotune() measured
 * this problem on this device (src/kernels/autotune.ts) and found another faster. On a GPU (an
 * adapter that is not a CPU) the kernels marked `gpuFirst` move to the front.
 */
interface ConvKernel<A extends unknown[]> {
  name: string;
  applies: (g: Conv2dGeometry) => boolean;
  /**
   * Among the rules' first choices on GPUs (in table order), for every layer or for the layers
   * the predicate accepts: the workgroup-tiled implicit GEMM with its prefetch, and for input
   * gradients the stride-2 row kernel and, at stride 2, the tiled GEMM. Measured on an H100
   * (bench/RESULTS.md): the subgroup kernels shaped for lavapipe's 8-lane subgroups spent 72%
   * of a ResNet-50 training step in weight gradients, and batch 1 took as long as batch 32.
   */
  gpuFirst?: boolean | ((g: Conv2dGeometry) => boolean);
  run: (...args: A) => Tensor;
  /** An input-gradient kernel that adds `plus` to dx as it stores it (see conv2dBackwardInput). */
  runPlus?: (gy: Tensor, w: Tensor, g: Conv2dGeometry, plus: Tensor) => Tensor;
}
type ForwardArgs = [x: Tensor, w: Tensor, b: Tensor | null, g: Conv2dGeometry, epilogue: ConvEpilogue];
type BackwardArgs = [gy: Tensor, other: Tensor, g: Conv2dGeometry];
/** A weight-gradient kernel's arguments: BackwardArgs and where to store dw (a parameter's gradient slot: autograd's `into`), if anywhere. */
type WeightArgs = [gy: Tensor, x: Tensor, g: Conv2dGeometry, into?: Tensor | null];
export type ConvPass = 'forward' | 'input' | 'weight';

/** The implicit-GEMM kernels need 2+ rows (output or input channels per group). */
const fastApplies = (rows: number) => implementation !== 'direct' && rows >= MIN_FAST_ROWS;
/**
 * The workgroup-tiled implicit GEMM (conv2d-gemm.ts): every ungrouped layer, on GPUs (on lavapipe
 * workgroup memory and barriers buy nothing, it ran 4x+ slower than the subgroup kernels, and
 * timing it only made wg.autotune() slower).
 */
const tiledApplies = (g: Conv2dGeometry) => implementation !== 'direct' && gpuRules() && implicitGemmApplies(g);

const FORWARD_KERNELS: ConvKernel<ForwardArgs>[] = [
  { name: 'gemm', applies: (g) => gemmApplies(g, 'forward'), run: (x, w, b, g, e) => conv2dForwardGemm(x, w, b, g, e) },
  { name: 'im2col', applies: im2colApplies, run: conv2dForwardIm2col },
  { name: 'rows', applies: (g) => fastApplies(g.K_g) && rowsApply(g, true), run: conv2dForwardRows },
  { name: 'pixels', applies: (g) => fastApplies(g.K_g), run: (x, w, b, g, e) => withEpilogue(conv2dForwardFastPixels(x, w, b, g), e) },
  { name: 'gemm-tiled', applies: gemmTiledApplies, run: (x, w, b, g, e) => conv2dForwardGemm(x, w, b, g, e, 'tiled') },
  // On GPUs the prefetching variant: wg.autotune() on an H100 timed both on the 158 problems of
  // ResNet-20/18/50 (bench/results/h100-s7-tune.json): prefetch/plain geometric means 0.91
  // (forward at batch 1-8), 0.92 (forward at 32-128), 0.99 (input), 0.96 (weight).
  { name: 'implicit-gemm', applies: tiledApplies, run: conv2dForwardImplicitGemm },
  // 128 x 128 tiles for the 512-channel 3x3 layers at batch 32 (1,568 output pixels): 0.83-0.84x
  // the time of the 64 x 64 kernel in two autotune runs on an H100 (bench/results/
  // h100-s8e-tune-r50-wide.json, h100-s9-ab-r50-tuned.txt); no faster on ResNet-50's other
  // forward problems, nor on these at batch 1 (49 output pixels).
  {
    name: 'implicit-gemm-wide', applies: tiledApplies,
    gpuFirst: (g) => g.C_g >= 512 && g.K_g >= 512 && g.R * g.S >= 9 && g.N * g.PQ >= 1024,
    run: (x, w, b, g, e) => conv2dForwardImplicitGemm(x, w, b, g, e, { prefetch: true, wide: true }),
  },
  { name: 'implicit-gemm-prefetch', applies: tiledApplies, gpuFirst: true, run: (x, w, b, g, e) => conv2dForwardImplicitGemm(x, w, b, g, e, { prefetch: true }) },
  { name: 'direct', applies: () => true, run: (x, w, b, g, e) => withEpilogue(conv2dForwardDirect(x, w, b, g), e) },
];

/** An implicit-GEMM input-gradient entry's run and runPlus (the gradient at the input added as dx is stored). */
function implicitGemmInput(variant: ImplicitGemmVariant): Pick<ConvKernel<BackwardArgs>, 'run' | 'runPlus'> {
  return {
    run: (gy, w, g) => conv2dBackwardInputImplicitGemm(gy, w, g, variant),
    runPlus: (gy, w, g, plus) => conv2dBackwardInputImplicitGemm(gy, w, g, variant, plus),
  };
}

const INPUT_KERNELS: ConvKernel<BackwardArgs>[] = [
  { name: 'col2im', applies: col2imApplies, run: conv2dBackwardInputCol2im },
  { name: 'gemm', applies: (g) => gemmApplies(g, 'input'), run: (gy, w, g) => conv2dBackwardInputGemm(gy, w, g) },
  {
    name: 'rows', applies: (g) => fastApplies(g.C_g) && inputRowsApply(g),
    run: (gy, w, g) => conv2dBackwardInputRows(gy, w, g, inputGradAsConv(g)!),
    runPlus: (gy, w, g, plus) => conv2dBackwardInputRows(gy, w, g, inputGradAsConv(g)!, plus),
  },
  // On GPUs (wg.autotune on an H100, ResNet-50 batch 32): the 3x3 stride-2 input gradient 3.5-4.5x
  // faster with the stride-2 row kernel than with the implicit GEMM (which gathers 3 zeros of gy
  // for every value), 1x1 input gradients 1.1-2.9x faster as tiled GEMMs (stride 2: on the
  // subsampled pixels).
  { name: 'rows-s2', applies: (g) => fastApplies(g.C_g) && rowsS2InputApplies(g), gpuFirst: true, run: conv2dBackwardInputRowsS2 },
  { name: 'phases', applies: (g) => fastApplies(g.C_g), run: conv2dBackwardInputFast },
  // 1x1 layers at stride 2: a GEMM on the subsampled pixels only, 2.3-2.8x faster than the
  // implicit GEMM over every pixel of dx; run by the implicit GEMM's forward (ResNet-50 training
  // at batch 32 on an H100: 627-628 img/s against 591-613 with the tiled GEMM, bench/RESULTS.md).
  {
    name: 'implicit-gemm-subsampled', applies: (g) => tiledApplies(g) && isGemmShaped(g) && g.stride_h === 2,
    gpuFirst: true, run: conv2dBackwardInputSubsampled,
  },
  // At stride 1 the implicit GEMM beat the tiled GEMM on 7 of 9 1x1 layers of ResNet-50 (by up to
  // 1.4x). With fewer than 32 input channels most of a 64-row tile idles: the row or phase
  // kernels were 1.5-1.8x faster there (CIFAR stage 1), and 1x1 layers keep the tiled GEMM.
  { name: 'gemm-tiled', applies: gemmTiledApplies, gpuFirst: (g) => g.stride_h > 1 || g.stride_w > 1 || g.C_g < 32, run: (gy, w, g) => conv2dBackwardInputGemm(gy, w, g, 'tiled') },
  { name: 'implicit-gemm', applies: tiledApplies, ...implicitGemmInput({}) },
  // 128 x 128 tiles from 256 input channels (rows of this GEMM) and a reduction (K·R·S) of 256:
  // wg.autotune on an H100, ResNet-50
  // at batch 32 (bench/results/h100-s8e-tune-r50-wide.json): 0.71-0.97x the time of the 64 x 64
  // kernel on 8 of the 10 layers it now takes (1.05-1.06x on the other two), 1.2-1.6x slower
  // with 64-128 channels.
  { name: 'implicit-gemm-wide', applies: tiledApplies, gpuFirst: (g) => g.C_g >= 256 && g.K_g * g.R * g.S >= 256, ...implicitGemmInput({ prefetch: true, wide: true }) },
  { name: 'implicit-gemm-prefetch', applies: tiledApplies, gpuFirst: (g) => g.C_g >= 32, ...implicitGemmInput({ prefetch: true }) },
  { name: 'direct', applies: () => true, run: conv2dBackwardInputDirect },
];

const WEIGHT_KERNELS: ConvKernel<WeightArgs>[] = [
  { name: 'rows', applies: (g) => fastApplies(g.K_g) && rowsApply(g, true), run: (gy, x, g, into) => (g.Q % 4 === 0 ? conv2dBackwardWeightRows(gy, x, g, into) : conv2dBackwardWeightRowsPadded(gy, x, g, into)) },
  { name: 'pixels', applies: (g) => fastApplies(g.K_g), run: conv2dBackwardWeightFast },
  { name: 'implicit-gemm', applies: tiledApplies, run: (gy, x, g, into) => conv2dBackwardWeightImplicitGemm(gy, x, g, {}, into) },
  // 128 x 128 tiles from 128 output channels and 256 columns (C·R·S): the same autotune run,
  // 0.75-0.92x the time of the 64 x 64 kernel on 12 of the 17 ResNet-50 layers it now takes,
  // 1.0-1.04x on the rest; 1.1-2x slower on thinner layers (64 channels, the stem).
  { name: 'implicit-gemm-wide', applies: tiledApplies, gpuFirst: (g) => g.K_g >= 128 && g.CRS_g >= 256, run: (gy, x, g, into) => conv2dBackwardWeightImplicitGemm(gy, x, g, { prefetch: true, wide: true }, into) },
  { name: 'implicit-gemm-prefetch', applies: tiledApplies, gpuFirst: true, run: (gy, x, g, into) => conv2dBackwardWeightImplicitGemm(gy, x, g, { prefetch: true }, into) },
  { name: 'direct', applies: () => true, run: conv2dBackwardWeightDirect },
];

/** The stride-1 input gradient as a convolution of gy, with the row kernel. */
function inputRowsApply(g: Conv2dGeometry): boolean {
  const gt = inputGradAsConv(g);
  return gt !== null && rowsApply(gt);
}

/** What the autotuner keeps a choice under: the pass and every size and option of the layer. */
function problemKey(pass: ConvPass, g: Conv2dGeometry, extra = ''): string {
  return `conv2d ${pass} x ${g.N},${g.C},${g.H},${g.W} w ${g.K},${g.C_g},${g.R},${g.S} s ${g.stride_h},${g.stride_w} ` +
    `p ${g.pad_h},${g.pad_w} d ${g.dil_h},${g.dil_w} g ${g.G}${extra}`;
}

let rulesFor: 'adapter' | 'gpu' | 'cpu' = 'adapter';
const gpuRules = () => (rulesFor === 'adapter' ? !isCpuAdapter(gpu().info) : rulesFor === 'gpu');

/**
 * Apply the rules of a GPU or of a CPU adapter whatever the adapter is ('adapter': its own, the
 * default). For tests: lavapipe checks the kernels a GPU would run. Returns the previous setting.
 */
export function setConvRulesFor(kind: 'adapter' | 'gpu' | 'cpu'): 'adapter' | 'gpu' | 'cpu' {
  const old = rulesFor;
  rulesFor = kind;
  return old;
}

/** The kernels that apply to g, in the order the rules prefer them on this adapter. */
function byRules<A extends unknown[]>(kernels: ConvKernel<A>[], g: Conv2dGeometry): ConvKernel<A>[] {
  const usable = kernels.filter((k) => k.applies(g));
  if (!gpuRules()) return usable;
  const first = (k: ConvKernel<A>) => (typeof k.gpuFirst === 'function' ? k.gpuFirst(g) : k.gpuFirst === true);
  return [...usable.filter(first), ...usable.filter((k) => !first(k))];
}

/** The kernel that runs: the tuned one if measured (and still applicable), else the rules' first. */
function chooseKernel<A extends unknown[]>(kernels: ConvKernel<A>[], g: Conv2dGeometry, key: string): ConvKernel<A> {
  const usable = byRules(kernels, g);
  const tuned = tunedChoice(key);
  return usable.find((k) => k.name === tuned) ?? usable[0];
}

/**
 * During wg.autotune()'s record pass: describe this problem so that its kernels can be timed
 * (all that apply, but the direct kernels, the slow oracle, unless nothing else does).
 */
function offerProblem<A extends unknown[]>(kernels: ConvKernel<A>[], g: Conv2dGeometry, key: string, makeInputs: () => Tensor[], args: (inputs: Tensor[]) => A): void {
  if (!isCollectingTunables()) return;
  const fast = byRules(kernels, g).filter((k) => k.name !== 'direct').map((k) => k.name); // the rules' choice first
  // Timed in the grad mode it was met in: under noGrad the packed weights are kept between calls.
  const grad = isGradEnabled();
  offerTunable({
    key,
    candidates: fast,
    makeInputs,
    run: (name, inputs) => {
      const previous = setGradEnabled(grad);
      try {
        return kernels.find((k) => k.name === name)!.run(...args(inputs));
      } finally {
        setGradEnabled(previous);
      }
    },
  });
}

/** Which kernel computes this pass of g now (for the curious, and for tests). */
export function convKernelFor(pass: ConvPass, g: Conv2dGeometry, epilogue: ConvEpilogue = NO_EPILOGUE, bias = false): string {
  if (pass === 'forward') return chooseKernel(FORWARD_KERNELS, g, forwardKey(g, bias, epilogue)).name;
  return chooseKernel(pass === 'input' ? INPUT_KERNELS : WEIGHT_KERNELS, g, problemKey(pass, g)).name;
}

function forwardKey(g: Conv2dGeometry, bias: boolean, epilogue: ConvEpilogue): string {
  return problemKey('forward', g, `${bias ? ' bias' : ''}${epilogue.residual ? ' +residual' : ''}${epilogue.relu ? ' relu' : ''}`);
}

const random = (shape: number[], seed: number) => randn(shape, { seed });

/** y = conv2d(x, w) + b (then the epilogue). x, w, b plain (contiguous, offset 0); no autograd. */
export function conv2dForward(x: Tensor, w: Tensor, b: Tensor | null, g: Conv2dGeometry, epilogue: ConvEpilogue = NO_EPILOGUE): Tensor {
  const key = forwardKey(g, b !== null, epilogue);
  offerProblem(FORWARD_KERNELS, g, key,
    () => [random([...x.shape], 1), random([...w.shape], 2), ...(b ? [random([g.K], 3)] : []), ...(epilogue.residual ? [random(conv2dOutputShape(g), 4)] : [])],
    ([xi, wi, ...rest]): ForwardArgs => [xi, wi, b ? rest[0] : null, g, { relu: epilogue.relu, residual: epilogue.residual ? rest[rest.length - 1] : null }]);
  return chooseKernel(FORWARD_KERNELS, g, key).run(x, w, b, g, epilogue);
}

/**
 * dx from gy (N, K, P, Q) and w; with `plus` (N, C, H, W), dx + plus (the gradient x already has
 * from elsewhere, see BackwardFn in src/autograd/node.ts). A kernel with `runPlus` (the row
 * kernel, in its epilogue) adds it as it stores dx; the others in a pass of their own, as the
 * autograd engine would have.
 */
export function conv2dBackwardInput(gy: Tensor, w: Tensor, g: Conv2dGeometry, plus: Tensor | null = null): Tensor {
  const key = problemKey('input', g);
  offerProblem(INPUT_KERNELS, g, key, () => [random([...gy.shape], 1), random([...w.shape], 2)], ([gyi, wi]): BackwardArgs => [gyi, wi, g]);
  const kernel = chooseKernel(INPUT_KERNELS, g, key);
  if (plus && kernel.runPlus && plus.isContiguous && plus.offset === 0) return kernel.runPlus(gy, w, g, plus);
  const dx = kernel.run(gy, w, g);
  if (!plus) return dx;
  const sum = binary('add', dx, plus);
  dx.dispose();
  return sum;
}

/** dw from gy (N, K, P, Q) and x; stored in `into` (a plain tensor of w's shape) where given. */
export function conv2dBackwardWeight(gy: Tensor, x: Tensor, g: Conv2dGeometry, into: Tensor | null = null): Tensor {
  const key = problemKey('weight', g);
  offerProblem(WEIGHT_KERNELS, g, key, () => [random([...gy.shape], 1), random([...x.shape], 2)], ([gyi, xi]): WeightArgs => [gyi, xi, g]);
  return chooseKernel(WEIGHT_KERNELS, g, key).run(gy, x, g, into);
}

/** db[k] = sum over n, p, q of gy[n, k, p, q]: the sum reduction, no kernel of its own. */
export function conv2dBackwardBias(gy: Tensor, into: Tensor | null = null): Tensor {
  return reduce('sum', gy, [0, 2, 3], 1, into);
}
