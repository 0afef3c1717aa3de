// SPDX-License-Identifier: MIT
// wg.nn.init: fill a tensor in place, as torch.nn.init does (names with a trailing underscore
// mutate their argument and return it).
//
// Random values come from the GPU Philox generator (`randomTensor`, seeded by wg.manualSeed),
// are written into the target's own buffer with the strided copy kernel, and the temporary is
// freed: nothing is read back to the host and the tensor object (an optimizer may hold it) is
// unchanged. No autograd graph is recorded: initialisation is not part of the model's math.

import { Tensor, assertAlive } from '../tensor/tensor.js';
import { OpArgumentError } from '../tensor/errors.js';
import { copyInto } from '../kernels/copy.js';
import { randomTensor } from '../kernels/random.js';
import { fillRange } from '../kernels/fill.js';

export type Nonlinearity =
  | 'linear' | 'conv1d' | 'conv2d' | 'conv3d' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';
export type FanMode = 'fan_in' | 'fan_out';

/**
 * Write `values` (fresh, contiguous, same shape) into `t`'s memory and free `values`. A
 * contiguous parameter takes copyInto's buffer-to-buffer copy (a memcpy; the strided kernel's
 * index math is the slow part of initialising a 60M-parameter model on a CPU adapter).
 */
function overwrite(t: Tensor, values: Tensor, label: string): Tensor {
  copyInto(values, { buffer: t.buffer, offset: t.offset, strides: t.strides }, label);
  values.dispose();
  return t;
}

function checkFloat(op: string, t: Tensor): void {
  assertAlive(op, t);
  if (t.dtype !== 'float32') throw new OpArgumentError(`${op}: expected a float32 tensor, got ${t.describe()}`);
}

/** Uniform on [a, b). */
export function uniform_(t: Tensor, a = 0, b = 1): Tensor {
  checkFloat('init.uniform_', t);
  if (!(a <= b)) throw new OpArgumentError(`init.uniform_: expected a <= b, got a=${a}, b=${b}`);
  return overwrite(t, randomTensor(t.shape, 'uniform', a, b), 'init.uniform_');
}

/** Normal(mean, std). */
export function normal_(t: Tensor, mean = 0, std = 1): Tensor {
  checkFloat('init.normal_', t);
  if (!(std >= 0)) throw new OpArgumentError(`init.normal_: expected std >= 0, got ${std}`);
  return overwrite(t, randomTensor(t.shape, 'normal', mean, std), 'init.normal_');
}

/** Every element = value (float32 or int32 tensors). */
export function constant_(t: Tensor, value: number): Tensor {
  assertAlive('init.constant_', t);
  return overwrite(t, fillRange(t.shape, t.dtype, value, 0), 'init.constant_');
}

export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}

export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

/** The recommended gain for a nonlinearity (torch.nn.init.calculate_gain). */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  switch (nonlinearity) {
    case 'linear': case 'conv1d': case 'conv2d': case 'conv3d': case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.sqrt(2);
    case 'leaky_relu': {
      const slope = param ?? 0.01;
      return Math.sqrt(2 / (1 + slope * slope));
    }
    case 'selu':
      return 3 / 4;
    default:
      throw new OpArgumentError(`init.calculateGain: unsupported nonlinearity '${nonlinearity as string}'`);
  }
}

/**
 * fan_in = size(1) * receptive field, fan_out = size(0) * receptive field, where the receptive
 * field is the product of the dimensions after the first two (1 for a Linear weight).
 */
export function calculateFanInAndFanOut(t: { shape: readonly number[] }): { fanIn: number; fanOut: number } {
  if (t.shape.length < 2) {
    throw new OpArgumentError(`init: fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions, got [${t.shape.join(', ')}]`);
  }
  const receptive = t.shape.slice(2).reduce((n, d) => n * d, 1);
  return { fanIn: t.shape[1] * receptive, fanOut: t.shape[0] * receptive };
}

export interface KaimingOptions {
  /** Negative slope of the rectifier after this layer (leaky_relu only). Default 0. */
  a?: number;
  /** fan_in preserves the forward pass's variance, fan_out the backward's. Default fan_in. */
  mode?: FanMode;
  /** Default leaky_relu (with a = 0 that is plain ReLU's gain sqrt(2)). */
  nonlinearity?: Nonlinearity;
}

function kaimingStd(op: string, t: Tensor, opts: KaimingOptions): number {
  const mode = opts.mode ?? 'fan_in';
  if (mode !== 'fan_in' && mode !== 'fan_out') throw new OpArgumentError(`${op}: mode must be 'fan_in' or 'fan_out', got '${mode as string}'`);
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const fan = mode === 'fan_in' ? fanIn : fanOut;
  if (fan === 0) throw new OpArgumentError(`${op}: cannot initialise a tensor with zero elements ${t.describe()}`);
  return calculateGain(opts.nonlinearity ?? 'leaky_relu', opts.a ?? 0) / Math.sqrt(fan);
}

/** He et al. 2015: Normal(0, std) with std = gain / sqrt(fan). */
export function kaimingNormal_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  checkFloat('init.kaimingNormal_', t);
  return normal_(t, 0, kaimingStd('init.kaimingNormal_', t, opts));
}

/** He et al. 2015: Uniform(-bound, bound) with bound = gain * sqrt(3 / fan). */
export function kaimingUniform_(t: Tensor, opts: KaimingOptions = {}): Tensor {
  checkFloat('init.kaimingUniform_', t);
  const bound = Math.sqrt(3) * kaimingStd('init.kaimingUniform_', t, opts);
  return uniform_(t, -bound, bound);
}

/** Glorot & Bengio 2010: Uniform(-a, a), a = gain * sqrt(6 / (fan_in + fan_out)). */
export function xavierUniform_(t: Tensor, gain = 1): Tensor {
  checkFloat('init.xavierUniform_', t);
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  const a = gain * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -a, a);
}

/** Glorot & Bengio 2010: Normal(0, std), std = gain * sqrt(2 / (fan_in + fan_out)). */
export function xavierNormal_(t: Tensor, gain = 1): Tensor {
  checkFloat('init.xavierNormal_', t);
  const { fanIn, fanOut } = calculateFanInAndFanOut(t);
  return normal_(t, 0, gain * Math.sqrt(2 / (fanIn + fanOut)));
}
