// SPDX-License-Identifier: MIT
// F.linear: y = x @ w^T + b, x (..., in), w (out, in), b (out), as torch.nn.functional.linear.
// The leading dimensions of x are folded into one (a view when x is contiguous), so the whole
// batch is one GEMM with w read transposed through its strides (no copy); the bias is a
// broadcast add. Gradients come from matmul's and add's backward (dW = gy^T x, db = sum gy).

import { Tensor, assertAlive, assertFloat } from '../../tensor/tensor.js';
import { OpArgumentError, fmtShape } from '../../tensor/errors.js';
import { matmul } from '../../ops/matmul.js';
import { add } from '../../ops/elementwise.js';
import { reshape } from '../../ops/shape.js';
import { numel } from '../../tensor/shape.js';

export function linear(x: Tensor, w: Tensor, b?: Tensor | null): Tensor {
  const op = 'linear';
  const bias = b ?? null;
  assertAlive(op, x, w, ...(bias ? [bias] : []));
  assertFloat(op, x, w, ...(bias ? [bias] : []));
  const shapes = `x ${fmtShape(x.shape)}, w ${fmtShape(w.shape)}${bias ? `, b ${fmtShape(bias.shape)}` : ''}`;
  if (w.rank !== 2) throw new OpArgumentError(`${op}: expected a weight of shape [out, in], got ${shapes}`);
  const [out, inF] = w.shape;
  if (x.rank < 1 || x.shape[x.rank - 1] !== inF) {
    throw new OpArgumentError(`${op}: the last dimension of x must equal in = ${inF} (w is [out, in]), got ${shapes}`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== out)) {
    throw new OpArgumentError(`${op}: expected a bias of shape [${out}], got ${shapes}`);
  }
  const lead = x.shape.slice(0, -1);
  const x2 = x.rank === 2 ? x : reshape(x, [numel(lead), inF]);
  const y2 = matmul(x2, w, { transB: true });
  if (x2 !== x) x2.dispose();
  let y = y2;
  if (bias) {
    y = add(y2, bias);
    y2.dispose();
  }
  if (x.rank === 2) return y;
  const shaped = reshape(y, [...lead, out]);
  y.dispose();
  return shaped;
}
