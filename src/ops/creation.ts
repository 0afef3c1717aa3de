// SPDX-License-Identifier: MIT
// Creating tensors: from host data, constants, ranges, random numbers.

import { Tensor, type DType } from '../tensor/tensor.js';
import { Storage, rawBuffer, byteOffsetOf } from '../tensor/storage.js';
import { commands } from '../tensor/queue.js';
import { checkShape, numel, type Shape } from '../tensor/shape.js';
import { OpArgumentError, fmtShape } from '../tensor/errors.js';
import { fillRange } from '../kernels/fill.js';
import { randomTensor } from '../kernels/random.js';

export interface TensorOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

type NestedNumbers = number | readonly NestedNumbers[];

function inferShape(data: NestedNumbers): number[] {
  const shape: number[] = [];
  let level: NestedNumbers = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0] as NestedNumbers;
  }
  return shape;
}

function finish(t: Tensor, opts: TensorOptions): Tensor {
  if (opts.requiresGrad) t.requiresGrad = true;
  return t;
}

/**
 * A tensor from host data: a (nested) number array or a typed array, with an optional shape.
 * Int32Array data defaults to dtype int32, everything else to float32.
 */
export function tensor(data: NestedNumbers | Float32Array | Int32Array | ArrayLike<number>, shape?: Shape, opts: TensorOptions = {}): Tensor {
  const dtype: DType = opts.dtype ?? (data instanceof Int32Array ? 'int32' : 'float32');
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (typeof data === 'number') {
    flat = [data];
    inferred = [];
  } else if (Array.isArray(data)) {
    inferred = inferShape(data as NestedNumbers);
    flat = (data as unknown[]).flat(Infinity) as number[];
  } else {
    flat = data as ArrayLike<number>;
    inferred = [flat.length];
  }
  const finalShape = shape ? [...shape] : inferred;
  checkShape('tensor', finalShape);
  if (numel(finalShape) !== flat.length) {
    throw new OpArgumentError(`tensor: ${flat.length} values cannot fill shape ${fmtShape(finalShape)} (expected ${numel(finalShape)} values)`);
  }
  if (dtype !== 'float32' && dtype !== 'int32') throw new OpArgumentError(`tensor: unsupported dtype '${dtype}' (expected 'float32' or 'int32')`);
  const host = dtype === 'int32' ? Int32Array.from(flat) : Float32Array.from(flat);
  const storage = Storage.allocate(Math.max(host.byteLength, 4), 'tensor');
  if (host.byteLength > 0) commands().write(rawBuffer(storage.buffer), byteOffsetOf(storage.buffer), host);
  return finish(new Tensor(storage, finalShape, dtype), opts);
}

export function full(shape: Shape, value: number, opts: TensorOptions = {}): Tensor {
  checkShape('full', shape);
  return finish(fillRange(shape, opts.dtype ?? 'float32', value, 0), opts);
}

export function zeros(shape: Shape, opts: TensorOptions = {}): Tensor {
  return full(shape, 0, opts);
}

export function ones(shape: Shape, opts: TensorOptions = {}): Tensor {
  return full(shape, 1, opts);
}

export function zerosLike(t: Tensor): Tensor {
  return fillRange(t.shape, t.dtype, 0, 0);
}

export function onesLike(t: Tensor): Tensor {
  return fillRange(t.shape, t.dtype, 1, 0);
}

/** arange(end) or arange(start, end, step), like torch.arange. */
export function arange(startOrEnd: number, end?: number, step = 1, opts: TensorOptions = {}): Tensor {
  const start = end === undefined ? 0 : startOrEnd;
  const stop = end === undefined ? startOrEnd : end;
  if (step === 0) throw new OpArgumentError('arange: step must be non-zero');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  // float32 by default (unlike torch's int64 for integer arguments): most uses feed float ops.
  const dtype = opts.dtype ?? 'float32';
  return finish(fillRange([n], dtype, start, step), opts);
}

export interface RandomOptions extends TensorOptions {
  /** Make this call reproducible on its own; otherwise the global generator (manualSeed) is used. */
  seed?: number;
}

/** Uniform [low, high) (default [0, 1)). */
export function rand(shape: Shape, opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  checkShape('rand', shape);
  return finish(randomTensor(shape, 'uniform', opts.low ?? 0, opts.high ?? 1, opts.seed), opts);
}

/** Normal(mean, std) (default standard normal). */
export function randn(shape: Shape, opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  checkShape('randn', shape);
  return finish(randomTensor(shape, 'normal', opts.mean ?? 0, opts.std ?? 1, opts.seed), opts);
}
