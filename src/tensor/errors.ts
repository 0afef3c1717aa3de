// SPDX-License-Identifier: MIT
// Typed errors. Validation errors are raised before anything is dispatched; GPU-side failures
// (compilation, lost device, out of memory) are raised at the next sync point, naming the op.

/** Base class of every error the library throws. */
export class WgslgradError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad arguments to an op: wrong shapes, dtypes, options. Nothing was dispatched. */
export class OpArgumentError extends WgslgradError {}

/**
 * The device went away (driver reset, `device.destroy()`, out of resources). Raised by the next
 * op or readback; `wg.init()` then acquires a new device. Tensors of the lost device stay
 * unusable (using one raises this error too).
 */
export class DeviceLostError extends WgslgradError {}

/**
 * A GPU allocation cannot be made: a tensor larger than one storage binding allows (raised by
 * the op that allocates it, naming the op and the size, before anything is dispatched), or the
 * driver reported out-of-memory (raised at the next sync point, naming the batch's ops).
 */
export class GpuOutOfMemoryError extends WgslgradError {}

/** A WGSL kernel failed to compile or its pipeline to build; carries the compiler messages. */
export class ShaderCompilationError extends WgslgradError {}

/** Anomaly mode (`wg.detectAnomaly`) found a NaN or Inf; the message names the first op that made one. */
export class AnomalyError extends WgslgradError {}

/** Throws an OpArgumentError `op: message (shapes)` unless `cond` holds. */
export function check(cond: unknown, op: string, message: string): asserts cond {
  if (!cond) throw new OpArgumentError(`${op}: ${message}`);
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
