// SPDX-License-Identifier: MIT
// wg.profile(fn): GPU time per kernel label, from timestamp queries.
//
//   const rows = await wg.profile(() => model.forward(x).dispose());
//   // [{ label: 'conv2d', ms: 12.3, count: 20 }, { label: 'matmul', ms: 4.1, count: 1 }, ...]
//
// While `fn` runs, the command queue (queue.ts) gives every dispatch a compute pass of its own
// with timestamp writes at its start and end (the DispatchTimer hook). Before each submit the
// timer resolves the batch's queries into a buffer and copies them to a mappable one; after `fn`
// the batches are read back and the durations summed per dispatch label. Work recorded before
// `profile` is submitted first and not counted. Needs the 'timestamp-query' feature (requested
// by init() when the adapter has it); on a CPU adapter the times are the CPU's.

import { gpu } from './device.js';
import { commands, sync, MAX_DISPATCHES_PER_BATCH, type DispatchTimer } from './queue.js';
import { WgslgradError } from './errors.js';

export interface ProfileEntry {
  /** The dispatch label (the op or kernel name given to launch()). */
  label: string;
  /** Total GPU milliseconds of the dispatches with this label. */
  ms: number;
  /** Number of dispatches with this label. */
  count: number;
}

/** Queries per batch: two per dispatch of the largest batch (queue.ts). */
const QUERY_CAPACITY = 2 * MAX_DISPATCHES_PER_BATCH;

interface ResolvedBatch {
  labels: string[];
  readback: GPUBuffer;
}

class TimestampTimer implements DispatchTimer {
  readonly querySet: GPUQuerySet;
  private labels: string[] = [];
  readonly batches: ResolvedBatch[] = [];
  /** Dispatches that found the query set full (not timed). */
  untimed = 0;

  constructor(private readonly device: GPUDevice, readonly byKernel: boolean) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: QUERY_CAPACITY, label: 'wgslgrad profile' });
  }

  timestampWrites(label: string): GPUComputePassTimestampWrites | undefined {
    const index = 2 * this.labels.length;
    if (index + 2 > QUERY_CAPACITY) {
      this.untimed++;
      return undefined;
    }
    this.labels.push(label);
    return { querySet: this.querySet, beginningOfPassWriteIndex: index, endOfPassWriteIndex: index + 1 };
  }

  beforeSubmit(encoder: GPUCommandEncoder): void {
    if (this.labels.length === 0) return;
    const bytes = 2 * this.labels.length * 8;
    const resolve = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'wgslgrad profile resolve' });
    const readback = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'wgslgrad profile readback' });
    encoder.resolveQuerySet(this.querySet, 0, 2 * this.labels.length, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, readback, 0, bytes);
    commands().destroyAfterSubmit(resolve);
    this.batches.push({ labels: this.labels, readback });
    this.labels = [];
  }
}

export interface ProfileOptions {
  /**
   * Sum per kernel rather than per op: labels become `op [kernel:entry]`, e.g.
   * `conv2d_forward [conv2d_forward_rows_subgroup]`, so the kernels an op chose can be told apart.
   */
  byKernel?: boolean;
}

/**
 * Run `fn` and return the GPU time of the dispatches it recorded, summed per label, slowest
 * first. Throws a WgslgradError when the adapter has no timestamp queries or when called
 * inside another profile().
 */
export async function profile(fn: () => unknown, options: ProfileOptions = {}): Promise<ProfileEntry[]> {
  const ctx = gpu();
  if (!ctx.hasTimestamps) throw new WgslgradError("profile: this adapter has no 'timestamp-query' feature, so GPU time cannot be measured");
  const queue = commands();
  if (queue.timer) throw new WgslgradError('profile: already profiling (profile() calls do not nest)');
  queue.flush(); // earlier work runs untimed
  const timer = new TimestampTimer(ctx.device, options.byKernel ?? false);
  queue.timer = timer;
  const totals = new Map<string, ProfileEntry>();
  try {
    try {
      await fn();
      await sync();
    } finally {
      queue.timer = null;
    }
    for (const batch of timer.batches) {
      await batch.readback.mapAsync(GPUMapMode.READ);
      const ticks = new BigInt64Array(batch.readback.getMappedRange());
      batch.labels.forEach((label, i) => {
        const ns = Number(ticks[2 * i + 1] - ticks[2 * i]);
        const entry = totals.get(label) ?? { label, ms: 0, count: 0 };
        entry.ms += Math.max(0, ns) / 1e6;
        entry.count++;
        totals.set(label, entry);
      });
      batch.readback.unmap();
    }
  } finally {
    for (const batch of timer.batches) batch.readback.destroy();
    timer.querySet.destroy();
  }
  return [...totals.values()].sort((a, b) => b.ms - a.ms);
}
