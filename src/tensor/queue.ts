// SPDX-License-Identifier: MIT
// Command recording and submission.
//
// Ops do not submit work themselves. Every dispatch is recorded into one shared command encoder
// (inside one open compute pass) and the batch is submitted at a *sync point*: reading a tensor
// back (`await t.data()`), an explicit `wg.flush()`, or when the batch grows past a bound. A
// training step therefore costs a handful of submits instead of one per op.
//
// Kernel parameters (small uniform structs) live in one uniform buffer, a slot per distinct struct
// (uniform-slots.ts); the slots written since the last submit are uploaded with one writeBuffer
// just before it, and each dispatch binds its struct's slot.

import { gpu, throwPendingErrors, isCpuAdapter, type GpuContext } from './device.js';
import { WgslgradError, GpuOutOfMemoryError, DeviceLostError } from './errors.js';
import { markWritten } from './storage.js';
import { UniformSlots } from './uniform-slots.js';

/** The uniform buffer: 4096 slots (a ResNet-50 training step uses ~400 distinct structs). */
const ARENA_BYTES = 1024 * 1024;
/**
 * Dispatches recorded before a batch is submitted without waiting for a sync point. On a GPU a
 * step's first batch should reach it early: with 512, a ResNet-50 training step (~800
 * dispatches) left an H100 idle for the ~16 ms the host took to record the first 512 (step 88.5
 * ms, GPU time 62 ms). On lavapipe the main thread and the shader threads share two cores, and
 * a step is one batch as before.
 */
const DISPATCHES_PER_BATCH = { cpu: 512, gpu: 64 };
/**
 * On a GPU the first batch after a wait is smaller, and each next one twice as large up to the
 * limit: 16, 32, 64, 64, ... The GPU then starts on a step after the host has recorded 16
 * dispatches rather than 64 (an H100 finishes a ResNet-50 batch-1 forward in ~2.5 ms, about
 * what the host takes to record its 90 dispatches).
 */
const FIRST_GPU_BATCH = 16;
/** No batch is larger (the profiler's query set holds two timestamps per dispatch of a batch). */
export const MAX_DISPATCHES_PER_BATCH = DISPATCHES_PER_BATCH.cpu;
let batchLimitOverride: number | null = null;

/**
 * Submit a batch every n dispatches (null: the adapter's default), 1 to MAX_DISPATCHES_PER_BATCH;
 * for benchmarks. Returns the old setting.
 */
export function setBatchLimit(n: number | null): number | null {
  if (n !== null && !(Number.isInteger(n) && n >= 1 && n <= MAX_DISPATCHES_PER_BATCH)) {
    throw new WgslgradError(`setBatchLimit: expected an integer in 1..${MAX_DISPATCHES_PER_BATCH} or null, got ${n}`);
  }
  const old = batchLimitOverride;
  batchLimitOverride = n;
  return old;
}

let batchRulesFor: 'adapter' | 'gpu' | 'cpu' = 'adapter';

/**
 * Batch dispatches as on a GPU (the ramp: 16, 32, 64, 64, ...) or as on a CPU adapter (512)
 * whatever the adapter is ('adapter': its own, the default). For tests, so that lavapipe checks
 * the GPU's batching. Returns the previous setting.
 */
export function setBatchRulesFor(kind: 'adapter' | 'gpu' | 'cpu'): 'adapter' | 'gpu' | 'cpu' {
  const old = batchRulesFor;
  batchRulesFor = kind;
  queue?.restartBatches();
  return old;
}

export interface DispatchTimer {
  /** Called per dispatch when profiling; returns timestamp writes for a pass of its own. */
  timestampWrites(label: string): GPUComputePassTimestampWrites | undefined;
  /** Called just before submit so the timer can resolve its query set into the batch. */
  beforeSubmit(encoder: GPUCommandEncoder): void;
  /** Label each dispatch with the kernel (and entry point) that ran, not only the op. */
  readonly byKernel?: boolean;
}

class CommandQueue {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private uniforms = new UniformSlots(ARENA_BYTES);
  private arenaGpu: GPUBuffer | null = null;
  private dispatches = 0;
  /** Dispatches and workgroups recorded since the last wait for the GPU: the workload's key. */
  private dispatchesSinceWait = 0;
  private workgroupsSinceWait = 0;
  /** What each recent workload took (see waitForGpu), by key. */
  private workloads = new Map<string, Workload>();
  /** When the oldest batch not yet waited for was submitted (null: none pending). */
  private submittedAt: number | null = null;
  private labels: string[] = [];
  private checks: Promise<void>[] = [];
  private toDestroy: GPUBuffer[] = [];
  timer: DispatchTimer | null = null;
  submits = 0;

  /**
   * Whether waits spare the CPU's cores (sleep, then nap between polls: see waitForGpu): on a CPU
   * adapter under Node, where the polling main thread would take a core from the shader threads.
   * Elsewhere a wait simply awaits the GPU (a browser does not spin the page's thread; on a real
   * GPU a spinning core costs the GPU nothing, and a sleep could only make the wait later).
   */
  private readonly sparesCores: boolean;
  /** Whether a pipeline was built since the last wait (see notePipelineBuilt). */
  private compiledSinceWait = false;

  private readonly cpuAdapter: boolean;
  /** Dispatches the batch being recorded may hold: firstBatch() after a wait, doubling to maxBatch(). */
  private currentLimit: number;

  constructor(private ctx: GpuContext) {
    this.cpuAdapter = isCpuAdapter(ctx.info);
    this.sparesCores = this.cpuAdapter && canNap();
    this.currentLimit = this.firstBatch();
  }

  private get cpuBatches(): boolean {
    return batchRulesFor === 'adapter' ? this.cpuAdapter : batchRulesFor === 'cpu';
  }

  private maxBatch(): number {
    return this.cpuBatches ? DISPATCHES_PER_BATCH.cpu : DISPATCHES_PER_BATCH.gpu;
  }

  /** The first batch's limit after a wait. */
  firstBatch(): number {
    return this.cpuBatches ? DISPATCHES_PER_BATCH.cpu : FIRST_GPU_BATCH;
  }

  /** Start the ramp again (after a wait, or when the rules change). */
  restartBatches(): void {
    this.currentLimit = this.firstBatch();
  }

  /**
   * Called whenever a pipeline is built (by launch(), or ahead of time by precompile() for
   * wg.warmup): the next wait's time is not typical, since lavapipe finishes the work of a new
   * pipeline on its first use.
   */
  notePipelineBuilt(): void {
    this.compiledSinceWait = true;
  }

  private ensureEncoder(): GPUCommandEncoder {
    if (!this.encoder) {
      this.encoder = this.ctx.device.createCommandEncoder({ label: 'wgslgrad batch' });
      this.arenaGpu ??= this.ctx.device.createBuffer({
        size: ARENA_BYTES,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        label: 'wgslgrad uniform arena',
      });
    }
    return this.encoder;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** The binding of one dispatch's uniform struct: its slot (the one it had before, if any). */
  uniform(bytes: Uint8Array): GPUBufferBinding {
    this.ensureEncoder();
    let offset = this.uniforms.slot(bytes);
    if (offset < 0) {
      // Full: submit what uses the current slots, then start them afresh.
      this.flush();
      this.uniforms.reset();
      this.ensureEncoder();
      offset = this.uniforms.slot(bytes);
    }
    return { buffer: this.arenaGpu!, offset, size: bytes.byteLength };
  }

  dispatch(pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, workgroups: readonly number[], label: string): void {
    const encoder = this.ensureEncoder();
    const timestampWrites = this.timer?.timestampWrites(label);
    if (timestampWrites) this.endPass();
    this.pass ??= encoder.beginComputePass({ label, timestampWrites });
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
    if (timestampWrites) this.endPass();
    this.labels.push(label);
    this.dispatchesSinceWait++;
    this.workgroupsSinceWait += workgroups[0] * (workgroups[1] ?? 1) * (workgroups[2] ?? 1);
    if (++this.dispatches >= (batchLimitOverride ?? this.currentLimit)) this.flush();
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    const encoder = this.ensureEncoder();
    this.endPass();
    encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    markWritten(dst);
  }

  /** Zero `bytes` bytes of `dst` from `offset` (multiples of 4): a command, not a dispatch, so it runs even in wg.warmup's record-only pass. */
  clear(dst: GPUBuffer, offset: number, bytes: number): void {
    const encoder = this.ensureEncoder();
    this.endPass();
    encoder.clearBuffer(dst, offset, bytes);
    markWritten(dst);
  }

  /** Destroy a buffer once the current batch has been submitted (e.g. upload staging). */
  destroyAfterSubmit(buffer: GPUBuffer): void {
    this.toDestroy.push(buffer);
  }

  get pending(): boolean {
    return this.encoder !== null;
  }

  /** Submit everything recorded so far. Errors are collected and thrown at the next sync. */
  flush(): void {
    throwPendingErrors(this.ctx);
    if (!this.encoder) return;
    const device = this.ctx.device;
    this.endPass();
    const dirty = this.uniforms.takeDirty();
    if (dirty) device.queue.writeBuffer(this.arenaGpu!, dirty[0], this.uniforms.host, dirty[0], dirty[1] - dirty[0]);
    this.timer?.beforeSubmit(this.encoder);
    const labels = this.labels;
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    device.queue.submit([this.encoder.finish()]);
    this.submittedAt ??= performance.now();
    const validation = device.popErrorScope();
    const oom = device.popErrorScope();
    this.checks.push(
      Promise.all([validation, oom]).then(([v, o]) => {
        const ops = summarizeLabels(labels);
        if (o) this.ctx.pendingErrors.push(new GpuOutOfMemoryError(`wgslgrad: GPU out of memory in a batch of ${ops}: ${o.message}`));
        if (v) this.ctx.pendingErrors.push(new WgslgradError(`wgslgrad: GPU validation error in a batch of ${ops}: ${v.message}`));
      }),
    );
    for (const b of this.toDestroy) b.destroy();
    this.toDestroy = [];
    this.encoder = null;
    this.dispatches = 0;
    this.currentLimit = Math.min(this.maxBatch(), 2 * this.currentLimit);
    this.labels = [];
    this.submits++;
  }

  /** Track an asynchronous check (e.g. pipeline creation) to be awaited at the next sync. */
  addCheck(p: Promise<void>): void {
    this.checks.push(p);
  }

  /** Flush, wait for the GPU to finish, and throw any error it reported. */
  async sync(): Promise<void> {
    this.flush();
    await this.waitForGpu(() => this.ctx.device.queue.onSubmittedWorkDone());
    await this.settleChecks();
  }

  /**
   * Wait for submitted work without keeping a core busy. While a GPU promise is pending, Dawn's
   * Node bindings poll for completion with setImmediate; on a CPU adapter (lavapipe) that spinning
   * main thread takes a core from the shader threads and slows them by up to a third on 2 cores.
   * So (CPU adapters under Node only, see sparesCores) sleep first through most of the expected
   * time, then start the promise and nap between Dawn's polls (napWhilePending).
   * Measured on a ResNet-20 training step (batch 128, 345 dispatches, ~1.6 s, before the naps):
   * sleeping half left the main thread spinning for ~0.7 s of CPU per step; 0.85 cut that to
   * ~0.1 s and the step by ~10%. (bench/timing.ts measures kernels the same way.)
   *
   * The expected time comes from the same workload seen before: a training step or an inference
   * pass at one batch size records the same dispatches every time, so the number of dispatches
   * and of workgroups since the last wait identify it, and its last run predicts the next. A
   * workload not seen before is not guessed at (a rate per dispatch overslept by seconds where the
   * dispatch mix changed, and by 20x on benchmark rows after one of heavier kernels): it polls
   * flat out for 2 ms (most readbacks in a test or a notebook are done by then), then naps. A
   * workload known to be shorter than 4 naps polls flat out: a nap could only make it later. The
   * sleep counts from the submit.
   */
  private async waitForGpu<T>(start: () => Promise<T>): Promise<T> {
    const key = `${this.dispatchesSinceWait}:${this.workgroupsSinceWait}`;
    this.restartBatches();
    this.dispatchesSinceWait = 0;
    this.workgroupsSinceWait = 0;
    const compiled = this.compiledSinceWait;
    this.compiledSinceWait = false;
    // The work started when its first batch was submitted, which may be well before this wait
    // (the caller did other things meanwhile): sleep until 0.85 of the expected end, counted
    // from there.
    const t0 = this.submittedAt ?? performance.now();
    this.submittedAt = null;
    if (!this.sparesCores) return this.whileAlive(start());
    const known = this.workloads.get(key);
    const sleepMs = known ? SLEEP_FRACTION * known.expectedMs - (performance.now() - t0) : 0;
    if (sleepMs > 1) await new Promise((resolve) => setTimeout(resolve, sleepMs));
    const t1 = performance.now();
    const napped = known === undefined || known.expectedMs >= 4 * NAP_MS;
    const result = await this.whileAlive(napped ? napWhilePending(start(), known ? 0 : 4 * NAP_MS, napLength(known)) : start());
    const done = performance.now();
    // Work that built pipelines says nothing about the next run: lavapipe finishes compiling
    // them on its own threads after the submit (a 6 ms conv pass took 67 ms the first time).
    if (!compiled) this.remember(key, known, expectedFromWait(t1 - t0, done - t0, sleepMs > 1 && done - t1 < 1, napped ? 1 : SPIN_SLOWDOWN));
    return result;
  }

  /** Keep what a workload is expected to take next time (the oldest of MAX_WORKLOADS is forgotten). */
  private remember(key: string, known: Workload | undefined, expectedMs: number): void {
    if (known) {
      known.expectedMs = expectedMs;
      return;
    }
    if (this.workloads.size >= MAX_WORKLOADS) this.workloads.delete(this.workloads.keys().next().value!);
    this.workloads.set(key, { expectedMs });
  }

  /**
   * Await a GPU promise; if it fails because the device went away (mapAsync rejects with an
   * AbortError on a destroyed device), throw the DeviceLostError instead of the DOMException.
   */
  private async whileAlive<T>(p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      // device.lost resolves on its own tick; give it a moment before deciding.
      const lost = await Promise.race([this.ctx.device.lost, new Promise<null>((r) => setTimeout(() => r(null), 100))]);
      if (lost) {
        this.ctx.lost ??= new DeviceLostError(`wgslgrad: the GPU device was lost (${lost.reason}): ${lost.message}`);
        throw this.ctx.lost;
      }
      throw new WgslgradError(`wgslgrad: GPU operation failed: ${(err as Error).message || String(err)}`);
    }
  }

  async settleChecks(): Promise<void> {
    const checks = this.checks.splice(0);
    await Promise.all(checks);
    throwPendingErrors(this.ctx);
  }

  /** Copy `bytes` from a GPU buffer into host memory. */
  async read(src: GPUBuffer, srcOffset: number, bytes: number): Promise<ArrayBuffer> {
    const device = this.ctx.device;
    const padded = Math.ceil(bytes / 4) * 4;
    const staging = device.createBuffer({ size: Math.max(padded, 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'wgslgrad readback' });
    try {
      if (padded > 0) this.copy(src, srcOffset, staging, 0, padded);
      this.flush();
      await this.waitForGpu(() => staging.mapAsync(GPUMapMode.READ));
      const out = staging.getMappedRange(0, padded).slice(0, bytes);
      staging.unmap();
      await this.settleChecks();
      return out;
    } finally {
      staging.destroy();
    }
  }

  /**
   * Upload host data into a buffer. Earlier recorded commands are submitted first, because
   * queue.writeBuffer lands before any command that is still only recorded.
   */
  write(dst: GPUBuffer, dstOffset: number, data: ArrayBufferView): void {
    if (this.encoder) this.flush();
    this.ctx.device.queue.writeBuffer(dst, dstOffset, data.buffer, data.byteOffset, data.byteLength);
    markWritten(dst);
  }
}

/** Fraction of the predicted GPU time that waitForGpu sleeps before polling (see there). */
const SLEEP_FRACTION = 0.85;
/** Workloads remembered by waitForGpu (the oldest is forgotten first). */
const MAX_WORKLOADS = 64;

/**
 * How much longer the GPU work takes while the main thread spins in Dawn's polling (lavapipe on 2
 * cores: a ResNet-20 training step took 1.6 s spinning throughout against ~1.0 s slept through).
 */
const SPIN_SLOWDOWN = 1.5;

/** What a workload's next run is expected to take, in milliseconds from its submit. */
interface Workload {
  expectedMs: number;
}

/**
 * What a workload is expected to take next time, from one wait for it: the work was submitted at
 * 0, we looked at `lookedMs` (after sleeping, or right away) and it was done at `doneMs`. Until
 * we looked the main thread left the cores to the shader threads; after that it spun, which slows
 * them by `slowdown` (SPIN_SLOWDOWN; 1 where it napped, see napWhilePending), so the work alone
 * would have taken about
 *   lookedMs + (doneMs - lookedMs) / slowdown.
 * `overslept`: it was done the moment we looked, so it took less than `lookedMs`: expect half of
 * that. (A run slower than expected is measured, one faster only bounded, so the estimate follows
 * the work down quickly; polling early costs little since the waits nap.)
 */
export function expectedFromWait(lookedMs: number, doneMs: number, overslept: boolean, slowdown = SPIN_SLOWDOWN): number {
  return overslept ? 0.5 * lookedMs : lookedMs + (doneMs - lookedMs) / slowdown;
}

function summarizeLabels(labels: string[]): string {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const parts = [...counts].slice(-8).map(([l, n]) => (n > 1 ? `${l} x${n}` : l));
  return `${labels.length} dispatch(es) [${parts.join(', ')}${counts.size > 8 ? ', ...' : ''}]`;
}

let queue: CommandQueue | null = null;
let queueCtx: GpuContext | null = null;

/** The command queue of the live device (recreated after a re-init). */
export function commands(): CommandQueue {
  const ctx = gpu();
  if (!queue || queueCtx !== ctx) {
    queue = new CommandQueue(ctx);
    queueCtx = ctx;
  }
  return queue;
}

export function resetCommands(): void {
  queue = null;
  queueCtx = null;
}

/** Submit all recorded work now (without waiting for it). */
export function flush(): void {
  commands().flush();
}

/** Submit and wait until the GPU is idle; throws GPU errors reported on the way. */
export async function sync(): Promise<void> {
  await commands().sync();
}

/**
 * Let Dawn poll for `promise` without spinning a core. While a GPU promise is pending, Dawn's
 * Node bindings call into Dawn from a setImmediate callback that queues itself again: the event
 * loop turns as fast as it can and the main thread burns a core. On a CPU adapter that core is
 * one the shader threads needed. So, beside Dawn's callback, queue one that blocks the thread
 * for NAP_MS (Atomics.wait: a futex sleep, no CPU) and queues itself again: every turn of the
 * loop now polls once and sleeps once (after the first `napFromMs`). Completion is seen at most
 * `napMs` (NAP_MS, or less for a short workload) late.
 * Measured on ResNet-50 inference at batch 1 (~220 ms of shader work, 2 cores; the sleep of
 * waitForGpu before it): the main thread spun 20-140 ms of CPU per pass without naps and 1-10 ms
 * with them; wall time 220-354 ms -> 206-250 ms (naps of 0.1 and 0.2 ms: in between).
 * Node only: a browser's main thread may not block, and does not spin here anyway.
 */
const NAP_MS = 0.5;

/** A nap is at most 2% of a known workload's expected time: its end is seen that much late at worst. */
function napLength(known: Workload | undefined): number {
  return known ? Math.min(NAP_MS, Math.max(0.05, 0.02 * known.expectedMs)) : NAP_MS;
}

let napCell: Int32Array | null = null;

/** Whether this thread may block in Atomics.wait (Node's main thread may; a browser's, or Electron's renderer's, may not). */
function canNap(): boolean {
  if (typeof setImmediate !== 'function' || typeof SharedArrayBuffer !== 'function' || typeof Atomics?.wait !== 'function') return false;
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0); // returns 'not-equal' at once where allowed
    return true;
  } catch {
    return false;
  }
}

export function napWhilePending<T>(promise: Promise<T>, napFromMs = 0, napMs = NAP_MS): Promise<T> {
  napCell ??= new Int32Array(new SharedArrayBuffer(4));
  const cell = napCell;
  const napFrom = performance.now() + napFromMs;
  let pending = true;
  const nap = () => {
    if (!pending) return;
    if (performance.now() >= napFrom) Atomics.wait(cell, 0, 0, napMs);
    setImmediate(nap);
  };
  setImmediate(nap);
  return promise.finally(() => {
    pending = false;
  });
}
