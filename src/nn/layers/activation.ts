// SPDX-License-Identifier: MIT
// ReLU as a module (no state; torch's `inplace` has no equivalent: ops always allocate).

import { Module } from '../module.js';
import type { Tensor } from '../../tensor/tensor.js';
import * as F from '../functional/index.js';

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
}
