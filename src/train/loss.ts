// SPDX-License-Identifier: MIT
// The training loss: wg.F.crossEntropy, looked up at call time so the trainer builds before
// the functional op lands in a given checkout (and fails with a clear message if it is absent).

import type { Tensor } from '../tensor/tensor.js';
import * as F from '../nn/functional/index.js';

type CrossEntropy = (logits: Tensor, labels: Tensor, opts?: { labelSmoothing?: number }) => Tensor;

export function crossEntropy(logits: Tensor, labels: Tensor, opts: { labelSmoothing?: number } = {}): Tensor {
  const fn = (F as unknown as { crossEntropy?: CrossEntropy }).crossEntropy;
  if (!fn) throw new Error('wgslgrad: F.crossEntropy is not available in this build; pass a `loss` function to the Trainer');
  return fn(logits, labels, opts);
}
