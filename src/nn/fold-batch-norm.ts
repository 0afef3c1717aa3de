// SPDX-License-Identifier: MIT
// A batch norm folded into the convolution before it, for inference.
//
// In evaluation mode a BatchNorm2d is a fixed affine map per channel k:
//   bn(z)[k] = (z[k] - mean[k]) / sqrt(var[k] + eps) * gamma[k] + beta[k] = z[k] * scale[k] + shift[k]
// and a convolution is linear in its weights, so
//   bn(conv(x; w, b)) = conv(x; w * scale, b * scale + shift)
// — one convolution with rescaled weights and a bias, and no batch-norm pass at all. With the
// ResNet block's residual add and ReLU done by the convolution before it stores (conv2dEpilogue
// in src/nn/functional/conv.ts), the passes after each convolution of a block disappear.
//
// When: the batch norm is in eval mode with running statistics, and no gradient is being
// recorded (wg.noGrad). In training, or when something needs gradients, the layers run as
// written (the folded weights have no gradient path to w, gamma or beta).
// The folded weights are computed once and kept with the convolution's weights (a derived value
// of their Storage, as the packed weights of the conv kernels): dropped when the weights are
// written or released, by a pass that runs the layers unfolded (dropFoldedBatchNorm), or by
// wg.emptyCache(), and recomputed when any of the batch norm's tensors has been written since
// (its running statistics change with every training step). Memory: one more copy of the conv
// weights while inference runs.

import type { Tensor } from '../tensor/tensor.js';
import { writeVersion, bufferId, rawBuffer, byteOffsetOf } from '../tensor/storage.js';
import { isGradEnabled, noGrad } from '../autograd/grad-mode.js';
import { add, sub, mul, div, pow, sqrt, neg } from '../ops/elementwise.js';
import { scope } from '../tensor/scope.js';
import { reshape } from '../ops/shape.js';
import type { Conv2d } from './layers/conv.js';
import type { BatchNorm2d } from './layers/batchnorm.js';
import { conv2dEpilogue } from './functional/conv.js';
import { isRecordOnly } from '../kernels/launch.js';

/** Whether bn(conv(x)) can run folded now (see the header). */
export function canFoldBatchNorm(conv: Conv2d, bn: BatchNorm2d): boolean {
  return !bn.training && bn.runningMean !== null && bn.runningVar !== null && !isGradEnabled() &&
    conv.weight.dtype === 'float32' && bn.numFeatures === conv.weight.shape[0];
}

/** The folded weights and bias, kept on the convolution's weight storage. */
interface Folded {
  /** Which contents of the batch norm (and conv bias) they were computed from. */
  signature: string;
  w: Tensor;
  b: Tensor;
  dispose(): void;
}

const KEY = 'batchNormFold';

/** Identifies the contents of the tensors the fold reads: their buffers and write versions. */
function signature(conv: Conv2d, bn: BatchNorm2d): string {
  const parts = [conv.bias, bn.weight, bn.bias, bn.runningMean, bn.runningVar].map((t) => (t ? `${bufferId(rawBuffer(t.buffer))}@${byteOffsetOf(t.buffer) + 4 * t.offset}:${writeVersion(rawBuffer(t.buffer))}` : '-'));
  return `${parts.join(',')},eps=${bn.eps}`;
}

/** w * scale and b * scale + shift for bn(conv(x)) (the header's formulas). */
function fold(conv: Conv2d, bn: BatchNorm2d): { w: Tensor; b: Tensor } {
  // scope(): the temporaries are freed on return; the returned tensors are then kept (owned by
  // the cache, not by the caller's scope).
  const { w, b } = scope(() =>
    noGrad(() => {
      const std = sqrt(add(bn.runningVar!, bn.eps));
      const scale = bn.weight ? div(bn.weight, std) : pow(std, -1);
      const shift = bn.bias ? sub(bn.bias, mul(bn.runningMean!, scale)) : neg(mul(bn.runningMean!, scale));
      return {
        w: mul(conv.weight, reshape(scale, [conv.weight.shape[0], 1, 1, 1])),
        b: conv.bias ? add(mul(conv.bias, scale), shift) : shift,
      };
    }),
  );
  return { w: w.keep(), b: b.keep() };
}

/** The folded weights and bias, and whether the caller must dispose them (when not cached). */
function foldedWeights(conv: Conv2d, bn: BatchNorm2d): { w: Tensor; b: Tensor; owned: boolean } {
  // wg.warmup's record-only pass dispatches nothing: a fold made there holds garbage, so it is
  // made (its pipelines are what the pass is for) but not kept.
  if (isRecordOnly()) return { ...fold(conv, bn), owned: true };
  const storage = conv.weight.storage;
  const sig = signature(conv, bn);
  const hit = storage.derived(KEY) as Folded | null;
  if (hit && hit.signature === sig) return { w: hit.w, b: hit.b, owned: false };
  const { w, b } = fold(conv, bn);
  const folded: Folded = { signature: sig, w, b, dispose: () => { w.dispose(); b.dispose(); } };
  storage.setDerived(KEY, folded); // replaces (and disposes) a stale one
  return { w, b, owned: false };
}

/**
 * Drop the folded weights kept for `conv` (the ResNet blocks call it whenever they run unfolded,
 * e.g. in training: the weights are about to change, and the copy would otherwise stay allocated
 * until the next inference pass).
 */
export function dropFoldedBatchNorm(conv: Conv2d): void {
  conv.weight.storage.dropDerived(KEY);
}

/**
 * relu?(bn(conv(x)) + residual) as one convolution with the batch norm folded into it. Only
 * where canFoldBatchNorm(conv, bn) holds.
 */
export function convBatchNormFolded(conv: Conv2d, bn: BatchNorm2d, x: Tensor, epilogue: { relu?: boolean; residual?: Tensor | null } = {}): Tensor {
  const { w, b, owned } = foldedWeights(conv, bn);
  const opts = { stride: conv.stride, padding: conv.padding, dilation: conv.dilation, groups: conv.groups };
  const y = conv2dEpilogue(x, w, b, opts, epilogue);
  if (owned) {
    w.dispose();
    b.dispose();
  }
  return y;
}
