// SPDX-License-Identifier: MIT
// F.relu, F.addRelu, F.softmax, F.logSoftmax.
//   relu: the core elementwise op (src/ops/elementwise.ts), re-exported.
//   addRelu: relu(a + b) in one pass (residual add + ReLU of ResNet blocks), src/ops/elementwise.ts.
//   softmax / logSoftmax along any dimension: numerically stable (max-subtracted) fused kernels,
//   src/kernels/softmax.ts. Saved for backward: the output y.
//     softmax:     dx = y * (gy - sum(gy * y))      logSoftmax:  dx = gy - exp(y) * sum(gy)

import { Tensor, assertAlive, assertFloat } from '../../tensor/tensor.js';
import { OpArgumentError, fmtShape } from '../../tensor/errors.js';
import { recordOp } from '../../autograd/record.js';
import { plain, disposeIfCopy } from '../../ops/shape.js';
import { softmaxGeometry, softmaxForward, softmaxBackward } from '../../kernels/softmax.js';

export { relu, addRelu } from '../../ops/elementwise.js';

function softmaxOp(op: 'softmax' | 'logSoftmax', x: Tensor, dim: number): Tensor {
  assertAlive(op, x);
  assertFloat(op, x);
  if (!Number.isInteger(dim)) throw new OpArgumentError(`${op}: dim must be an integer, got ${dim} (input ${fmtShape(x.shape)})`);
  // A 0-d tensor is one line of one element (PyTorch accepts dim 0 or -1).
  const rank = Math.max(x.rank, 1);
  if (dim < -rank || dim >= rank) {
    throw new OpArgumentError(`${op}: dim ${dim} is out of range for input ${fmtShape(x.shape)} (expected -${rank} <= dim < ${rank})`);
  }
  const d = dim < 0 ? dim + rank : dim;
  const log = op === 'logSoftmax';
  const g = softmaxGeometry(x.rank === 0 ? [1] : x.shape, d);
  const xp = plain(x);
  const y = softmaxForward(xp, g, log);
  disposeIfCopy(xp, x);
  return recordOp(op, [x], y, [y], (gy, [ys]) => {
    const gyp = plain(gy);
    const dx = softmaxBackward(gyp, ys, g, log);
    disposeIfCopy(gyp, gy);
    return [dx];
  });
}

/** exp(x) / sum(exp(x)) along `dim`. */
export function softmax(x: Tensor, dim: number): Tensor {
  return softmaxOp('softmax', x, dim);
}

/** x - log(sum(exp(x))) along `dim`. */
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return softmaxOp('logSoftmax', x, dim);
}
