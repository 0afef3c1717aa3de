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

export class Storage {
  private refs = 1;
  constructor(private readonly gpuBuffer: GPUBuffer, readonly bytes: number, private readonly owner: BufferPool) {}

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
    if (--this.refs === 0 && this.owner === pool) pool.release(this.gpuBuffer);
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

/** Destroy pooled (unused) buffers, returning their memory to the driver. */
export function emptyCache(): void {
  pool?.emptyCache();
}
