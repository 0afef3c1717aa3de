// SPDX-License-Identifier: MIT
// Linear (y = x W^T + b), Identity and Flatten, as torch.nn.
//
//   x: (..., in)  weight: (out, in)  bias: (out)  y: (..., out)

import { Module, pyBool } from '../module.js';
import { emptyTensor, type Tensor } from '../../tensor/tensor.js';
import { OpArgumentError } from '../../tensor/errors.js';
import { flatten } from '../../ops/shape.js';
import * as F from '../functional/index.js';
import { kaimingUniform_, uniform_ } from '../init.js';

export class Linear extends Module {
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Tensor;
  bias: Tensor | null;

  constructor(inFeatures: number, outFeatures: number, opts: { bias?: boolean } = {}) {
    super();
    for (const [what, v] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new OpArgumentError(`Linear: ${what} must be a positive integer, got ${v}`);
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.weight = this.registerParameter('weight', emptyTensor([outFeatures, inFeatures], 'float32', 'linear.weight'));
    this.bias = this.registerParameter('bias', opts.bias ?? true ? emptyTensor([outFeatures], 'float32', 'linear.bias') : null);
    this.resetParameters();
  }

  /** torch's default: kaiming_uniform(a=sqrt(5)) weight, bias uniform(+-1/sqrt(in)). */
  resetParameters(): void {
    kaimingUniform_(this.weight, { a: Math.sqrt(5) });
    if (this.bias) {
      const bound = 1 / Math.sqrt(this.inFeatures);
      uniform_(this.bias, -bound, bound);
    }
  }

  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias ?? undefined);
  }

  override extraRepr(): string {
    return `in_features=${this.inFeatures}, out_features=${this.outFeatures}, bias=${pyBool(this.bias !== null)}`;
  }
}

/** Returns its input unchanged (a placeholder, e.g. to drop a model's classifier). */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Flattens dimensions startDim..endDim into one (default: everything but the batch). */
export class Flatten extends Module {
  constructor(readonly startDim = 1, readonly endDim = -1) {
    super();
  }

  forward(x: Tensor): Tensor {
    return flatten(x, this.startDim, this.endDim);
  }

  override extraRepr(): string {
    return `start_dim=${this.startDim}, end_dim=${this.endDim}`;
  }
}
