// SPDX-License-Identifier: MIT
// Storage: a GPU buffer shared by a tensor and its views, freed when the last one lets go.
//
// Ownership rule: every Tensor object holds exactly one reference to its storage. Views
// (reshape, permute, slice, detach) and tensors saved for backward are new Tensor objects that
// add a reference. `release()` returns the buffer to the pool when the count reaches zero.
//
// A storage is usually a whole pooled buffer. It can also be a *range* of another storage's buffer
// (`Storage.range`): a fused optimizer keeps all of a group's parameters in one buffer, so that one
// dispatch updates them all, and each parameter's storage is its range. A kernel binds a range
// with `{ buffer, offset, size }` and sees only its own elements, from index 0, as if the range
// were a buffer of its own; so no kernel needs to know about ranges.

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

/**
 * What a kernel binds for a tensor: a whole GPUBuffer, or a range of one (WebGPU's
 * GPUBufferBinding). `launch()` takes either; `rawBuffer` and `byteOffsetOf` take one apart for
 * buffer copies and readbacks, which address bytes of the whole buffer.
 */
export type BufferRef = GPUBuffer | GPUBufferBinding;

/** The GPUBuffer behind a BufferRef. */
export function rawBuffer(ref: BufferRef): GPUBuffer {
  return 'buffer' in ref ? ref.buffer : ref;
}

/** Where a BufferRef's first byte lies in its GPUBuffer. */
export function byteOffsetOf(ref: BufferRef): number {
  return 'buffer' in ref ? (ref.offset ?? 0) : 0;
}

/** Whether two BufferRefs are (ranges of) one GPUBuffer: then a dispatch must not write one while it reads the other. */
export function sameBuffer(a: BufferRef, b: BufferRef): boolean {
  return rawBuffer(a) === rawBuffer(b);
}

/** Where a range may start: WebGPU's largest allowed minStorageBufferOffsetAlignment (a binding's offset must be a multiple of the device's). */
export const RANGE_ALIGN_BYTES = 256;

export class Storage {
  private refs = 1;
  private derivedValues: Map<string, Derived> | null = null;
  /** For a range: what `buffer` returns (built once, so bind-group keys and identity checks stay cheap). */
  private readonly rangeBinding: GPUBufferBinding | null;
  constructor(
    private readonly gpuBuffer: GPUBuffer,
    readonly bytes: number,
    private readonly owner: BufferPool,
    /** For a range: the storage whose buffer it lies in (kept alive while the range lives). */
    private readonly parent: Storage | null = null,
    /** For a range: its first byte in the buffer. */
    byteOffset = 0,
  ) {
    this.rangeBinding = parent ? { buffer: gpuBuffer, offset: byteOffset, size: bytes } : null;
  }

  /**
   * A storage over `bytes` bytes of `parent`'s buffer from `byteOffset` (a multiple of the device's
   * minStorageBufferOffsetAlignment, RANGE_ALIGN_BYTES: a binding's offset must be) and of whole
   * 16-byte vec4s (kernels read tensors as vec4s). It holds a reference to `parent` until it is
   * released itself.
   */
  static range(parent: Storage, byteOffset: number, bytes: number): Storage {
    if (parent.parent) throw new Error('wgslgrad internal: a range of a range');
    if (byteOffset % RANGE_ALIGN_BYTES !== 0 || bytes % 16 !== 0 || byteOffset + bytes > parent.bytes) {
      throw new Error(`wgslgrad internal: range [${byteOffset}, +${bytes}) of a ${parent.bytes}-byte storage (offsets must be multiples of ${RANGE_ALIGN_BYTES}, sizes of 16)`);
    }
    return new Storage(parent.gpuBuffer, bytes, parent.owner, parent.retain(), byteOffset);
  }

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

  /**
   * What a kernel binds: the GPU buffer, or for a range its `{ buffer, offset, size }`. Throws
   * DeviceLostError if it belongs to a device that was lost or closed.
   */
  get buffer(): BufferRef {
    if (this.owner !== bufferPool()) throw staleError('a tensor');
    return this.rangeBinding ?? this.gpuBuffer;
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
    if (this.parent) this.parent.release();
    else if (this.owner === pool) pool.release(this.gpuBuffer);
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
