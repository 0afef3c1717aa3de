// SPDX-License-Identifier: MIT
// A caching allocator for GPU buffers.
//
// Creating a GPUBuffer is slow and a training step needs hundreds of temporaries, so released
// buffers go back to a free list keyed by a *size class* and are handed out again. Size classes
// grow geometrically with 8 steps per power of two (like jemalloc), so at most ~12% of a buffer is
// slack while a steady-state loop still hits the same classes every step and allocates nothing.
//
// Reusing a buffer that a not-yet-submitted command still reads is safe: every dispatch goes
// through the one shared command encoder (queue.ts), and WebGPU runs encoded commands in order.

import { GpuOutOfMemoryError } from './errors.js';

export const BUFFER_USAGE_STORAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST

export interface MemoryStats {
  /** Bytes in buffers currently owned by tensors (size-class rounded). */
  liveBytes: number;
  liveBuffers: number;
  /** Bytes parked in the pool, ready for reuse. */
  pooledBytes: number;
  pooledBuffers: number;
  /** Highest liveBytes + pooledBytes seen: what the device actually held (PyTorch's max reserved). */
  peakBytes: number;
  /** Highest liveBytes seen: what tensors needed at once (PyTorch's max_memory_allocated). */
  peakLiveBytes: number;
  /** GPUBuffers ever created (grows only when the pool misses). */
  created: number;
}

/** Round a request up to its size class (minimum 256 bytes). */
export function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const pow = 2 ** Math.floor(Math.log2(bytes));
  const step = Math.max(256, pow / 8);
  return Math.ceil(bytes / step) * step;
}

function formatBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

export class BufferPool {
  /** Free buffers by size class, each list sorted newest first (acquire pops the oldest). */
  private free = new Map<number, { buffer: GPUBuffer; ordinal: number }[]>();
  /**
   * Each buffer's size and place in creation order (see release). Kept here because reading
   * `buffer.size` goes through the WebGPU binding (in Node a native call, ~0.6 µs).
   */
  private meta = new WeakMap<GPUBuffer, { size: number; ordinal: number }>();
  private stats: MemoryStats = { liveBytes: 0, liveBuffers: 0, pooledBytes: 0, pooledBuffers: 0, peakBytes: 0, peakLiveBytes: 0, created: 0 };

  /**
   * `maxBytes` is the largest buffer a kernel can use: every pooled buffer is bound whole as a
   * storage buffer, so the limit is min(maxBufferSize, maxStorageBufferBindingSize) — on
   * lavapipe 128 MiB, far below maxBufferSize (4 GiB). A larger request fails here, naming the
   * op, instead of as a GPU validation error at the next sync.
   */
  constructor(private device: GPUDevice, private maxBytes: number) {}

  acquire(bytes: number, label: string): GPUBuffer {
    // Every buffer is whole 16-byte vec4s: the kernels read and write tensors as vec4s (the last
    // one past numel where numel % 4 != 0, and strided reads of element j as vec4 j / 4).
    const vec4Bytes = Math.ceil(bytes / 16) * 16;
    if (vec4Bytes > this.maxBytes) {
      throw new GpuOutOfMemoryError(
        `wgslgrad: GPU out of memory: ${label} needs a ${bytes}-byte buffer (${formatBytes(bytes)}` +
          `${vec4Bytes !== bytes ? `; ${vec4Bytes} bytes as whole 16-byte vec4s` : ''}), but a kernel can bind ` +
          `at most ${this.maxBytes} bytes (${formatBytes(this.maxBytes)}) per tensor on this device ` +
          `(min of maxBufferSize and maxStorageBufferBindingSize); use a smaller batch or input`,
      );
    }
    // A size class may round past the limit even though the request fits: take the request's
    // whole vec4s then.
    const size = sizeClass(bytes) <= this.maxBytes ? sizeClass(bytes) : vec4Bytes;
    let buffer = this.free.get(size)?.pop()?.buffer;
    if (buffer) {
      this.stats.pooledBytes -= size;
      this.stats.pooledBuffers--;
    } else {
      buffer = this.device.createBuffer({ size, usage: BUFFER_USAGE_STORAGE, label });
      this.meta.set(buffer, { size, ordinal: this.stats.created++ });
    }
    this.stats.liveBytes += size;
    this.stats.liveBuffers++;
    const held = this.stats.liveBytes + this.stats.pooledBytes;
    if (held > this.stats.peakBytes) this.stats.peakBytes = held;
    if (this.stats.liveBytes > this.stats.peakLiveBytes) this.stats.peakLiveBytes = this.stats.liveBytes;
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    const meta = this.meta.get(buffer) ?? { size: buffer.size, ordinal: 0 };
    const size = meta.size;
    this.stats.liveBytes -= size;
    this.stats.liveBuffers--;
    this.stats.pooledBytes += size;
    this.stats.pooledBuffers++;
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    // Kept sorted, the oldest buffer last, so that acquire() pops the oldest free buffer: what a
    // step is handed then depends only on which buffers are free, not on the order earlier
    // steps freed them in. With a plain stack a ResNet-20 training step was handed other
    // buffers than the step before for 181 of its 252 dispatches, whose bind groups (keyed by
    // buffer, see launch.ts) then missed the cache and were created anew (~18 µs of host each).
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].ordinal > meta.ordinal) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, { buffer, ordinal: meta.ordinal });
  }

  /** Destroy every pooled buffer (live ones are untouched). */
  emptyCache(): void {
    for (const list of this.free.values()) for (const { buffer } of list) buffer.destroy();
    this.free.clear();
    this.stats.pooledBytes = 0;
    this.stats.pooledBuffers = 0;
  }

  snapshot(): MemoryStats {
    return { ...this.stats };
  }

  /** Start measuring the peaks afresh from the current levels. */
  resetPeak(): void {
    this.stats.peakBytes = this.stats.liveBytes + this.stats.pooledBytes;
    this.stats.peakLiveBytes = this.stats.liveBytes;
  }
}
