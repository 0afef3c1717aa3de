// SPDX-License-Identifier: MIT
// F.conv2d: 2-D convolution (cross-correlation, as torch.nn.functional.conv2d), NCHW float32.
//   x: (N, C, H, W)   w: (K, C/groups, R, S) (OIHW)   b: (K)   y: (N, K, P, Q)
// stride / padding / dilation take a number or [h, w]; padding is symmetric zero padding.
//
// Forward and backward each run their own WGSL kernels (src/kernels/conv2d.ts chooses the
// direct or the implicit-GEMM implementation):
//   dx = conv2d_backward_input(gy, w)    needs w      (saved only if x needs a gradient)
//   dw = conv2d_backward_weight(gy, x)   needs x      (saved only if w needs a gradient)
//   db = sum of gy over (n, p, q)

import { Tensor, assertAlive } from '../../tensor/tensor.js';
import { OpArgumentError, fmtShape } from '../../tensor/errors.js';
import { recordOp } from '../../autograd/record.js';
import { plain, disposeIfCopy } from '../../ops/shape.js';
import {
  conv2dGeometry, conv2dForward, conv2dBackwardInput, conv2dBackwardWeight, conv2dBackwardBias,
  type Conv2dOptions, type Conv2dGeometry,
} from '../../kernels/conv2d.js';
import { isGradEnabled } from '../../autograd/grad-mode.js';

export type { Conv2dOptions, Pair } from '../../kernels/conv2d.js';
export { setConvImplementation, getConvImplementation, type ConvImplementation } from '../../kernels/conv2d.js';

/** Check conv2d's operands (dtype, bias shape) and compute its geometry; `op` names errors. */
function checkedGeometry(op: string, x: Tensor, w: Tensor, bias: Tensor | null, opts: Conv2dOptions): Conv2dGeometry {
  const inputs = bias ? [x, w, bias] : [x, w];
  assertAlive(op, ...inputs);
  for (const t of inputs) {
    if (t.dtype !== 'float32') {
      throw new OpArgumentError(`${op}: expected float32 tensors, got x ${x.describe()}, w ${w.describe()}${bias ? `, b ${bias.describe()}` : ''}`);
    }
  }
  const g = conv2dGeometry(x.shape, w.shape, opts, op);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== g.K)) {
    throw new OpArgumentError(`${op}: expected a bias of shape [${g.K}] (one per output channel), got b ${fmtShape(bias.shape)} for x ${fmtShape(x.shape)}, w ${fmtShape(w.shape)}`);
  }
  return g;
}

export function conv2d(x: Tensor, w: Tensor, b?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const op = 'conv2d';
  const bias = b ?? null;
  const inputs = bias ? [x, w, bias] : [x, w];
  const g = checkedGeometry(op, x, w, bias, opts);

  const xp = plain(x);
  const wp = plain(w);
  const bp = bias ? plain(bias) : null;
  const y = conv2dForward(xp, wp, bp, g);
  if (bp) disposeIfCopy(bp, bias!);

  // Save only what the backward will read (a view sharing storage; the copies made by plain()
  // are reused rather than copied again).
  const needX = w.requiresGrad;
  const needW = x.requiresGrad;
  const save = [...(needX ? [xp] : []), ...(needW ? [wp] : [])];
  const out = recordOp(op, inputs, y, save, (gy, saved, pending0, into) => {
    const xs = needX ? saved[0] : null;
    const ws = needW ? saved[needX ? 1 : 0] : null;
    const gyp = plain(gy);
    // dx + the gradient x already has from its other consumers (a residual block's shortcut).
    const dx = ws ? conv2dBackwardInput(gyp, ws, g, pending0 ?? null) : null;
    // dw and db straight into the parameters' gradient slots where they have them (`into`).
    const dw = xs ? conv2dBackwardWeight(gyp, xs, g, into?.[1] ?? null) : null;
    const db = bias?.requiresGrad ? conv2dBackwardBias(gyp, into?.[2] ?? null) : null;
    disposeIfCopy(gyp, gy);
    return bias ? [dx, dw, db] : [dx, dw];
  }, { foldsPending: true });
  disposeIfCopy(xp, x);
  disposeIfCopy(wp, w);
  return out;
}

/**
 * relu?(conv2d(x, w, b) + residual) in one convolution pass, for inference: the convolution adds
 * the residual and applies the ReLU before it stores its output (src/kernels/conv2d.ts,
 * ConvEpilogue). Records no gradient, so it runs only under wg.noGrad(); the ResNet blocks use it
 * with a batch norm folded into w and b (src/nn/fold-batch-norm.ts).
 */
export function conv2dEpilogue(x: Tensor, w: Tensor, b: Tensor | null, opts: Conv2dOptions, epilogue: { relu?: boolean; residual?: Tensor | null }): Tensor {
  const op = 'conv2dEpilogue';
  if (isGradEnabled()) throw new OpArgumentError(`${op}: records no gradient; call it under wg.noGrad()`);
  const g = checkedGeometry(op, x, w, b, opts);
  const residual = epilogue.residual ?? null;
  const yShape = [g.N, g.K, g.P, g.Q];
  if (residual && (residual.dtype !== 'float32' || residual.shape.join() !== yShape.join())) {
    throw new OpArgumentError(`${op}: expected a float32 residual of the output's shape ${fmtShape(yShape)}, got ${residual.describe()}`);
  }
  const [xp, wp, bp, rp] = [plain(x), plain(w), b ? plain(b) : null, residual ? plain(residual) : null];
  const y = conv2dForward(xp, wp, bp, g, { relu: epilogue.relu ?? false, residual: rp });
  disposeIfCopy(xp, x);
  disposeIfCopy(wp, w);
  if (bp) disposeIfCopy(bp, b!);
  if (rp) disposeIfCopy(rp, residual!);
  return y;
}
