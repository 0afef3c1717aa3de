// SPDX-License-Identifier: MIT
// The WebGPU device: acquired once by `init()`, released by `close()`.
//
// In a browser the adapter comes from `navigator.gpu`; in Node from Dawn's `webgpu` package,
// loaded lazily so a browser bundle never touches it. Everything else in the library asks
// `gpu()` for the device and never holds its own.

import { DeviceLostError, GpuOutOfMemoryError, ShaderCompilationError, WgslgradError } from './errors.js';

export interface InitOptions {
  /** Prefer 'high-performance' or 'low-power' adapters (browsers may ignore it). */
  powerPreference?: GPUPowerPreference;
  /** Use subgroup kernels when the adapter has them (default true). */
  subgroups?: boolean;
  /** Extra Dawn toggles / flags for Node, e.g. ['enable-dawn-features=...']. */
  dawnFlags?: string[];
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  features: string[];
  subgroupSize: number;
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number; maxComputeWorkgroupStorageSize: number; maxComputeInvocationsPerWorkgroup: number };
}

/** Answers of isCpuAdapter by adapter (asked per convolution: the test is a regular expression). */
const cpuAdapters = new WeakMap<AdapterSummary, boolean>();

/**
 * Mesa's llvmpipe/lavapipe (and similar CPU rasterisers): a workgroup's lanes are SIMD lanes of
 * one CPU thread, so what is fast there differs (shared/docs/lavapipe.md); launchers pick by this.
 */
export function isCpuAdapter(info: AdapterSummary): boolean {
  let cpu = cpuAdapters.get(info);
  if (cpu === undefined) {
    cpu = info.architecture === 'software' || /llvmpipe|lavapipe|swiftshader/i.test(`${info.device} ${info.description}`);
    cpuAdapters.set(info, cpu);
  }
  return cpu;
}

export interface GpuContext {
  device: GPUDevice;
  adapter: GPUAdapter;
  info: AdapterSummary;
  /** Features the kernels may rely on. */
  hasSubgroups: boolean;
  hasF16: boolean;
  hasTimestamps: boolean;
  /** WGSL language extensions the implementation offers (e.g. unrestricted_pointer_parameters). */
  wgslFeatures: ReadonlySet<string>;
  /** Errors raised asynchronously by the GPU, thrown at the next sync point. */
  pendingErrors: Error[];
  lost: DeviceLostError | null;
}

let context: GpuContext | null = null;
// Dawn's Node bindings: the object returned by `create()` must stay referenced while the
// device lives, or dawn.node crashes on a later dispatch (see shared/docs/lavapipe.md).
let dawnInstance: GPU | null = null;
const closeHooks: Array<() => void> = [];

const NO_ADAPTER_HELP = `wgslgrad: no WebGPU adapter was found.
  In a browser: use one with WebGPU enabled (Chrome/Edge 113+, Firefox 141+, Safari 26+).
  In Node on Linux without a GPU: install Mesa's software Vulkan driver (lavapipe), Mesa >= 24.
  On Debian 12 it comes from bookworm-backports:
    echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/backports.list
    apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers
  Then check with: npm run preflight`;

async function loadNavigatorGpu(opts: InitOptions): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  // Node: Dawn's bindings. The specifier is hidden from bundlers that target browsers.
  const moduleName = 'webgpu';
  let dawn: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
  try {
    dawn = await import(/* @vite-ignore */ moduleName);
  } catch (err) {
    throw new WgslgradError(`${NO_ADAPTER_HELP}\n  (could not load the 'webgpu' package: ${(err as Error).message})`);
  }
  // GPUBufferUsage, GPUMapMode, ... are globals in browsers; Dawn hands them to us.
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  dawnInstance = dawn.create(opts.dawnFlags ?? []);
  return dawnInstance;
}

/** Acquire the adapter and device. Safe to call again: returns the existing context's info. */
export async function init(opts: InitOptions = {}): Promise<AdapterSummary> {
  if (context && !context.lost) return context.info;
  const navGpu = await loadNavigatorGpu(opts);
  const adapter = await navGpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) throw new WgslgradError(NO_ADAPTER_HELP);

  const wanted: GPUFeatureName[] = ['timestamp-query', 'shader-f16'];
  if (opts.subgroups !== false) wanted.push('subgroups' as GPUFeatureName);
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  // Ask for the adapter's own maxima: large activations and weights need big bindings.
  const l = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxBufferSize: l.maxBufferSize,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
  };
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'wgslgrad' });

  const adapterInfo = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const subgroupSize = (adapterInfo as unknown as { subgroupMinSize?: number })?.subgroupMinSize ?? 0;
  const info: AdapterSummary = {
    vendor: adapterInfo?.vendor ?? '',
    architecture: adapterInfo?.architecture ?? '',
    device: adapterInfo?.device ?? '',
    description: adapterInfo?.description ?? '',
    features: [...device.features].sort(),
    subgroupSize,
    limits: {
      maxBufferSize: device.limits.maxBufferSize,
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
    },
  };
  const ctx: GpuContext = {
    device,
    adapter,
    info,
    hasSubgroups: device.features.has('subgroups' as GPUFeatureName) && subgroupSize >= 4,
    hasF16: device.features.has('shader-f16'),
    hasTimestamps: device.features.has('timestamp-query'),
    wgslFeatures: new Set((navGpu as GPU & { wgslLanguageFeatures?: Iterable<string> }).wgslLanguageFeatures ?? []),
    pendingErrors: [],
    lost: null,
  };
  device.addEventListener('uncapturederror', (ev) => {
    const e = (ev as GPUUncapturedErrorEvent).error;
    const oom = typeof GPUOutOfMemoryError !== 'undefined' && e instanceof GPUOutOfMemoryError;
    ctx.pendingErrors.push(oom ? new GpuOutOfMemoryError(`wgslgrad: GPU out of memory: ${e.message}`) : new WgslgradError(`wgslgrad: GPU error: ${e.message}`));
  });
  void device.lost.then((lostInfo) => {
    if (lostInfo.reason === 'destroyed' && context !== ctx) return; // our own close()
    ctx.lost = new DeviceLostError(`wgslgrad: the GPU device was lost (${lostInfo.reason}): ${lostInfo.message}`);
  });
  context = ctx;
  return info;
}

/** The live context. Throws a clear error before init() or after the device is lost. */
export function gpu(): GpuContext {
  if (!context) throw new WgslgradError('wgslgrad: no device; call `await wg.init()` first');
  if (context.lost) throw context.lost;
  return context;
}

export function isInitialized(): boolean {
  return context !== null;
}

/** Is `device` the live, not-lost device? (Tensors of an earlier device are unusable.) */
export function isCurrentDevice(device: GPUDevice | null): boolean {
  return context !== null && context.device === device && context.lost === null;
}

/** Register cleanup that must run before the device goes (pools, caches). */
export function onClose(hook: () => void): void {
  closeHooks.push(hook);
}

/**
 * Release the device and Dawn's instance so that a Node process can exit.
 *
 * The library's state (pools, caches, queue) is reset at once, so `init()` may follow
 * immediately. The device itself is destroyed only after the work already submitted has run:
 * destroying it under running work crashed lavapipe's worker threads at process exit. Await the
 * returned promise to know it is gone; a Node process also stays alive until then.
 */
export function close(): Promise<void> {
  if (!context) return Promise.resolve();
  for (const hook of closeHooks) hook();
  const ctx = context;
  const instance = dawnInstance; // keep Dawn's instance referenced until the device is destroyed
  context = null;
  dawnInstance = null;
  return ctx.device.queue
    .onSubmittedWorkDone()
    .catch(() => undefined)
    .then(() => {
      ctx.device.destroy();
      void instance;
    });
}

/**
 * Throws (once) the error the GPU reported asynchronously since the last check. A shader that
 * does not compile also invalidates every batch that used it; its ShaderCompilationError is the
 * cause, so it wins over those follow-on validation errors even when it arrived later.
 */
export function throwPendingErrors(ctx: GpuContext): void {
  if (ctx.lost) throw ctx.lost;
  if (ctx.pendingErrors.length) {
    const errors = ctx.pendingErrors.splice(0);
    const first = errors.find((e) => e instanceof ShaderCompilationError) ?? errors[0];
    if (errors.length > 1) first.message += `\n  (+${errors.length - 1} more GPU error(s))`;
    throw first;
  }
}
