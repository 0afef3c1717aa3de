// SPDX-License-Identifier: MIT
// Launcher for metrics_accumulate.wgsl: fold a batch's loss and correct count into a 4-float
// accumulator tensor in place (no autograd; nothing read back).

import source from './wgsl/metrics_accumulate.wgsl';
import { defineKernel, launch } from './launch.js';
import { Uniforms } from './uniforms.js';
import type { Tensor } from '../tensor/tensor.js';
import { OpArgumentError, fmtShape } from '../tensor/errors.js';
import { plain, disposeIfCopy } from '../ops/shape.js';

const metricsKernel = defineKernel('metrics_accumulate', source, ['read', 'read', 'read', 'read_write', 'uniform']);
const WG = 64;

/**
 * acc (4) float32 += (loss * N, #correct, N, loss non-finite ? 1 : 0) for logits (N, K),
 * int32 labels (N) and a one-element float32 loss (the batch mean).
 */
export function metricsAccumulate(acc: Tensor, logits: Tensor, labels: Tensor, loss: Tensor): void {
  const op = 'metricsAccumulate';
  if (logits.rank !== 2 || logits.dtype !== 'float32') throw new OpArgumentError(`${op}: logits must be float32 (N, K), got ${logits.describe()}`);
  const [rows, cols] = logits.shape;
  if (labels.dtype !== 'int32' || labels.rank !== 1 || labels.shape[0] !== rows) {
    throw new OpArgumentError(`${op}: labels must be int32 of shape [${rows}] to match logits ${fmtShape(logits.shape)}, got ${labels.describe()}`);
  }
  if (loss.size !== 1 || loss.dtype !== 'float32') throw new OpArgumentError(`${op}: loss must be a one-element float32 tensor, got ${loss.describe()}`);
  if (acc.size !== 4 || acc.dtype !== 'float32' || !acc.isContiguous || acc.offset !== 0) {
    throw new OpArgumentError(`${op}: acc must be a plain float32 tensor of 4 elements, got ${acc.describe()}`);
  }
  if (cols < 1) throw new OpArgumentError(`${op}: logits ${fmtShape(logits.shape)} has no classes`);
  const lg = plain(logits);
  const lb = plain(labels);
  const ls = plain(loss);
  launch(metricsKernel, {
    buffers: [lg.buffer, lb.buffer, ls.buffer, acc.buffer],
    params: new Uniforms().u32(rows).u32(cols).finish(),
    workgroups: [1],
    constants: { WG },
    label: op,
  });
  disposeIfCopy(lg, logits);
  disposeIfCopy(lb, labels);
  disposeIfCopy(ls, loss);
}
