// SPDX-License-Identifier: MIT
// Pooling layers, as torch.nn: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d.
//
//   x: (N, C, H, W)  y: (N, C, H_out, W_out)

import { Module, pyBool, pyTuple } from '../module.js';
import type { Tensor } from '../../tensor/tensor.js';
import * as F from '../functional/index.js';
import { pair, type Pair } from './conv.js';

/** torch prints pooling sizes as given: an int stays an int, a pair a tuple. */
function show(v: Pair): string {
  return typeof v === 'number' ? String(v) : pyTuple(v);
}

export interface MaxPool2dOptions {
  /** Default: kernelSize. */
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  ceilMode?: boolean;
}

export class MaxPool2d extends Module {
  readonly stride: Pair;
  readonly padding: Pair;
  readonly dilation: Pair;
  readonly ceilMode: boolean;

  constructor(readonly kernelSize: Pair, opts: MaxPool2dOptions = {}) {
    super();
    pair('MaxPool2d', 'kernelSize', kernelSize, 1);
    this.stride = opts.stride ?? kernelSize;
    this.padding = opts.padding ?? 0;
    this.dilation = opts.dilation ?? 1;
    this.ceilMode = opts.ceilMode ?? false;
    pair('MaxPool2d', 'stride', this.stride, 1);
    pair('MaxPool2d', 'padding', this.padding, 0);
    pair('MaxPool2d', 'dilation', this.dilation, 1);
  }

  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, {
      kernelSize: this.kernelSize, stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode,
    });
  }

  override extraRepr(): string {
    return `kernel_size=${show(this.kernelSize)}, stride=${show(this.stride)}, padding=${show(this.padding)}, ` +
      `dilation=${show(this.dilation)}, ceil_mode=${pyBool(this.ceilMode)}`;
  }
}

export interface AvgPool2dOptions {
  /** Default: kernelSize. */
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
  /** Count padded zeros in the average's denominator (default true). */
  countIncludePad?: boolean;
}

export class AvgPool2d extends Module {
  readonly stride: Pair;
  readonly padding: Pair;
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;

  constructor(readonly kernelSize: Pair, opts: AvgPool2dOptions = {}) {
    super();
    pair('AvgPool2d', 'kernelSize', kernelSize, 1);
    this.stride = opts.stride ?? kernelSize;
    this.padding = opts.padding ?? 0;
    this.ceilMode = opts.ceilMode ?? false;
    this.countIncludePad = opts.countIncludePad ?? true;
    pair('AvgPool2d', 'stride', this.stride, 1);
    pair('AvgPool2d', 'padding', this.padding, 0);
  }

  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, {
      kernelSize: this.kernelSize, stride: this.stride, padding: this.padding,
      ceilMode: this.ceilMode, countIncludePad: this.countIncludePad,
    });
  }

  override extraRepr(): string {
    return `kernel_size=${show(this.kernelSize)}, stride=${show(this.stride)}, padding=${show(this.padding)}`;
  }
}

export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: Pair) {
    super();
    pair('AdaptiveAvgPool2d', 'outputSize', outputSize, 1);
  }

  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, pair('AdaptiveAvgPool2d', 'outputSize', this.outputSize, 1));
  }

  override extraRepr(): string {
    return `output_size=${show(this.outputSize)}`;
  }
}
