// SPDX-License-Identifier: MIT
// Conv2d: a 2-D convolution layer, as torch.nn.Conv2d (zero padding only).
//
//   x: (N, C_in, H, W)  weight: (C_out, C_in/groups, kH, kW)  bias: (C_out)  y: (N, C_out, H_out, W_out)

import { Module, pyTuple, pyBool } from '../module.js';
import { emptyTensor, type Tensor } from '../../tensor/tensor.js';
import { OpArgumentError } from '../../tensor/errors.js';
import * as F from '../functional/index.js';
import { kaimingUniform_, uniform_, calculateFanInAndFanOut } from '../init.js';

import type { Pair, Conv2dOptions as FunctionalConv2dOptions } from '../../kernels/conv2d.js';
export type { Pair };

/** F.conv2d's options plus whether the layer learns a bias. */
export interface Conv2dOptions extends FunctionalConv2dOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

/** A number or [h, w] pair as [h, w], checked to be integers >= min. */
export function pair(op: string, what: string, v: Pair, min: number): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if ((typeof v !== 'number' && (!Array.isArray(v) || v.length !== 2)) || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new OpArgumentError(`${op}: ${what} must be an integer >= ${min} or a pair of them, got ${JSON.stringify(v)}`);
  }
  return p;
}

export class Conv2d extends Module {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  weight: Tensor;
  bias: Tensor | null;

  constructor(inChannels: number, outChannels: number, kernelSize: Pair, opts: Conv2dOptions = {}) {
    super();
    const op = 'Conv2d';
    for (const [what, v] of [['inChannels', inChannels], ['outChannels', outChannels]] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new OpArgumentError(`${op}: ${what} must be a positive integer, got ${v}`);
    }
    this.inChannels = inChannels;
    this.outChannels = outChannels;
    this.kernelSize = pair(op, 'kernelSize', kernelSize, 1);
    this.stride = pair(op, 'stride', opts.stride ?? 1, 1);
    this.padding = pair(op, 'padding', opts.padding ?? 0, 0);
    this.dilation = pair(op, 'dilation', opts.dilation ?? 1, 1);
    this.groups = opts.groups ?? 1;
    if (!Number.isInteger(this.groups) || this.groups <= 0 || inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new OpArgumentError(`${op}: groups=${this.groups} must be a positive integer dividing inChannels=${inChannels} and outChannels=${outChannels}`);
    }
    const shape = [outChannels, inChannels / this.groups, ...this.kernelSize];
    this.weight = this.registerParameter('weight', emptyTensor(shape, 'float32', 'conv.weight'));
    this.bias = this.registerParameter('bias', opts.bias ?? true ? emptyTensor([outChannels], 'float32', 'conv.bias') : null);
    this.resetParameters();
  }

  /** torch's default: kaiming_uniform(a=sqrt(5)) weights, bias uniform(+-1/sqrt(fan_in)). */
  resetParameters(): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const { fanIn } = calculateFanInAndFanOut(this.weight);
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      uniform_(this.bias, -bound, bound);
    }
  }

  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias ?? undefined, {
      stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups,
    });
  }

  override extraRepr(): string {
    let s = `${this.inChannels}, ${this.outChannels}, kernel_size=${pyTuple(this.kernelSize)}, stride=${pyTuple(this.stride)}`;
    if (this.padding.some((p) => p !== 0)) s += `, padding=${pyTuple(this.padding)}`;
    if (this.dilation.some((d) => d !== 1)) s += `, dilation=${pyTuple(this.dilation)}`;
    if (this.groups !== 1) s += `, groups=${this.groups}`;
    if (!this.bias) s += `, bias=${pyBool(false)}`;
    return s;
  }
}
