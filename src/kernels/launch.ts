// SPDX-License-Identifier: MIT
// The one path from a launcher to the GPU: a kernel is declared once (its WGSL source and the
// access mode of each binding), its pipelines are cached per specialisation (`override`
// constants), and `launch()` binds buffers plus the parameter struct and records a dispatch.

import { gpu, onClose, type GpuContext } from '../tensor/device.js';
import { commands } from '../tensor/queue.js';
import { ShaderCompilationError } from '../tensor/errors.js';
import { markWritten, bufferId, rawBuffer, type BufferRef } from '../tensor/storage.js';

/**
 * How a shader binding is used: read-only storage, read-write storage, or the uniform struct; or
 * 'none', a binding number this entry point does not use (a kernel file whose entry points use
 * different sets of bindings: the layout leaves it out and launch() takes no buffer for it).
 */
export type BindingKind = 'read' | 'read_write' | 'uniform' | 'none';

export interface Kernel {
  /** The .wgsl file name without extension: used for labels and error messages. */
  readonly name: string;
  readonly source: string;
  readonly entryPoint: string;
  readonly bindings: readonly BindingKind[];
}

export function defineKernel(name: string, source: string, bindings: readonly BindingKind[], entryPoint = 'main'): Kernel {
  return { name, source, bindings, entryPoint };
}

export type Constants = Record<string, number>;

interface CachedKernel {
  module: GPUShaderModule;
  layout: GPUBindGroupLayout;
  pipelineLayout: GPUPipelineLayout;
  pipelines: Map<string, GPUComputePipeline>;
  /**
   * Bind groups by the buffers they bind. Creating one costs ~18 µs of host time in Dawn (as much
   * as the rest of an op's host work); a training or inference step binds the same pooled buffers
   * every time (the pool hands out its oldest free buffer: buffer-pool.ts), and its uniform
   * structs at the same offsets of the queue's arena (the batches of a step break at the same
   * dispatches), so after the second step every dispatch finds its bind group here. Cleared when it grows past BIND_GROUP_CACHE (entries of buffers
   * destroyed since are never hit again: buffer ids are not reused). (A dynamic offset for the
   * uniform would make the key shorter, but lavapipe then took 25-45 µs more per dispatch.)
   */
  bindGroups: Map<string, GPUBindGroup>;
}

const BIND_GROUP_CACHE = 4096;
let bindGroupHits = 0;
let bindGroupMisses = 0;

const cache = new Map<Kernel, CachedKernel>();
let cacheCtx: GpuContext | null = null;
onClose(() => cache.clear());

// A small storage buffer for a writable binding that a kernel declares but a dispatch does not
// write: a kernel that stores its output either as floats or as vec4s binds the output twice
// (C and C4 in matmul_subgroup.wgsl, y and y4 in conv2d_forward_rows_subgroup.wgsl), and WebGPU
// forbids binding one buffer writable twice in a dispatch, so the binding not in use gets this.
// One per device, destroyed with it; no kernel ever writes it.
let placeholder: { ctx: GpuContext; buffer: GPUBuffer } | null = null;
onClose(() => {
  placeholder?.buffer.destroy();
  placeholder = null;
});

/** The device's placeholder for an unused writable binding (see above). */
export function unusedWritableBinding(): GPUBuffer {
  const ctx = gpu();
  if (placeholder?.ctx !== ctx) {
    placeholder = { ctx, buffer: ctx.device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE, label: 'wgslgrad unused writable binding' }) };
  }
  return placeholder.buffer;
}
let pipelinesCreated = 0;

/**
 * Record-only mode (wg.warmup): while set, launch() dispatches nothing and collects the
 * (kernel, constants) pairs whose pipeline is not built yet, keyed like the cache.
 */
let recording: Map<Kernel, Map<string, Constants | undefined>> | null = null;

export function setRecordOnly(into: Map<Kernel, Map<string, Constants | undefined>> | null): void {
  recording = into;
}

export function isRecordOnly(): boolean {
  return recording !== null;
}

function kernelEntry(kernel: Kernel): CachedKernel {
  const ctx = gpu();
  if (cacheCtx !== ctx) {
    cache.clear();
    cacheCtx = ctx;
  }
  let entry = cache.get(kernel);
  if (entry) return entry;
  const device = ctx.device;
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code: kernel.source, label: `${kernel.name}.wgsl` });
  const moduleScope = device.popErrorScope();
  commands().addCheck(
    moduleScope.then(async (err) => {
      if (!err) return;
      const diag = await describeCompilation(kernel, module);
      ctx.pendingErrors.push(new ShaderCompilationError(`wgslgrad: kernel ${kernel.name}.wgsl does not compile:\n${diag || err.message}`));
    }),
  );
  const layout = device.createBindGroupLayout({
    label: kernel.name,
    entries: kernel.bindings.flatMap((kind, binding) => kind === 'none' ? [] : [{
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: kind === 'uniform' ? 'uniform' : kind === 'read' ? 'read-only-storage' : 'storage' } as GPUBufferBindingLayout,
    }]),
  });
  const pipelineLayout = device.createPipelineLayout({ label: kernel.name, bindGroupLayouts: [layout] });
  entry = { module, layout, pipelineLayout, pipelines: new Map(), bindGroups: new Map() };
  cache.set(kernel, entry);
  return entry;
}

/**
 * The pipeline cache's key for a set of override constants, in the order the caller wrote them
 * (every launcher writes its constants in one fixed order; a different order would only build a
 * second copy of the same pipeline). Built per dispatch, so kept cheap: no sort, no arrays.
 */
function constantsKey(constants: Constants | undefined): string {
  if (!constants) return '';
  let key = '';
  for (const k in constants) key += `${k}=${constants[k]},`;
  return key;
}

/** Compiler diagnostics as `file:line:col: message` lines. */
async function describeCompilation(kernel: Kernel, module: GPUShaderModule): Promise<string> {
  const info = await module.getCompilationInfo();
  return info.messages
    .map((m) => `  ${kernel.name}.wgsl:${m.lineNum}:${m.linePos}: ${m.type}: ${m.message}`)
    .join('\n');
}

function pipelineFor(kernel: Kernel, constants?: Constants): { pipeline: GPUComputePipeline; entry: CachedKernel } {
  const entry = kernelEntry(kernel);
  const key = constantsKey(constants);
  let pipeline = entry.pipelines.get(key);
  if (!pipeline) {
    const device = gpu().device;
    device.pushErrorScope('validation');
    pipeline = device.createComputePipeline({
      label: `${kernel.name}${key ? `{${key}}` : ''}`,
      layout: entry.pipelineLayout,
      compute: { module: entry.module, entryPoint: kernel.entryPoint, constants },
    });
    pipelinesCreated++;
    commands().notePipelineBuilt();
    const scope = device.popErrorScope();
    commands().addCheck(
      scope.then(async (err) => {
        if (!err) return;
        const diag = await describeCompilation(kernel, entry.module);
        gpu().pendingErrors.push(
          new ShaderCompilationError(`wgslgrad: kernel ${kernel.name}.wgsl (${key || 'no constants'}) failed to build: ${err.message}\n${diag}`),
        );
      }),
    );
    entry.pipelines.set(key, pipeline);
  }
  return { pipeline, entry };
}

/**
 * Build a kernel's pipeline ahead of time with createComputePipelineAsync, so the first real
 * dispatch does not wait on the shader compiler (lavapipe compiles through LLVM).
 */
export async function precompile(kernel: Kernel, constants?: Constants): Promise<void> {
  const entry = kernelEntry(kernel);
  const key = constantsKey(constants);
  if (entry.pipelines.has(key)) return;
  try {
    const pipeline = await gpu().device.createComputePipelineAsync({
      label: `${kernel.name}${key ? `{${key}}` : ''}`,
      layout: entry.pipelineLayout,
      compute: { module: entry.module, entryPoint: kernel.entryPoint, constants },
    });
    pipelinesCreated++;
    commands().notePipelineBuilt();
    entry.pipelines.set(key, pipeline);
  } catch (err) {
    const diag = await describeCompilation(kernel, entry.module);
    throw new ShaderCompilationError(`wgslgrad: kernel ${kernel.name}.wgsl failed to build: ${(err as Error).message}\n${diag}`);
  }
}

export function pipelineStats(): { kernels: number; pipelines: number; created: number; bindGroupHits: number; bindGroupMisses: number } {
  let pipelines = 0;
  for (const e of cache.values()) pipelines += e.pipelines.size;
  return { kernels: cache.size, pipelines, created: pipelinesCreated, bindGroupHits, bindGroupMisses };
}

export interface LaunchArgs {
  /**
   * Storage buffers in binding order (the uniform struct, if any, is bound after them): a whole
   * GPUBuffer, or a range of one (a tensor whose storage is a range: see Storage).
   */
  buffers: readonly BufferRef[];
  /** The packed parameter struct (see Uniforms). Required when the kernel declares a uniform. */
  params?: Uint8Array;
  workgroups: readonly number[];
  constants?: Constants;
  /** Dispatch label: the op name, shown in GPU errors and profiles. */
  label?: string;
}

/** Record one dispatch of `kernel` into the shared command encoder. */
export function launch(kernel: Kernel, args: LaunchArgs): void {
  if (recording) {
    const key = constantsKey(args.constants);
    if (kernelEntry(kernel).pipelines.has(key)) return;
    if (!recording.has(kernel)) recording.set(kernel, new Map());
    recording.get(kernel)!.set(key, args.constants);
    return;
  }
  const { pipeline, entry } = pipelineFor(kernel, args.constants);
  const q = commands();
  const [x, y = 1, z = 1] = args.workgroups;
  if (x === 0 || y === 0 || z === 0) return; // empty tensor: nothing to do
  // One walk over the bindings: check the buffers, note the written ones, build the cache key.
  let uniform: GPUBufferBinding | null = null;
  let key = '';
  let b = 0;
  const kinds = kernel.bindings;
  for (let binding = 0; binding < kinds.length; binding++) {
    if (kinds[binding] === 'none') continue;
    if (kinds[binding] === 'uniform') {
      if (!args.params) throw new Error(`launch(${kernel.name}): kernel needs a parameter struct`);
      uniform = q.uniform(args.params);
      key += `u${uniform.offset}:${uniform.size},`;
      continue;
    }
    const ref = args.buffers[b++];
    if (!ref) throw new Error(`launch(${kernel.name}): binding ${binding} has no buffer`);
    const buffer = rawBuffer(ref);
    if (kinds[binding] === 'read_write') markWritten(buffer);
    key += buffer === ref ? `${bufferId(buffer)},` : `${bufferId(buffer)}@${(ref as GPUBufferBinding).offset},`;
  }
  if (uniform) key += bufferId(uniform.buffer);
  q.dispatch(pipeline, bindGroupFor(kernel, entry, key, args.buffers, uniform), [x, y, z], dispatchLabel(kernel, args, q.timer?.byKernel ?? false));
}

/** The bind group of these buffers (and this slice of the uniform arena) for the kernel's layout. */
function bindGroupFor(kernel: Kernel, entry: CachedKernel, key: string, buffers: readonly BufferRef[], uniform: GPUBufferBinding | null): GPUBindGroup {
  let group = entry.bindGroups.get(key);
  if (group) {
    bindGroupHits++;
    return group;
  }
  bindGroupMisses++;
  const entries: GPUBindGroupEntry[] = [];
  let b = 0;
  kernel.bindings.forEach((kind, binding) => {
    if (kind === 'none') return;
    const ref = kind === 'uniform' ? uniform! : buffers[b++];
    entries.push({ binding, resource: 'buffer' in ref ? ref : { buffer: ref } });
  });
  group = gpu().device.createBindGroup({ layout: entry.layout, entries, label: kernel.name });
  if (entry.bindGroups.size >= BIND_GROUP_CACHE) entry.bindGroups.clear();
  entry.bindGroups.set(key, group);
  return group;
}

/** The op's label; when a profile asks for kernels, also which kernel and entry point ran it. */
function dispatchLabel(kernel: Kernel, args: LaunchArgs, byKernel: boolean): string {
  const label = args.label ?? kernel.name;
  if (!byKernel) return label;
  const entry = kernel.entryPoint === 'main' ? kernel.name : `${kernel.name}:${kernel.entryPoint}`;
  return entry === label ? label : `${label} [${entry}]`;
}

/**
 * Workgroup counts for `count` independent items with `perGroup` items per workgroup.
 * A dimension holds at most 65535 workgroups, so large counts spill into y; kernels recover
 * the flat index as `gid.x + gid.y * num_workgroups.x * WG`.
 */
export function grid1d(count: number, perGroup: number): [number, number] {
  const groups = Math.ceil(count / perGroup);
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}
