// SPDX-License-Identifier: MIT
// Launchers for sgd_update.wgsl and adam_update.wgsl: one fused in-place optimizer update per
// parameter tensor (no autograd; the optimizers in src/nn/optim call these).

import sgdSource from './wgsl/sgd_update.wgsl';
import sgdMultiSource from './wgsl/sgd_update_multi.wgsl';
import adamSource from './wgsl/adam_update.wgsl';
import { defineKernel, launch, grid1d } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor } from '../tensor/tensor.js';
import { gpu, type GpuContext } from '../tensor/device.js';
import { copyContiguous } from './copy.js';

const sgdKernel = defineKernel('sgd_update', sgdSource, ['read_write', 'read', 'read_write', 'uniform']);
/** Parameters per dispatch in sgd_update_multi.wgsl (3 storage bindings each). */
const SLOTS = 4;
const SLOT_BINDINGS = ['read_write', 'read', 'read_write'] as const;
const sgdMultiKernel = defineKernel('sgd_update_multi', sgdMultiSource, [...Array.from({ length: SLOTS }, () => SLOT_BINDINGS).flat(), 'uniform']);
const adamKernel = defineKernel('adam_update', adamSource, ['read_write', 'read', 'read_write', 'read_write', 'read_write', 'uniform']);

/** Workgroup size and vec4s per invocation (the kernels' `override` constants). */
export interface UpdateLaunch {
  wg: number;
  vec: number;
}
/**
 * Chosen with bench/optim.ts on lavapipe (2 shared cores, noisy): one vec4 per invocation in
 * workgroups of 256 was the best or near it for both SGD and Adam (~5.6 and ~6.6 GB/s best-of-3);
 * VEC=4 was 10-25% slower for Adam. Any values are correct. The bench mutates this to sweep.
 */
export const DEFAULT_UPDATE_LAUNCH: UpdateLaunch = { wg: 256, vec: 1 };

export interface SgdHyper {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
  maximize: boolean;
  /** First momentum step: the buffer is initialised to the gradient (no dampening). */
  firstStep: boolean;
}

export interface AdamHyper {
  beta1: number;
  beta2: number;
  eps: number;
  /** L2 coefficient added to the gradient (Adam); 0 for AdamW. */
  weightDecay: number;
  /** Multiplies the parameter first: 1 - lr * weightDecay (AdamW); 1 for Adam. */
  decayFactor: number;
  /** lr / (1 - beta1^t). */
  stepSize: number;
  /** sqrt(1 - beta2^t). */
  biasCorrection2Sqrt: number;
  amsgrad: boolean;
  maximize: boolean;
  /** The state tensors hold no data yet: the kernel treats them as zeros. */
  firstStep: boolean;
}

// A 16-byte buffer bound where a kernel declares a state binding the update does not use
// (momentum 0, amsgrad off). It lives outside the buffer pool, like the uniform arena.
let dummy: { ctx: GpuContext; buffer: GPUBuffer } | null = null;
function dummyBuffer(): GPUBuffer {
  const ctx = gpu();
  if (dummy?.ctx !== ctx) {
    dummy = { ctx, buffer: ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE, label: 'optimizer unused state' }) };
  }
  return dummy.buffer;
}

// Placeholders for the multi-parameter kernel's unused bindings. A buffer bound writable may not
// be bound twice in one dispatch, so each writable binding of a slot gets its own.
let placeholders: { ctx: GpuContext; writable: GPUBuffer[] } | null = null;
function placeholder(binding: number): GPUBuffer {
  const ctx = gpu();
  if (placeholders?.ctx !== ctx) {
    const make = (i: number) => ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE, label: `sgd_update_multi placeholder ${i}` });
    placeholders = { ctx, writable: Array.from({ length: 3 * SLOTS }, (_, i) => make(i)) };
  }
  return placeholders.writable[binding];
}

/** The gradient as a vec4-aligned view: itself, or a contiguous copy the caller disposes. */
function alignedGrad(grad: Tensor): Tensor {
  return grad.isContiguous && grad.offset % 4 === 0 ? grad : copyContiguous(grad);
}

function checkParam(param: Tensor): void {
  if (!param.isContiguous || param.offset % 4 !== 0) {
    throw new Error(`wgslgrad internal: optimizer update of ${param.describe()} needs a contiguous parameter at an offset that is a multiple of 4`);
  }
}

function workgroups(n: number, cfg: UpdateLaunch): [number, number] {
  return grid1d(Math.ceil(n / 4), cfg.wg * cfg.vec);
}

/** param -= lr * (SGD direction), in place; `momentumBuffer` is updated in place too. */
export function sgdUpdate(param: Tensor, grad: Tensor, momentumBuffer: Tensor | null, h: SgdHyper, cfg = DEFAULT_UPDATE_LAUNCH): void {
  checkParam(param);
  const g = alignedGrad(grad);
  const n = param.size;
  const params = new Uniforms()
    .u32(n).u32(param.offset / 4).u32(g.offset / 4).u32(momentumBuffer ? 1 : 0)
    .u32(h.firstStep ? 1 : 0).u32(h.nesterov ? 1 : 0).u32(h.maximize ? 1 : 0).u32(0)
    .f32(h.lr).f32(h.momentum).f32(h.dampening).f32(h.weightDecay)
    .finish();
  launch(sgdKernel, {
    buffers: [param.buffer, g.buffer, momentumBuffer?.buffer ?? dummyBuffer()],
    params,
    workgroups: workgroups(n, cfg),
    constants: { WG: cfg.wg, VEC: cfg.vec },
    label: 'sgd_update',
  });
  if (g !== grad) g.dispose();
}

/** One parameter's share of an SGD step (see sgdUpdateMany). */
export interface SgdItem {
  param: Tensor;
  grad: Tensor;
  momentumBuffer: Tensor | null;
  /** Its first momentum step: the buffer is initialised to the gradient. */
  firstStep: boolean;
}

let multiEnabled = true;
/** Use sgd_update_multi.wgsl where the adapter can (default), or one dispatch per parameter; for tests and benchmarks. */
export function setMultiTensorSgd(on: boolean): boolean {
  const old = multiEnabled;
  multiEnabled = on;
  return old;
}

/** Whether this device can run sgd_update_multi.wgsl (12 storage bindings, pointer parameters). */
function multiAvailable(): boolean {
  const ctx = gpu();
  return ctx.wgslFeatures.has('unrestricted_pointer_parameters') && ctx.device.limits.maxStorageBuffersPerShaderStage >= 3 * SLOTS;
}

/**
 * One SGD step of several parameters with the same hyperparameters: SLOTS per dispatch with
 * sgd_update_multi.wgsl where the device allows it, else one dispatch each (sgdUpdate). A
 * parameter whose buffers another of the dispatch also binds (views of one buffer) starts a new
 * dispatch, since WebGPU forbids binding a written buffer twice.
 */
export function sgdUpdateMany(items: readonly SgdItem[], h: Omit<SgdHyper, 'firstStep'>, cfg = DEFAULT_UPDATE_LAUNCH): void {
  if (!multiEnabled || cfg.vec !== 1 || items.length < 2 || !multiAvailable()) {
    for (const it of items) sgdUpdate(it.param, it.grad, it.momentumBuffer, { ...h, firstStep: it.firstStep }, cfg);
    return;
  }
  let chunk: SgdItem[] = [];
  const bound = new Set<GPUBuffer>();
  for (const it of items) {
    const buffers = [it.param.buffer, it.grad.buffer, ...(it.momentumBuffer ? [it.momentumBuffer.buffer] : [])];
    if (new Set(buffers).size < buffers.length) {
      sgdUpdate(it.param, it.grad, it.momentumBuffer, { ...h, firstStep: it.firstStep }, cfg); // aliases itself
      continue;
    }
    if (chunk.length === SLOTS || buffers.some((b) => bound.has(b))) {
      launchSgdMulti(chunk, h, cfg);
      chunk = [];
      bound.clear();
    }
    chunk.push(it);
    for (const b of buffers) bound.add(b);
  }
  if (chunk.length > 0) launchSgdMulti(chunk, h, cfg);
}

function launchSgdMulti(chunk: SgdItem[], h: Omit<SgdHyper, 'firstStep'>, cfg: UpdateLaunch): void {
  if (chunk.length === 1) {
    const [it] = chunk;
    sgdUpdate(it.param, it.grad, it.momentumBuffer, { ...h, firstStep: it.firstStep }, cfg);
    return;
  }
  const params = new Uniforms();
  const buffers: GPUBuffer[] = [];
  const copies: Tensor[] = [];
  let groups = 0;
  for (let k = 0; k < SLOTS; k++) {
    const it = chunk[k];
    if (!it) {
      params.u32(0).u32(0).u32(0).u32(groups).u32(0).u32(0).u32(0).u32(0);
      buffers.push(placeholder(3 * k), placeholder(3 * k + 1), placeholder(3 * k + 2));
      continue;
    }
    checkParam(it.param);
    const g = alignedGrad(it.grad);
    if (g !== it.grad) copies.push(g);
    const n = it.param.size;
    params.u32(n).u32(it.param.offset / 4).u32(g.offset / 4).u32(groups).u32(it.firstStep ? 1 : 0).u32(0).u32(0).u32(0);
    buffers.push(it.param.buffer, g.buffer, it.momentumBuffer?.buffer ?? placeholder(3 * k + 2));
    groups += Math.ceil(Math.ceil(n / 4) / cfg.wg);
  }
  params.u32(chunk[0].momentumBuffer ? 1 : 0).u32(h.nesterov ? 1 : 0).u32(h.maximize ? 1 : 0).u32(0)
    .f32(h.lr).f32(h.momentum).f32(h.dampening).f32(h.weightDecay);
  launch(sgdMultiKernel, {
    buffers,
    params: params.finish(),
    workgroups: grid1d(groups * cfg.wg, cfg.wg),
    constants: { WG: cfg.wg },
    label: 'sgd_update',
  });
  for (const c of copies) c.dispose();
}

/** One Adam/AdamW step of `param`, in place; the state tensors are updated in place too. */
export function adamUpdate(
  param: Tensor,
  grad: Tensor,
  expAvg: Tensor,
  expAvgSq: Tensor,
  maxExpAvgSq: Tensor | null,
  h: AdamHyper,
  cfg = DEFAULT_UPDATE_LAUNCH,
): void {
  checkParam(param);
  if (h.amsgrad && !maxExpAvgSq) throw new Error('wgslgrad internal: amsgrad update without max_exp_avg_sq');
  const g = alignedGrad(grad);
  const n = param.size;
  const params = new Uniforms()
    .u32(n).u32(param.offset / 4).u32(g.offset / 4).u32(h.firstStep ? 1 : 0)
    .u32(h.amsgrad ? 1 : 0).u32(h.maximize ? 1 : 0).u32(0).u32(0)
    .f32(h.beta1).f32(h.beta2).f32(h.eps).f32(h.weightDecay)
    .f32(h.decayFactor).f32(h.stepSize).f32(h.biasCorrection2Sqrt).f32(0)
    .finish();
  launch(adamKernel, {
    buffers: [param.buffer, g.buffer, expAvg.buffer, expAvgSq.buffer, (h.amsgrad && maxExpAvgSq?.buffer) || dummyBuffer()],
    params,
    workgroups: workgroups(n, cfg),
    constants: { WG: cfg.wg, VEC: cfg.vec },
    label: 'adam_update',
  });
  if (g !== grad) g.dispose();
}
