// SPDX-License-Identifier: MIT
// Dropout: zero each element with probability p while training (scaling the rest by 1/(1-p));
// the identity in evaluation mode.

import { Module, pyFloat, pyBool } from '../module.js';
import type { Tensor } from '../../tensor/tensor.js';
import { OpArgumentError } from '../../tensor/errors.js';
import * as F from '../functional/index.js';

export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new OpArgumentError(`Dropout: p must be in [0, 1], got ${p}`);
  }

  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }

  override extraRepr(): string {
    return `p=${pyFloat(this.p)}, inplace=${pyBool(false)}`;
  }
}
