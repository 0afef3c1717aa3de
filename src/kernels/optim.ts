// SPDX-License-Identifier: MIT
// Launchers for sgd_update.wgsl and adam_update.wgsl (one fused in-place optimizer update per
// parameter tensor) and their multi-parameter forms sgd_update_multi.wgsl / adam_update_multi.wgsl
// (4 / 3 tensors per dispatch where the adapter allows). No autograd; src/nn/optim calls these.

import sgdSource from './wgsl/sgd_update.wgsl';
import sgdMultiSource from './wgsl/sgd_update_multi.wgsl';
import adamMultiSource from './wgsl/adam_update_multi.wgsl';
import adamSource from './wgsl/adam_update.wgsl';
import { defineKernel, launch, grid1d, type Kernel } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor } from '../tensor/tensor.js';
import { gpu, isCpuAdapter, type GpuContext } from '../tensor/device.js';
import { copyContiguous } from './copy.js';
import { rawBuffer, type BufferRef } from '../tensor/storage.js';

const sgdKernel = defineKernel('sgd_update', sgdSource, ['read_write', 'read', 'read_write', 'uniform']);
/** Parameters per dispatch in sgd_update_multi.wgsl (3 storage bindings each: param, grad, momentum). */
const SGD_SLOTS = 4;
const sgdMultiKernel = defineKernel('sgd_update_multi', sgdMultiSource, [
  ...Array.from({ length: SGD_SLOTS }, () => ['read_write', 'read', 'read_write'] as const).flat(), 'uniform',
]);
/** Parameters per dispatch in adam_update_multi.wgsl (5 storage bindings each: param, grad, m, v, vmax). */
const ADAM_SLOTS = 3;
const adamMultiKernel = defineKernel('adam_update_multi', adamMultiSource, [
  ...Array.from({ length: ADAM_SLOTS }, () => ['read_write', 'read', 'read_write', 'read_write', 'read_write'] as const).flat(), 'uniform',
]);
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

/**
 * The launch of a fused optimizer's one update over its whole arena (src/nn/optim/flat.ts). On a
 * CPU adapter an invocation takes several vec4s: fewer, longer workgroups. For ResNet-20's arena
 * (0.27 M floats) that cost lavapipe ~20% less CPU time per SGD step with 8 than with 1, and ~10%
 * less per Adam step with 4 (a CPU-time comparison of 1, 4, 8 and 16, four rounds each); over
 * ResNet-18's parameters SGD ran at 93-142% of the copy ceiling with 8 against 85-129% with 1,
 * and Adam alike with 4 and 1 (`bench/optim.js`, three runs). On an H100 VEC=4 and 8 ran at half
 * the speed of 1, so GPUs keep DEFAULT_UPDATE_LAUNCH.
 */
export const FLAT_CPU_LAUNCH: Record<'sgd' | 'adam', UpdateLaunch> = { sgd: { wg: 256, vec: 8 }, adam: { wg: 256, vec: 4 } };

export function flatUpdateLaunch(kind: 'sgd' | 'adam'): UpdateLaunch {
  return isCpuAdapter(gpu().info) ? FLAT_CPU_LAUNCH[kind] : DEFAULT_UPDATE_LAUNCH;
}

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

// Placeholders for the multi-parameter kernels' unused bindings. A buffer bound writable may not
// be bound twice in one dispatch, so each binding gets its own.
let placeholders: { ctx: GpuContext; buffers: GPUBuffer[] } | null = null;
function placeholder(binding: number): GPUBuffer {
  const ctx = gpu();
  if (placeholders?.ctx !== ctx) placeholders = { ctx, buffers: [] };
  placeholders.buffers[binding] ??= ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE, label: `optimizer placeholder ${binding}` });
  return placeholders.buffers[binding];
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
/** Use the multi-parameter kernels where the adapter can (default), or one dispatch per parameter; for tests and benchmarks. */
export function setMultiTensorUpdates(on: boolean): boolean {
  const old = multiEnabled;
  multiEnabled = on;
  return old;
}

/** Whether this device can run a multi-parameter kernel with `bindings` storage bindings (pointer parameters, enough bindings). */
function multiAvailable(bindings: number): boolean {
  const ctx = gpu();
  return multiEnabled && ctx.wgslFeatures.has('unrestricted_pointer_parameters') && ctx.device.limits.maxStorageBuffersPerShaderStage >= bindings;
}

/**
 * Cut a group's updates into dispatches of at most `slots` parameters, none binding a buffer twice
 * (WebGPU forbids binding a written buffer twice in one dispatch: views of one buffer go to
 * different dispatches). `one` updates a parameter alone, `many` a chunk of two or more.
 */
function inChunks<T>(items: readonly T[], slots: number, buffersOf: (t: T) => BufferRef[], one: (t: T) => void, many: (chunk: T[]) => void): void {
  let chunk: T[] = [];
  const bound = new Set<GPUBuffer>();
  const flush = () => {
    if (chunk.length === 1) one(chunk[0]);
    else if (chunk.length > 1) many(chunk);
    chunk = [];
    bound.clear();
  };
  for (const it of items) {
    // By whole GPUBuffer: ranges of one buffer (a fused optimizer's arenas) count as one buffer.
    const buffers = buffersOf(it).map(rawBuffer);
    if (new Set(buffers).size < buffers.length) {
      one(it); // binds one buffer twice itself
      continue;
    }
    if (chunk.length === slots || buffers.some((b) => bound.has(b))) flush();
    chunk.push(it);
    for (const b of buffers) bound.add(b);
  }
  flush();
}

/** What a multi-parameter kernel needs per slot beyond the common fields, and for the group. */
interface SlotLayout<T> {
  kernel: Kernel;
  slots: number;
  label: string;
  /** The slot struct's fields after (n, param_offset, grad_offset, first_group, first_step). */
  slotFields: (u: Uniforms, it: T | undefined) => void;
  /** The slot's bindings, param and grad first; null or undefined binds a placeholder. */
  slotBuffers: (it: T | undefined, grad: Tensor | undefined) => Array<BufferRef | null | undefined>;
  /** The group's fields after the slots. */
  groupFields: (u: Uniforms, chunk: T[]) => void;
}

/**
 * One dispatch of a multi-parameter kernel over `chunk`: the slots' workgroups follow one
 * another (slot k owns first_group[k] onwards), unused slots have n = 0 and placeholder buffers.
 */
function launchSlots<T extends { param: Tensor; grad: Tensor; firstStep: boolean }>(layout: SlotLayout<T>, chunk: T[], cfg: UpdateLaunch): void {
  chunk.forEach((it) => checkParam(it.param));
  const grads = chunk.map((it) => alignedGrad(it.grad));
  const params = new Uniforms();
  const buffers: BufferRef[] = [];
  let groups = 0;
  for (let k = 0; k < layout.slots; k++) {
    const it = chunk[k];
    params.u32(it ? it.param.size : 0).u32(it ? it.param.offset / 4 : 0).u32(it ? grads[k].offset / 4 : 0).u32(groups).u32(it?.firstStep ? 1 : 0);
    layout.slotFields(params, it);
    const slot = layout.slotBuffers(it, grads[k]);
    slot.forEach((b, j) => buffers.push(b ?? placeholder(slot.length * k + j)));
    if (it) groups += Math.ceil(Math.ceil(it.param.size / 4) / cfg.wg);
  }
  layout.groupFields(params, chunk);
  launch(layout.kernel, { buffers, params: params.finish(), workgroups: grid1d(groups * cfg.wg, cfg.wg), constants: { WG: cfg.wg }, label: layout.label });
  grads.forEach((g, k) => { if (g !== chunk[k].grad) g.dispose(); });
}

/**
 * One SGD step of several parameters with the same hyperparameters: SGD_SLOTS per dispatch with
 * sgd_update_multi.wgsl where the device allows it, else one dispatch each (sgdUpdate).
 */
export function sgdUpdateMany(items: readonly SgdItem[], h: Omit<SgdHyper, 'firstStep'>, cfg = DEFAULT_UPDATE_LAUNCH): void {
  const one = (it: SgdItem) => sgdUpdate(it.param, it.grad, it.momentumBuffer, { ...h, firstStep: it.firstStep }, cfg);
  if (cfg.vec !== 1 || !multiAvailable(3 * SGD_SLOTS)) {
    items.forEach(one);
    return;
  }
  const buffersOf = (it: SgdItem) => [it.param.buffer, it.grad.buffer, ...(it.momentumBuffer ? [it.momentumBuffer.buffer] : [])];
  const layout: SlotLayout<SgdItem> = {
    kernel: sgdMultiKernel,
    slots: SGD_SLOTS,
    label: 'sgd_update',
    slotFields: (u) => u.u32(0).u32(0).u32(0),
    slotBuffers: (it, grad) => [it?.param.buffer, grad?.buffer, it?.momentumBuffer?.buffer],
    // A group keeps momentum buffers for all its parameters or for none (SGD.updateParam).
    groupFields: (u, chunk) => u.u32(chunk[0].momentumBuffer ? 1 : 0).u32(h.nesterov ? 1 : 0).u32(h.maximize ? 1 : 0).u32(0)
      .f32(h.lr).f32(h.momentum).f32(h.dampening).f32(h.weightDecay),
  };
  inChunks(items, SGD_SLOTS, buffersOf, one, (chunk) => launchSlots(layout, chunk, cfg));
}

/** One parameter's share of an Adam step (see adamUpdateMany). */
export interface AdamItem {
  param: Tensor;
  grad: Tensor;
  expAvg: Tensor;
  expAvgSq: Tensor;
  maxExpAvgSq: Tensor | null;
  /** What depends on the parameter's own step count t: lr / (1 - beta1^t), sqrt(1 - beta2^t). */
  stepSize: number;
  biasCorrection2Sqrt: number;
  /** Its state tensors hold no data yet. */
  firstStep: boolean;
}

/** A group's Adam hyperparameters, less what depends on each parameter's step count. */
export type AdamGroupHyper = Omit<AdamHyper, 'stepSize' | 'biasCorrection2Sqrt' | 'firstStep'>;

/**
 * One Adam/AdamW step of several parameters with the same hyperparameters: ADAM_SLOTS per
 * dispatch with adam_update_multi.wgsl where the device allows it, else one dispatch each.
 */
export function adamUpdateMany(items: readonly AdamItem[], h: AdamGroupHyper, cfg = DEFAULT_UPDATE_LAUNCH): void {
  const one = (it: AdamItem) => adamUpdate(it.param, it.grad, it.expAvg, it.expAvgSq, it.maxExpAvgSq,
    { ...h, stepSize: it.stepSize, biasCorrection2Sqrt: it.biasCorrection2Sqrt, firstStep: it.firstStep }, cfg);
  if (cfg.vec !== 1 || !multiAvailable(5 * ADAM_SLOTS)) {
    items.forEach(one);
    return;
  }
  const buffersOf = (it: AdamItem) =>
    [it.param.buffer, it.grad.buffer, it.expAvg.buffer, it.expAvgSq.buffer, ...(h.amsgrad && it.maxExpAvgSq ? [it.maxExpAvgSq.buffer] : [])];
  const layout: SlotLayout<AdamItem> = {
    kernel: adamMultiKernel,
    slots: ADAM_SLOTS,
    label: 'adam_update',
    slotFields: (u, it) => u.f32(it?.stepSize ?? 0).f32(it?.biasCorrection2Sqrt ?? 1).u32(0),
    slotBuffers: (it, grad) => [it?.param.buffer, grad?.buffer, it?.expAvg.buffer, it?.expAvgSq.buffer, h.amsgrad ? it?.maxExpAvgSq?.buffer : null],
    groupFields: (u) => u.u32(h.amsgrad ? 1 : 0).u32(h.maximize ? 1 : 0).u32(0).u32(0)
      .f32(h.beta1).f32(h.beta2).f32(h.eps).f32(h.weightDecay).f32(h.decayFactor).f32(0).f32(0).f32(0),
  };
  inChunks(items, ADAM_SLOTS, buffersOf, one, (chunk) => {
    if (h.amsgrad && chunk.some((it) => !it.maxExpAvgSq)) throw new Error('wgslgrad internal: amsgrad update without max_exp_avg_sq');
    launchSlots(layout, chunk, cfg);
  });
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
