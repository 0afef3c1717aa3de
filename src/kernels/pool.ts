// SPDX-License-Identifier: MIT
// Launchers for the window pooling kernels, max and average (no autograd here: see
// src/nn/functional/pool.ts; adaptive average pooling is in adaptive-pool.ts).
// Every pooling geometry is computed once by pool2dGeometry(), whose fields are the
// Pool2dParams struct of the max/avg kernels, in the same order.

import maxForwardSource from './wgsl/max_pool2d_forward.wgsl';
import maxBackwardSource from './wgsl/max_pool2d_backward.wgsl';
import maxScatterSource from './wgsl/max_pool2d_backward_scatter.wgsl';
import maxForwardRowsSource from './wgsl/max_pool2d_forward_rows.wgsl';
import maxForwardPlanesSource from './wgsl/max_pool2d_forward_planes.wgsl';
import maxForwardStripsSource from './wgsl/max_pool2d_forward_strips.wgsl';
import maxBackwardPlanesSource from './wgsl/max_pool2d_backward_planes.wgsl';
import maxBackwardStripsSource from './wgsl/max_pool2d_backward_strips.wgsl';
import avgForwardPlanesSource from './wgsl/avg_pool2d_forward_planes.wgsl';
import avgBackwardPlanesSource from './wgsl/avg_pool2d_backward_planes.wgsl';
import maxBackwardRowsSource from './wgsl/max_pool2d_backward_rows.wgsl';
import avgForwardSource from './wgsl/avg_pool2d_forward.wgsl';
import avgBackwardSource from './wgsl/avg_pool2d_backward.wgsl';
import avgForwardRowsSource from './wgsl/avg_pool2d_forward_rows.wgsl';
import avgBackwardRowsSource from './wgsl/avg_pool2d_backward_rows.wgsl';
import { defineKernel, launch, grid1d } from './launch.js';
import { Uniforms } from './uniforms.js';
import { fillRange } from './fill.js';
import { Tensor, emptyTensor } from '../tensor/tensor.js';
import { gpu, isCpuAdapter } from '../tensor/device.js';
import { OpArgumentError, fmtShape } from '../tensor/errors.js';

const maxForwardKernel = defineKernel('max_pool2d_forward', maxForwardSource, ['read', 'read_write', 'read_write', 'uniform']);
const maxBackwardKernel = defineKernel('max_pool2d_backward', maxBackwardSource, ['read', 'read', 'read_write', 'uniform']);
const maxScatterKernel = defineKernel('max_pool2d_backward_scatter', maxScatterSource, ['read', 'read', 'read_write', 'uniform'], 'main');
const maxScatterZeroKernel = defineKernel('max_pool2d_backward_scatter', maxScatterSource, ['read', 'read', 'read_write', 'uniform'], 'zero');
const maxForwardRowsKernel = defineKernel('max_pool2d_forward_rows', maxForwardRowsSource, ['read', 'read_write', 'read_write', 'uniform']);
const maxForwardStripsKernel = defineKernel('max_pool2d_forward_strips', maxForwardStripsSource, ['read', 'read_write', 'read_write', 'uniform']);
const maxForwardPlanesKernel = defineKernel('max_pool2d_forward_planes', maxForwardPlanesSource, ['read', 'read_write', 'read_write', 'uniform']);
const maxForwardPlaneKernel = defineKernel('max_pool2d_forward_planes', maxForwardPlanesSource, ['read', 'read_write', 'read_write', 'uniform'], 'main_plane');
const maxBackwardPlanesKernel = defineKernel('max_pool2d_backward_planes', maxBackwardPlanesSource, ['read', 'read', 'read_write', 'uniform']);
const maxBackwardPlaneKernel = defineKernel('max_pool2d_backward_planes', maxBackwardPlanesSource, ['read', 'read', 'read_write', 'uniform'], 'main_plane');
const maxBackwardStripsKernel = defineKernel('max_pool2d_backward_strips', maxBackwardStripsSource, ['read', 'read', 'read_write', 'uniform']);
const maxBackwardRowsKernel = defineKernel('max_pool2d_backward_rows', maxBackwardRowsSource, ['read', 'read', 'read_write', 'uniform']);
/** The phased scatter runs ceil(Kh/sH) * ceil(Kw/sW) dispatches; beyond this many, gather. */
const MAX_SCATTER_PHASES = 9;
const avgForwardKernel = defineKernel('avg_pool2d_forward', avgForwardSource, ['read', 'read_write', 'uniform']);
const avgBackwardKernel = defineKernel('avg_pool2d_backward', avgBackwardSource, ['read', 'read_write', 'uniform']);
const avgForwardPlanesKernel = defineKernel('avg_pool2d_forward_planes', avgForwardPlanesSource, ['read', 'read_write', 'uniform']);
const avgForwardPlaneKernel = defineKernel('avg_pool2d_forward_planes', avgForwardPlanesSource, ['read', 'read_write', 'uniform'], 'main_plane');
const avgBackwardPlanesKernel = defineKernel('avg_pool2d_backward_planes', avgBackwardPlanesSource, ['read', 'read_write', 'uniform']);
const avgBackwardPlaneKernel = defineKernel('avg_pool2d_backward_planes', avgBackwardPlanesSource, ['read', 'read_write', 'uniform'], 'main_plane');
const avgForwardRowsKernel = defineKernel('avg_pool2d_forward_rows', avgForwardRowsSource, ['read', 'read_write', 'uniform']);
const avgBackwardRowsKernel = defineKernel('avg_pool2d_backward_rows', avgBackwardRowsSource, ['read', 'read_write', 'uniform']);
/** Lanes per workgroup of the flat-grid pooling kernels (also adaptive-pool.ts). */
export const WG = 256;
/** div_u32() in the kernels is exact below this (float estimate + one correction). */
export const MAX_PLANE_INDEX = 2 ** 23;

/**
 * The launch of a plane-grid kernel, `perPlane` invocations in each of `planes` planes: x covers
 * the plane, y the planes, spilling into z past the 65535-workgroup limit (kernels: plane =
 * wid.y + wid.z * nwg.y). Workgroups fit the plane (a power of 2, 8 to 256 lanes): a 4x4 output
 * plane in 256-lane workgroups left 240 lanes of each idle (max pooling on [32, 512, 7, 7]: 8% of
 * the copy ceiling). `constants` get that size as WG.
 */
export function planeLaunch(perPlane: number, planes: number, constants: Record<string, number> = {}): { workgroups: number[]; constants: Record<string, number> } {
  const wg = Math.min(WG, Math.max(8, 2 ** Math.ceil(Math.log2(Math.max(perPlane, 1)))));
  const z = Math.ceil(planes / 65535);
  return { workgroups: [Math.ceil(perPlane / wg), Math.ceil(planes / z), z], constants: { ...constants, WG: wg } };
}

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
  if ((H + pH + 1) * (W + pW + 1) >= MAX_PLANE_INDEX) throw new OpArgumentError(`${op}: planes of ${H}x${W} are too large (at most 2^23 values) (${at})`);
  return { N, C, H, W, OH, OW, kH, kW, sH, sW, pH, pW, dH, dW, ceilMode: spec.ceilMode, countIncludePad: spec.countIncludePad };
}

/** The Pool2dParams struct shared by the max/avg pooling kernels. */
function packPool2dParams(g: Pool2dGeometry): Uint8Array {
  return new Uniforms()
    .u32(g.N * g.C).u32(g.H).u32(g.W).u32(g.OH)
    .u32(g.OW).u32(g.pH).u32(g.pW).u32(g.countIncludePad ? 1 : 0)
    .f32(1 / g.W).f32(1 / g.OW).f32(-Infinity).u32(0)
    .finish();
}

/**
 * The window as pipeline constants (one pipeline per window shape, cached): the kernels' tap and
 * candidate loops then have fixed trip counts and divide by constants. CH x CW bounds how many
 * windows can contain one input.
 */
function windowConstants(g: Pool2dGeometry): Record<string, number> {
  return { WG, KH: g.kH, KW: g.kW, SH: g.sH, SW: g.sW };
}

/** Max pooling adds dilation, and for the gather backward the candidate counts CH, CW. */
function maxConstants(g: Pool2dGeometry, withCandidates = false): Record<string, number> {
  const c: Record<string, number> = { ...windowConstants(g), DH: g.dH, DW: g.dW };
  if (withCandidates) {
    c.CH = Math.ceil(((g.kH - 1) * g.dH + 1) / g.sH);
    c.CW = Math.ceil(((g.kW - 1) * g.dW + 1) / g.sW);
  }
  return c;
}

/**
 * Whether the vec4 row kernels (max_ and avg_pool2d_forward_rows.wgsl, max_ and
 * avg_pool2d_backward_rows.wgsl) take this geometry: whole vec4s per input and output row, no
 * dilation, and a window whose columns fit their register arrays (the numbers are the kernels'
 * derived constants OFF, NV and A0..A1, B0..B1, NVB). Measured on lavapipe against the
 * one-output kernels (bench/norm-pool.ts, same run): max pooling 3x3/s2 forward ~2.3x, backward
 * ~3x the phased scatter; average pooling 2x2/s2 ~2x forward, ~6x backward.
 */
export function poolRowsApply(g: Pool2dGeometry, pass: 'forward' | 'backward'): boolean {
  if (g.W % 4 !== 0 || g.OW % 4 !== 0 || g.dH !== 1 || g.dW !== 1) return false;
  if (pass === 'forward') return (4 - (g.pW % 4)) % 4 + 3 * g.sW + g.kW <= 16;
  if (g.sW > 2) return false;
  const { rows, vec4s } = backwardCandidates(g);
  return rows <= 4 && vec4s <= 3 && rows * vec4s <= 12;
}

/** The candidate outputs of a backward row block with one row of outputs: rows and vec4s (the kernels' A0..A1, NVB). */
function backwardCandidates(g: Pool2dGeometry): { rows: number; vec4s: number } {
  const rows = Math.floor((g.sH - 1 + g.pH) / g.sH) + Math.floor((g.kH - 1 - g.pH) / g.sH) + 1;
  const b0 = -Math.floor((g.kW - 1 - g.pW) / g.sW);
  const b1 = Math.floor((4 * g.sW - 1 + g.pW) / g.sW);
  return { rows, vec4s: Math.floor(b1 / 4) - Math.floor(b0 / 4) + 1 };
}

/**
 * Rows of outputs per block of max_pool2d_backward_rows.wgsl: on CPU adapters 2 where the
 * candidates of the larger block still fit its registers (one more candidate row; 1.0-1.1x on
 * lavapipe, where the strip kernel now runs instead unless a test forces this one), else 1. GPUs
 * keep 1 (twice the threads; 2 is unmeasured there).
 */
function maxBackwardBlockRows(g: Pool2dGeometry): number {
  const { rows, vec4s } = backwardCandidates(g);
  return rows + 1 <= 4 && (rows + 1) * vec4s <= 12 && isCpuAdapter(gpu().info) ? 2 : 1;
}

/** A row kernel forced by a test or benchmark (`method` 'rows') must apply: they assume its layout. */
function checkRows(g: Pool2dGeometry, pass: 'forward' | 'backward'): void {
  if (!poolRowsApply(g, pass)) throw new Error(`wgslgrad internal: the pooling row kernels do not take this ${pass} geometry (${JSON.stringify(g)})`);
}

/**
 * Output rows per invocation of the forward row kernels: 2 shares the middle input row of a
 * 3x3/s2 window between them (5 input rows for 2 output rows); 5-8% less CPU time than 1.
 */
const POOL_FORWARD_ROWS = 2;

/** The launch of a forward row kernel: grid and constants. */
function forwardRowsLaunch(g: Pool2dGeometry): { workgroups: [number, number]; constants: Record<string, number> } {
  const perPlane = Math.ceil(g.OH / POOL_FORWARD_ROWS) * (g.OW / 4);
  return {
    workgroups: grid1d(g.N * g.C * perPlane, WG),
    constants: { ...rowsConstants(g), QW: g.OW / 4, PER_PLANE: perPlane, ROWS: POOL_FORWARD_ROWS },
  };
}

/**
 * The launch of a backward row kernel: a block of blockRows*sH x 4*sW inputs per invocation
 * (max_pool2d_backward_rows.wgsl takes blockRows 1 or 2 as BR; avg_pool2d_backward_rows.wgsl 1).
 */
function backwardRowsLaunch(g: Pool2dGeometry, blockRows = 1): { workgroups: [number, number]; constants: Record<string, number> } {
  const CB = Math.ceil(g.W / (4 * g.sW));
  const perPlane = Math.ceil(g.H / (g.sH * blockRows)) * CB;
  const constants: Record<string, number> = { ...rowsConstants(g), CB, PER_PLANE: perPlane };
  if (blockRows !== 1) constants.BR = blockRows;
  return { workgroups: grid1d(g.N * g.C * perPlane, WG), constants };
}

/** Whether every window lies wholly inside the input: no padding, and no ceil-mode window past the edge. */
export function windowsInside(g: Pool2dGeometry): boolean {
  return g.pH === 0 && g.pW === 0 && (g.OH - 1) * g.sH + g.kH <= g.H && (g.OW - 1) * g.sW + g.kW <= g.W;
}

/** The rows kernels' constants: the window, and its padding (the kernels index with it). */
function rowsConstants(g: Pool2dGeometry): Record<string, number> {
  return { ...windowConstants(g), PH: g.pH, PW: g.pW };
}

/**
 * Whether the plane-group kernels (max_ and avg_pool2d_forward_planes.wgsl,
 * max_ and avg_pool2d_backward_planes.wgsl: one invocation pools four whole planes) take this
 * geometry: N*C a multiple of 4, no dilation, and planes of at most 8x8 inputs and outputs (one
 * call per row in the kernels, and registers for a plane's values).
 */
export function poolPlanesApply(g: Pool2dGeometry): boolean {
  return (g.N * g.C) % 4 === 0 && g.dH === 1 && g.dW === 1 && Math.max(g.H, g.W, g.OH, g.OW) <= 8;
}

/**
 * Whether the launchers pick the plane-group kernels: on CPU adapters (llvmpipe), where a lane
 * doing whole planes is what pays (on a GPU it would leave most of the device idle), for the
 * small planes: in the forward those the vec4 row kernels do not take, in the backward all of
 * them. On [32, 512, 7, 7] (bench/norm-pool.ts, CPU time, alternating runs with the one-output
 * kernels): max pooling forward 3-4x, backward 7-9x (against the phased scatter), average pooling
 * forward 3-5x, backward 8-10x. On 8x8 planes, with one plane per invocation, the backward beat
 * the row kernels' (seven alternating rounds, worker CPU time in relu's times, eleventh
 * session): [128,64,8,8] max 0.79-0.89 against the strip walk's 1.04-1.06, average 0.63-0.65
 * against 0.71; [256,32,8,8] 0.92 against 1.13 and 0.69 against 0.73; the forward did not
 * (max 1.03-1.15 against 0.77-0.93).
 */
function planesPicked(g: Pool2dGeometry, pass: 'forward' | 'backward'): boolean {
  return poolPlanesApply(g) && (pass === 'backward' || !poolRowsApply(g, pass)) && isCpuAdapter(gpu().info);
}

function checkPlanes(g: Pool2dGeometry): void {
  if (!poolPlanesApply(g)) throw new Error(`wgslgrad internal: the pooling plane kernels do not take this geometry (${JSON.stringify(g)})`);
}

/**
 * The launch of a plane-group kernel, the plane sizes as constants: one invocation per 4 planes,
 * or with `onePlane` (the kernels' `main_plane`) one per plane, the plane's place in its group in
 * z. One plane per invocation runs a quarter of the unrolled code per workgroup, which fits the
 * CPU's instruction cache far better (max_pool2d_forward_planes.wgsl's main_plane says why).
 */
function planesLaunch(g: Pool2dGeometry, onePlane: boolean): { workgroups: number[]; constants: Record<string, number> } {
  const wg = 64;
  return {
    workgroups: [...grid1d((g.N * g.C) / 4, wg), onePlane ? 4 : 1],
    constants: { ...windowConstants(g), WG: wg, PH: g.pH, PW: g.pW, H: g.H, W: g.W, OH: g.OH, OW: g.OW },
  };
}

/**
 * A forward plane kernel can run one plane per invocation: max pooling where each plane's
 * outputs are whole vec4s, average pooling where a plane has at least 4 outputs (it then also
 * pools the previous plane's outputs that share its first output vec4).
 */
const forwardOnePlane = (g: Pool2dGeometry, op: 'max' | 'avg'): boolean => (op === 'max' ? (g.OH * g.OW) % 4 === 0 : g.OH * g.OW >= 4);

/**
 * A backward plane kernel runs one plane per invocation where a plane's dx is whole 64-byte
 * cache lines (H*W % 16 == 0: 8x8, 4x4). On 7x7 planes, with the previous plane's shared dx vec4
 * gathered by the next plane's invocation, the one-plane passes were ~1.15x (max) and ~1.05x
 * (average) faster in most processes but ran at half speed in some (max 3 of 10, average 5 of
 * 23; CPU time doubled with it: memory stalls, from what I could not establish), where the
 * four-plane passes never did: the four-plane passes keep 7x7.
 */
const backwardOnePlane = (g: Pool2dGeometry): boolean => (g.H * g.W) % 16 === 0;

/**
 * The forward kernels: four planes per invocation, strips of 4 output columns down a run of rows
 * (max pooling only), vec4 rows, one output per invocation.
 */
export type PoolForwardMethod = 'planes' | 'strips' | 'rows' | 'plain';

/**
 * Whether max_pool2d_forward_strips.wgsl takes this geometry: the row kernel's, with windows at
 * least as tall as the stride (consecutive output rows share KH - SH window rows) and at most 4
 * of each kind of row in its register arrays.
 */
export function poolStripsApply(g: Pool2dGeometry): boolean {
  return poolRowsApply(g, 'forward') && g.kH >= g.sH && g.kH - g.sH <= 4 && g.sH <= 4;
}

/**
 * Output rows (forward) or blocks of input rows (backward) per invocation of the strip kernels:
 * 32 to 56 measured alike, 8 and 16 slower (each run reads its first shared rows again).
 */
const POOL_STRIP_RUN = 32;

/** The forward kernel the launchers run for this geometry (strips and planes: CPU adapters only). */
function forwardMethod(g: Pool2dGeometry, op: 'max' | 'avg'): PoolForwardMethod {
  if (planesPicked(g, 'forward')) return 'planes';
  if (op === 'max' && poolStripsApply(g) && isCpuAdapter(gpu().info)) return 'strips';
  return poolRowsApply(g, 'forward') ? 'rows' : 'plain';
}

/** A forced method must apply (tests, benchmarks); the launchers' pick otherwise. */
function resolveForward(g: Pool2dGeometry, method: PoolForwardMethod | undefined, op: 'max' | 'avg'): PoolForwardMethod {
  if (method === 'rows') checkRows(g, 'forward');
  if (method === 'planes') checkPlanes(g);
  if (method === 'strips' && (op !== 'max' || !poolStripsApply(g))) throw new Error(`wgslgrad internal: the strip kernel does not take this ${op} pooling geometry (${JSON.stringify(g)})`);
  return method ?? forwardMethod(g, op);
}

/** Max pooling of a plain x: returns y and the int32 argmax (ih * W + iw) of each window. */
export function maxPool2dForward(x: Tensor, g: Pool2dGeometry, method?: PoolForwardMethod): { y: Tensor; argmax: Tensor } {
  method = resolveForward(g, method, 'max');
  const shape = [g.N, g.C, g.OH, g.OW];
  const y = emptyTensor(shape, 'float32', 'maxPool2d');
  const argmax = emptyTensor(shape, 'int32', 'maxPool2d argmax');
  if (method === 'strips') {
    const QW = g.OW / 4;
    const perPlane = Math.ceil(g.OH / POOL_STRIP_RUN) * QW;
    launch(maxForwardStripsKernel, {
      buffers: [x.buffer, y.buffer, argmax.buffer],
      params: packPool2dParams(g),
      workgroups: grid1d(g.N * g.C * perPlane, 64),
      constants: { ...rowsConstants(g), WG: 64, QW, PER_PLANE: perPlane, RUN: POOL_STRIP_RUN },
      label: 'maxPool2d forward',
    });
    return { y, argmax };
  }
  if (method === 'planes') {
    const onePlane = forwardOnePlane(g, 'max');
    launch(onePlane ? maxForwardPlaneKernel : maxForwardPlanesKernel, {
      buffers: [x.buffer, y.buffer, argmax.buffer],
      params: packPool2dParams(g),
      ...planesLaunch(g, onePlane),
      label: 'maxPool2d forward',
    });
    return { y, argmax };
  }
  if (method === 'rows') {
    launch(maxForwardRowsKernel, {
      buffers: [x.buffer, y.buffer, argmax.buffer],
      params: packPool2dParams(g),
      ...forwardRowsLaunch(g),
      label: 'maxPool2d forward',
    });
    return { y, argmax };
  }
  launch(maxForwardKernel, {
    buffers: [x.buffer, y.buffer, argmax.buffer],
    params: packPool2dParams(g),
    ...planeLaunch(g.OH * g.OW, g.N * g.C, maxConstants(g)),
    label: 'maxPool2d forward',
  });
  return { y, argmax };
}

/**
 * dx of max pooling from a plain gy and the saved argmax. On CPU adapters: for small planes the
 * plane gather of max_pool2d_backward_planes.wgsl, else where the row kernel applies the strip
 * walk of max_pool2d_backward_strips.wgsl. Elsewhere the block gather of
 * max_pool2d_backward_rows.wgsl where it applies, else the phased scatter
 * (max_pool2d_backward_scatter.wgsl) when the windows overlap little, else the one-input gather
 * (max_pool2d_backward.wgsl). `method` forces one (tests, benchmarks).
 */
export function maxPool2dBackward(gy: Tensor, argmax: Tensor, g: Pool2dGeometry, method?: 'planes' | 'strips' | 'rows' | 'scatter' | 'gather'): Tensor {
  if (method === 'rows' || method === 'strips') checkRows(g, 'backward');
  if (method === 'planes') checkPlanes(g);
  if (method ? method === 'planes' : planesPicked(g, 'backward')) {
    const dx = emptyTensor([g.N, g.C, g.H, g.W], 'float32', 'maxPool2d dx');
    const onePlane = backwardOnePlane(g);
    launch(onePlane ? maxBackwardPlaneKernel : maxBackwardPlanesKernel, {
      buffers: [gy.buffer, argmax.buffer, dx.buffer],
      params: packPool2dParams(g),
      ...planesLaunch(g, onePlane),
      label: 'maxPool2d backward',
    });
    return dx;
  }
  if (method ? method === 'strips' : poolRowsApply(g, 'backward') && isCpuAdapter(gpu().info)) {
    const dx = emptyTensor([g.N, g.C, g.H, g.W], 'float32', 'maxPool2d dx');
    const CB = Math.ceil(g.W / (4 * g.sW));
    const perPlane = Math.ceil(Math.ceil(g.H / g.sH) / POOL_STRIP_RUN) * CB;
    launch(maxBackwardStripsKernel, {
      buffers: [gy.buffer, argmax.buffer, dx.buffer],
      params: packPool2dParams(g),
      workgroups: grid1d(g.N * g.C * perPlane, 64),
      constants: { ...rowsConstants(g), WG: 64, CB, PER_PLANE: perPlane, RUN: POOL_STRIP_RUN },
      label: 'maxPool2d backward',
    });
    return dx;
  }
  if (method ? method === 'rows' : poolRowsApply(g, 'backward')) {
    const dx = emptyTensor([g.N, g.C, g.H, g.W], 'float32', 'maxPool2d dx');
    launch(maxBackwardRowsKernel, {
      buffers: [gy.buffer, argmax.buffer, dx.buffer],
      params: packPool2dParams(g),
      ...backwardRowsLaunch(g, maxBackwardBlockRows(g)),
      label: 'maxPool2d backward',
    });
    return dx;
  }
  const PH = Math.ceil(((g.kH - 1) * g.dH + 1) / g.sH);
  const PW = Math.ceil(((g.kW - 1) * g.dW + 1) / g.sW);
  const scatter = method ? method === 'scatter' : PH * PW <= MAX_SCATTER_PHASES;
  if (!scatter) {
    const dx = emptyTensor([g.N, g.C, g.H, g.W], 'float32', 'maxPool2d dx');
    launch(maxBackwardKernel, {
      buffers: [gy.buffer, argmax.buffer, dx.buffer],
      params: packPool2dParams(g),
      ...planeLaunch(g.H * g.W, g.N * g.C, maxConstants(g, true)),
      label: 'maxPool2d backward',
    });
    return dx;
  }
  const planes = g.N * g.C;
  const total = planes * g.H * g.W;
  const shape = [g.N, g.C, g.H, g.W];
  const dx = total % 4 === 0 ? emptyTensor(shape, 'float32', 'maxPool2d dx') : fillRange(shape, 'float32', 0, 0);
  const buffers = [gy.buffer, argmax.buffer, dx.buffer];
  const pack = (ph: number, pw: number, rows: number, cols: number) =>
    new Uniforms()
      .u32(planes).u32(g.H).u32(g.W).u32(g.OH)
      .u32(g.OW).u32(ph).u32(pw).u32(PH)
      .u32(PW).u32(rows).u32(cols).f32(1 / Math.max(cols, 1))
      .u32(total).u32(0).u32(0).u32(0)
      .finish();
  if (total % 4 === 0) {
    launch(maxScatterZeroKernel, {
      buffers,
      params: pack(0, 0, 0, 0),
      workgroups: grid1d(total / 4, WG),
      constants: { WG },
      label: 'maxPool2d backward zero',
    });
  }
  for (let ph = 0; ph < PH; ph++) {
    for (let pw = 0; pw < PW; pw++) {
      const rows = Math.ceil((g.OH - ph) / PH);
      const cols = Math.ceil((g.OW - pw) / PW);
      if (rows <= 0 || cols <= 0) continue;
      launch(maxScatterKernel, {
        buffers,
        params: pack(ph, pw, rows, cols),
        ...planeLaunch(rows * cols, planes),
        label: 'maxPool2d backward scatter',
      });
    }
  }
  return dx;
}

/** Average pooling of a plain x: the four-plane or vec4 row kernel where picked; `method` forces one. */
export function avgPool2dForward(x: Tensor, g: Pool2dGeometry, method?: PoolForwardMethod): Tensor {
  method = resolveForward(g, method, 'avg');
  const y = emptyTensor([g.N, g.C, g.OH, g.OW], 'float32', 'avgPool2d');
  if (method === 'planes') {
    const onePlane = forwardOnePlane(g, 'avg');
    launch(onePlane ? avgForwardPlaneKernel : avgForwardPlanesKernel, { buffers: [x.buffer, y.buffer], params: packPool2dParams(g), ...planesLaunch(g, onePlane), label: 'avgPool2d forward' });
    return y;
  }
  if (method === 'rows') {
    // Windows wholly inside the input skip the bounds checks and the per-window divisors:
    // 0.82-0.92x the CPU time on lavapipe (2x2/s2 on 32x32 to 64x64 planes), same bits.
    const rows = forwardRowsLaunch(g);
    if (windowsInside(g)) rows.constants.INSIDE = 1;
    launch(avgForwardRowsKernel, { buffers: [x.buffer, y.buffer], params: packPool2dParams(g), ...rows, label: 'avgPool2d forward' });
    return y;
  }
  launch(avgForwardKernel, {
    buffers: [x.buffer, y.buffer],
    params: packPool2dParams(g),
    ...planeLaunch(g.OH * g.OW, g.N * g.C, windowConstants(g)),
    label: 'avgPool2d forward',
  });
  return y;
}

/** dx of average pooling from a plain gy: the four-plane or vec4 block gather where picked; `method` forces one. */
export function avgPool2dBackward(gy: Tensor, g: Pool2dGeometry, method?: 'planes' | 'rows' | 'plain'): Tensor {
  if (method === 'rows') checkRows(g, 'backward');
  if (method === 'planes') checkPlanes(g);
  const dx = emptyTensor([g.N, g.C, g.H, g.W], 'float32', 'avgPool2d dx');
  if (method ? method === 'planes' : planesPicked(g, 'backward')) {
    const onePlane = backwardOnePlane(g);
    launch(onePlane ? avgBackwardPlaneKernel : avgBackwardPlanesKernel, { buffers: [gy.buffer, dx.buffer], params: packPool2dParams(g), ...planesLaunch(g, onePlane), label: 'avgPool2d backward' });
    return dx;
  }
  if (method ? method === 'rows' : poolRowsApply(g, 'backward')) {
    launch(avgBackwardRowsKernel, { buffers: [gy.buffer, dx.buffer], params: packPool2dParams(g), ...backwardRowsLaunch(g), label: 'avgPool2d backward' });
    return dx;
  }
  launch(avgBackwardKernel, {
    buffers: [gy.buffer, dx.buffer],
    params: packPool2dParams(g),
    ...planeLaunch(g.H * g.W, g.N * g.C, { ...windowConstants(g), CH: Math.ceil(g.kH / g.sH), CW: Math.ceil(g.kW / g.sW) }),
    label: 'avgPool2d backward',
  });
  return dx;
}
