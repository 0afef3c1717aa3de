// SPDX-License-Identifier: MIT
// Storage: a GPU buffer shared by a tensor and its views, freed when the last one lets go.
//
// Ownership rule: every Tensor object holds exactly one reference to its storage. Views
// (reshape, permute, slice, detach) and tensors saved for backward are new Tensor objects that
// add a reference. `release()` returns the buffer to the pool when the count reaches zero.

import { gpu, onClose, isCurrentDevice } from './device.js';
import { DeviceLostError } from './errors.js';
import { BufferPool, type MemoryStats } from './buffer-pool.js';

let pool: BufferPool | null = null;
let poolDevice: GPUDevice | null = null;
onClose(() => {
  withDerived.clear();
  pool?.emptyCache();
  pool = null;
  poolDevice = null;
});

export function bufferPool(): BufferPool {
  const ctx = gpu();
  if (!pool || poolDevice !== ctx.device) {
    const { maxBufferSize, maxStorageBufferBindingSize } = ctx.device.limits;
    pool = new BufferPool(ctx.device, Math.min(maxBufferSize, maxStorageBufferBindingSize));
    poolDevice = ctx.device;
  }
  return pool;
}

/** Tensors do not survive their device: using one after a loss (and a new init()) is an error. */
export function staleError(what: string): DeviceLostError {
  return new DeviceLostError(
    `wgslgrad: ${what} was created on a GPU device that has since been lost or closed; tensors do not ` +
      'survive the device — re-create them after wg.init() (e.g. reload the model from a checkpoint)',
  );
}

// ---- write versions ---------------------------------------------------------------------------
// Every path that writes a buffer (a kernel binding it read_write, queue.writeBuffer, a buffer copy)
// bumps its version, so something derived from a buffer's contents (packed convolution weights)
// can tell whether it is still current. Derived values belong to a Storage and are dropped when it
// is released, so a pooled buffer handed to a new storage starts with none.

const writeVersions = new WeakMap<GPUBuffer, number>();

export function markWritten(buffer: GPUBuffer): void {
  writeVersions.set(buffer, (writeVersions.get(buffer) ?? 0) + 1);
}

export function writeVersion(buffer: GPUBuffer): number {
  return writeVersions.get(buffer) ?? 0;
}

// A small number naming each buffer, for cache keys (bind groups, folded weights). Never reused,
// so a key that names a buffer destroyed since is simply never looked up again.
const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 1;

export function bufferId(buffer: GPUBuffer): number {
  let id = bufferIds.get(buffer);
  if (id === undefined) bufferIds.set(buffer, (id = nextBufferId++));
  return id;
}

/** Something computed from a storage's contents and owned by it (see Storage.derived). */
interface Derived {
  version: number;
  value: { dispose(): void };
}

/** Storages holding derived values, so that emptyCache() can drop them. */
const withDerived = new Set<Storage>();

export class Storage {
  private refs = 1;
  private derivedValues: Map<string, Derived> | null = null;
  constructor(private readonly gpuBuffer: GPUBuffer, readonly bytes: number, private readonly owner: BufferPool) {}

  /**
   * A value computed from this storage's contents under `key` (e.g. its weights packed for a
   * convolution kernel), if it was stored while the buffer had the current write version; a stale
   * one is disposed. The storage owns stored values and disposes them when it is released.
   */
  derived(key: string): { dispose(): void } | null {
    const d = this.derivedValues?.get(key);
    if (!d) return null;
    if (d.version === writeVersion(this.gpuBuffer)) return d.value;
    this.dropDerived(key);
    return null;
  }

  setDerived(key: string, value: { dispose(): void }): void {
    this.dropDerived(key);
    this.derivedValues ??= new Map();
    this.derivedValues.set(key, { version: writeVersion(this.gpuBuffer), value });
    withDerived.add(this);
  }

  dropDerived(key?: string): void {
    if (!this.derivedValues) return;
    for (const [k, d] of this.derivedValues) {
      if (key !== undefined && k !== key) continue;
      this.derivedValues.delete(k);
      d.value.dispose();
    }
    if (this.derivedValues.size === 0) {
      this.derivedValues = null;
      withDerived.delete(this);
    }
  }

  /** The GPU buffer. Throws DeviceLostError if it belongs to a device that was lost or closed. */
  get buffer(): GPUBuffer {
    if (this.owner !== bufferPool()) throw staleError('a tensor');
    return this.gpuBuffer;
  }

  /** True when this memory belongs to an earlier device (lost or closed, then init() again). */
  get stale(): boolean {
    return this.owner !== pool || !isCurrentDevice(poolDevice);
  }

  static allocate(bytes: number, label: string): Storage {
    const owner = bufferPool();
    return new Storage(owner.acquire(bytes, label), bytes, owner);
  }

  retain(): this {
    if (this.refs <= 0) throw new Error('wgslgrad internal: retain of a released storage');
    this.refs++;
    return this;
  }

  release(): void {
    if (this.refs <= 0) return;
    // A storage that outlived its device (close() came first) has no pool to return to.
    if (--this.refs > 0) return;
    this.dropDerived();
    if (this.owner === pool) pool.release(this.gpuBuffer);
  }

  get alive(): boolean {
    return this.refs > 0;
  }
}

export interface Memory extends MemoryStats {
  /** Tensor objects alive (not disposed). */
  liveTensors: number;
}

let liveTensors = 0;
export function countTensor(delta: number): void {
  liveTensors += delta;
}

/** Allocator counters: live and pooled buffers and bytes, peak bytes, live tensors. */
export function memory(): Memory {
  const stats = pool?.snapshot() ?? { liveBytes: 0, liveBuffers: 0, pooledBytes: 0, pooledBuffers: 0, peakBytes: 0, peakLiveBytes: 0, created: 0 };
  return { ...stats, liveTensors };
}

/** Restart the peakBytes / peakLiveBytes measurements from the current levels. */
export function resetPeakMemory(): void {
  pool?.resetPeak();
}

/**
 * Drop cached derived values (packed convolution weights kept for inference) and destroy pooled
 * (unused) buffers, returning their memory to the driver.
 */
export function emptyCache(): void {
  for (const s of [...withDerived]) s.dropDerived();
  pool?.emptyCache();
}
