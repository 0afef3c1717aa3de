// SPDX-License-Identifier: MIT
// F.crossEntropy: softmax cross-entropy from logits (N, C) and int32 class labels (N), as
// torch.nn.functional.cross_entropy with label_smoothing, reduction and ignore_index.
//
// Forward is one fused, numerically stable kernel (log-sum-exp per row) plus a one-workgroup
// reduction; backward is one fused kernel: dlogits = g * (softmax - (1 - eps) * onehot - eps / C),
// with g = gy / (rows not ignored) for 'mean'. Saved: logits, labels, the per-row lse, the report.
//
// Label checks: dtype (int32) and shape ([N]) are checked here, before anything is dispatched.
// The *range* [0, C) needs the label values, which live on the GPU: the reduction kernel counts
// out-of-range labels, and an OpArgumentError naming crossEntropy, the shapes and the first bad
// row is raised at the next sync point (`await t.data()`, `wg.sync()`). Those rows' losses are
// NaN meanwhile. (See src/kernels/cross-entropy.ts.) We chose this over reading labels back
// because a readback per training step would stall the batched command queue.

import { Tensor, assertAlive } from '../../tensor/tensor.js';
import { OpArgumentError, fmtShape } from '../../tensor/errors.js';
import { recordOp } from '../../autograd/record.js';
import { plain, disposeIfCopy } from '../../ops/shape.js';
import { checkOptions } from './check-options.js';
import { crossEntropyForward, crossEntropyBackward, type CrossEntropyConfig, type Reduction } from '../../kernels/cross-entropy.js';

export interface CrossEntropyOptions {
  /** eps in [0, 1]: the target is (1 - eps) * onehot + eps / C (default 0). */
  labelSmoothing?: number;
  /** 'mean' (default) over rows not ignored, 'sum', or 'none' (one loss per row). */
  reduction?: Reduction;
  /** Rows with this label contribute no loss and no gradient (PyTorch's default is -100; ours: none). */
  ignoreIndex?: number;
}

export function crossEntropy(logits: Tensor, labels: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const op = 'crossEntropy';
  checkOptions(op, opts, ['labelSmoothing', 'reduction', 'ignoreIndex']);
  assertAlive(op, logits, labels);
  const shapes = `logits ${fmtShape(logits.shape)} and labels ${fmtShape(labels.shape)}`;
  if (logits.dtype !== 'float32') throw new OpArgumentError(`${op}: logits must be float32, got ${logits.describe()} (${shapes})`);
  if (logits.rank !== 2 || logits.shape[0] < 1 || logits.shape[1] < 1) {
    throw new OpArgumentError(`${op}: expected logits of shape [N, C] with N, C >= 1, got ${fmtShape(logits.shape)}`);
  }
  const [N, C] = logits.shape;
  if (labels.dtype !== 'int32') {
    throw new OpArgumentError(`${op}: labels must be int32 class indices, got ${labels.dtype} labels (${shapes}); convert with labels.to('int32')`);
  }
  if (labels.rank !== 1 || labels.shape[0] !== N) {
    throw new OpArgumentError(`${op}: expected labels of shape [${N}] (one class index per row of the logits), got ${shapes}`);
  }
  const labelSmoothing = opts.labelSmoothing ?? 0;
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new OpArgumentError(`${op}: labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  const reduction = opts.reduction ?? 'mean';
  if (!['mean', 'sum', 'none'].includes(reduction)) throw new OpArgumentError(`${op}: reduction must be 'mean', 'sum' or 'none', got '${reduction}'`);
  const ignoreIndex = opts.ignoreIndex ?? null;
  if (ignoreIndex !== null && !Number.isInteger(ignoreIndex)) throw new OpArgumentError(`${op}: ignoreIndex must be an integer, got ${ignoreIndex}`);

  const config: CrossEntropyConfig = { N, C, labelSmoothing, reduction, ignoreIndex };
  const lp = plain(logits);
  const tp = plain(labels);
  const { loss, lse, report } = crossEntropyForward(lp, tp, config, shapes);
  const out = recordOp(op, [logits], loss, [lp, tp, lse, report], (gy, [ls, ts, lses, rep]) => {
    const gyp = plain(gy);
    const dx = crossEntropyBackward(gyp, ls, ts, lses, rep, config);
    disposeIfCopy(gyp, gy);
    return [dx];
  });
  disposeIfCopy(lp, logits);
  disposeIfCopy(tp, labels);
  lse.dispose();
  report.dispose();
  return out;
}
