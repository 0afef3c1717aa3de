// SPDX-License-Identifier: MIT
// BatchNorm2d, as torch.nn.BatchNorm2d.
//
//   x: (N, C, H, W)  weight, bias, running_mean, running_var: (C)  y: (N, C, H, W)
//
// Training mode normalises with the batch's statistics and updates the running ones in place
// (F.batchNorm does both); evaluation mode normalises with the running statistics. Buffers use
// torch's names, so state dicts are interchangeable: running_mean, running_var and
// num_batches_tracked (an int32 scalar on the GPU, incremented by every training forward;
// saved as int64 by saveSafetensors, as torch does).

import { Module, pyFloat, pyBool } from '../module.js';
import type { Tensor } from '../../tensor/tensor.js';
import { OpArgumentError, fmtShape } from '../../tensor/errors.js';
import { zeros, ones } from '../../ops/creation.js';
import * as F from '../functional/index.js';
import { ones_, zeros_ } from '../init.js';

export interface BatchNormOptions {
  eps?: number;
  /** Weight of the new batch in the running averages (default 0.1). */
  momentum?: number;
  /** Learn a per-channel scale (weight) and shift (bias). Default true. */
  affine?: boolean;
  /** Keep running statistics for evaluation. Default true. */
  trackRunningStats?: boolean;
}

export class BatchNorm2d extends Module {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number;
  readonly affine: boolean;
  readonly trackRunningStats: boolean;
  weight: Tensor | null;
  bias: Tensor | null;
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  numBatchesTracked: Tensor | null;

  constructor(numFeatures: number, opts: BatchNormOptions = {}) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures <= 0) {
      throw new OpArgumentError(`BatchNorm2d: numFeatures must be a positive integer, got ${numFeatures}`);
    }
    // torch accepts momentum=None (a cumulative average); that needs the count on the host.
    if (opts.momentum === null || (opts.momentum !== undefined && !(opts.momentum >= 0 && opts.momentum <= 1))) {
      throw new OpArgumentError(`BatchNorm2d: momentum must be a number in [0, 1] (momentum=None is not supported), got ${opts.momentum}`);
    }
    if (opts.eps !== undefined && !(opts.eps >= 0)) throw new OpArgumentError(`BatchNorm2d: eps must be >= 0, got ${opts.eps}`);
    this.numFeatures = numFeatures;
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum ?? 0.1;
    this.affine = opts.affine ?? true;
    this.trackRunningStats = opts.trackRunningStats ?? true;
    const c = [numFeatures];
    this.weight = this.registerParameter('weight', this.affine ? ones(c) : null);
    this.bias = this.registerParameter('bias', this.affine ? zeros(c) : null);
    const track = this.trackRunningStats;
    this.runningMean = this.registerBuffer('running_mean', track ? zeros(c) : null);
    this.runningVar = this.registerBuffer('running_var', track ? ones(c) : null);
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', track ? zeros([], { dtype: 'int32' }) : null);
  }

  /** Running statistics back to mean 0, variance 1, count 0. */
  resetRunningStats(): void {
    if (this.runningMean) zeros_(this.runningMean);
    if (this.runningVar) ones_(this.runningVar);
    if (this.numBatchesTracked) zeros_(this.numBatchesTracked);
  }

  /** Running statistics reset, weight 1, bias 0. */
  resetParameters(): void {
    this.resetRunningStats();
    if (this.weight) ones_(this.weight);
    if (this.bias) zeros_(this.bias);
  }

  forward(x: Tensor): Tensor {
    return this.run(x, false);
  }

  /**
   * relu(this.forward(x)) in one fused pass (F.batchNorm's `relu` option), for the
   * BatchNorm + ReLU pairs of ResNets; same values and gradients as the two modules in a row.
   */
  forwardRelu(x: Tensor): Tensor {
    return this.run(x, true);
  }

  /**
   * relu(this.forward(x) + residual) in one fused pass (F.batchNorm's `residual` and `relu`
   * options): the end of a residual block; same values and gradients as the batch norm followed
   * by an add and a ReLU.
   */
  forwardAddRelu(x: Tensor, residual: Tensor): Tensor {
    return this.run(x, true, residual);
  }

  private run(x: Tensor, relu: boolean, residual: Tensor | null = null): Tensor {
    if (x.rank !== 4) throw new OpArgumentError(`BatchNorm2d: expected 4D input (N, C, H, W), got ${fmtShape(x.shape)}`);
    if (x.shape[1] !== this.numFeatures) {
      throw new OpArgumentError(`BatchNorm2d(${this.numFeatures}): input ${fmtShape(x.shape)} has ${x.shape[1]} channels`);
    }
    // Batch statistics while training, or always when there are no running ones to use.
    const useBatchStats = this.training || !this.trackRunningStats;
    const y = F.batchNorm(x, this.runningMean, this.runningVar, this.weight, this.bias, {
      training: useBatchStats,
      momentum: this.momentum,
      eps: this.eps,
      relu,
      residual,
      // torch counts every training forward: the pass that finalises the statistics does it.
      numBatchesTracked: this.training ? this.numBatchesTracked : null,
    });
    return y;
  }

  override extraRepr(): string {
    return `${this.numFeatures}, eps=${pyFloat(this.eps)}, momentum=${pyFloat(this.momentum)}, ` +
      `affine=${pyBool(this.affine)}, track_running_stats=${pyBool(this.trackRunningStats)}`;
  }
}
