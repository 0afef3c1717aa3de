// SPDX-License-Identifier: MIT
// F.batchNorm: batch normalisation over (N, C, *spatial) inputs, as torch.nn.functional.batch_norm.
//
//   y = (x - mean) / sqrt(var + eps) * weight + bias        per channel c
// Training: mean/var are the batch statistics (biased var), and runningMean/runningVar (if given)
// are updated IN PLACE in their own buffers: r = (1 - momentum) * r + momentum * stat, with the
// unbiased variance for runningVar (PyTorch's rule). Eval: the running statistics are used.
// Saved for backward: x, the per-channel (mean, invstd, scale, shift) and weight.
// Option `relu: true` returns relu(batchNorm(x)) from one fused forward pass (the BatchNorm + ReLU
// pairs of ResNets); its backward masks the incoming gradient by the saved output (y > 0) inside
// the batch-norm backward passes, so no relu/reluBackward dispatches run. Same values as
// F.relu(F.batchNorm(x, ...)) -- the batch-norm sums keep their order.
// Option `residual: r` (a tensor of x's shape) returns batchNorm(x) + r, or relu(batchNorm(x) + r)
// with `relu`, from the same one pass: the end of a residual block (bn2(conv2(...)) + shortcut)
// without a separate add / addRelu pass. Its backward is addRelu's, then batch norm's: the
// gradient g = gy * (y > 0) (gy without relu) is r's gradient and goes into the batch-norm
// backward passes; y is saved for the mask, as addRelu saves it.
// Kernels and their order: src/kernels/batch-norm.ts.

import { sameBuffer } from '../../tensor/storage.js';
import { Tensor, assertAlive } from '../../tensor/tensor.js';
import { OpArgumentError, fmtShape } from '../../tensor/errors.js';
import { recordOp } from '../../autograd/record.js';
import { plain, disposeIfCopy } from '../../ops/shape.js';
import { batchNormGeometry, batchNormForward, batchNormBackward } from '../../kernels/batch-norm.js';
import { binary } from '../../kernels/elementwise.js';
import { sameShape } from '../../tensor/shape.js';
import { checkOptions } from './check-options.js';

export interface BatchNormOptions {
  /** Use batch statistics and update the running ones (default false, as in PyTorch). */
  training?: boolean;
  /** Weight of the new batch statistic in the running average (default 0.1). */
  momentum?: number;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Return relu(batchNorm(x)), fused into the batch-norm passes (default false). */
  relu?: boolean;
  /**
   * Add this tensor (x's shape) to the normalised output before the ReLU, in the same pass: the
   * shortcut at the end of a residual block (default none).
   */
  residual?: Tensor | null;
  /**
   * A module's `num_batches_tracked` (int32, one element): incremented in training by the pass
   * that updates the running statistics, instead of by a dispatch of its own (BatchNorm2d).
   */
  numBatchesTracked?: Tensor | null;
}

function validate(x: Tensor, params: [string, Tensor | null][], training: boolean, momentum: number, eps: number): void {
  const op = 'batchNorm';
  assertAlive(op, x, ...params.flatMap(([, t]) => (t ? [t] : [])));
  const describe = () => `input ${fmtShape(x.shape)}, ${params.map(([n, t]) => `${n} ${t ? fmtShape(t.shape) : 'null'}`).join(', ')}`;
  if (x.dtype !== 'float32') throw new OpArgumentError(`${op}: expected a float32 input, got ${x.describe()}`);
  if (x.rank < 2 || x.rank > 5) throw new OpArgumentError(`${op}: expected an input of rank 2 to 5 (N, C, *spatial), got ${fmtShape(x.shape)}`);
  if (x.size === 0) throw new OpArgumentError(`${op}: the input ${fmtShape(x.shape)} is empty`);
  const C = x.shape[1];
  for (const [name, t] of params) {
    if (!t) continue;
    if (t.dtype !== 'float32') throw new OpArgumentError(`${op}: ${name} must be float32, got ${t.describe()} (${describe()})`);
    if (t.rank !== 1 || t.shape[0] !== C) {
      throw new OpArgumentError(`${op}: ${name} must have shape [${C}] (one value per channel of the input), got ${fmtShape(t.shape)} (${describe()})`);
    }
  }
  const [, runningMean] = params[0];
  const [, runningVar] = params[1];
  if (!training && (!runningMean || !runningVar)) {
    throw new OpArgumentError(`${op}: eval mode (training = false) needs runningMean and runningVar (${describe()})`);
  }
  if (training && x.size / C <= 1) {
    throw new OpArgumentError(`${op}: expected more than 1 value per channel when training, got input ${fmtShape(x.shape)}`);
  }
  if (!Number.isFinite(momentum)) throw new OpArgumentError(`${op}: momentum must be a finite number, got ${momentum}`);
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new OpArgumentError(`${op}: eps must be a finite number >= 0, got ${eps}`);
  // The running statistics are written in place: they must be plain strided memory that no
  // other argument shares (WebGPU forbids a buffer written and bound twice in one dispatch).
  for (const [name, t] of [['runningMean', runningMean], ['runningVar', runningVar]] as const) {
    if (!t) continue;
    if (!t.isContiguous) throw new OpArgumentError(`${op}: ${name} ${fmtShape(t.shape)} must be contiguous to be updated in place`);
    const others = [x, ...params.map(([, o]) => o)].filter((o): o is Tensor => o !== null && o !== t);
    if (others.some((o) => sameBuffer(o.buffer, t.buffer))) {
      throw new OpArgumentError(`${op}: ${name} shares memory with another argument; it is updated in place and must have its own storage (${describe()})`);
    }
  }
}

function checkedCounter(t: Tensor | null): Tensor | null {
  if (t && (t.dtype !== 'int32' || t.size !== 1 || !t.isContiguous)) {
    throw new OpArgumentError(`batchNorm: numBatchesTracked must be a one-element int32 tensor, got ${t.describe()}`);
  }
  return t;
}

/**
 * Batch normalisation of x (N, C, *spatial) per channel C. `weight`/`bias` (C) may be null
 * (scale 1, shift 0); runningMean/runningVar (C) may be null in training (no update) and are
 * required in eval.
 */
export function batchNorm(
  x: Tensor, runningMean: Tensor | null, runningVar: Tensor | null,
  weight: Tensor | null = null, bias: Tensor | null = null, opts: BatchNormOptions = {},
): Tensor {
  checkOptions('batchNorm', opts, ['training', 'momentum', 'eps', 'relu', 'residual', 'numBatchesTracked']);
  if (opts.momentum === null) {
    throw new OpArgumentError('batchNorm: momentum null (a cumulative moving average) is not supported; pass a number in [0, 1]');
  }
  const training = opts.training ?? false;
  const momentum = opts.momentum ?? 0.1;
  const eps = opts.eps ?? 1e-5;
  const relu = opts.relu ?? false;
  if (typeof relu !== 'boolean') throw new OpArgumentError(`batchNorm: relu must be a boolean, got ${String(relu)}`);
  validate(x, [['runningMean', runningMean], ['runningVar', runningVar], ['weight', weight], ['bias', bias]], training, momentum, eps);
  const residual = checkedResidual(x, opts.residual ?? null, [runningMean, runningVar]);

  const g = batchNormGeometry(x.shape);
  const xp = plain(x);
  const wp = weight ? plain(weight) : null;
  const bp = bias ? plain(bias) : null;
  const counter = training ? checkedCounter(opts.numBatchesTracked ?? null) : null;
  const rp = residual ? plain(residual) : null;
  const { stats, y } = batchNormForward(xp, g, { training, momentum, eps, runningMean, runningVar, weight: wp, bias: bp, counter }, relu, rp);
  if (bp && bp !== bias) bp.dispose();
  if (residual && rp) disposeIfCopy(rp, residual);

  const inputs = [x, weight, bias, residual].filter((t): t is Tensor => t !== null);
  const needInput = x.requiresGrad;
  const needWeight = weight?.requiresGrad ?? false;
  const needBias = bias?.requiresGrad ?? false;
  // Saved: x, stats, then the weight (if any). With relu alone the mask is recomputed from x and
  // stats; with a residual as well it is the output's (y > 0), so y is saved last.
  const maskByOutput = residual !== null && relu;
  const save = [xp, stats, ...(wp ? [wp] : []), ...(maskByOutput ? [y] : [])];
  const name = `batchNorm${residual ? 'Add' : ''}${relu ? 'Relu' : ''}`;
  const out = recordOp(name, inputs, y, save, (gy, saved, _pending, into) => {
    const [xs, st] = saved;
    const ws = wp ? saved[2] : null;
    const gyp = plain(gy);
    // With a residual, g = gy * (y > 0) (gy itself without relu) is the residual's gradient and
    // the batch norm's incoming one.
    const gm = maskByOutput ? binary('reluBackward', gyp, saved[saved.length - 1]) : gyp;
    // dweight and dbias straight into the parameters' gradient slots where they have them (`into`).
    const intoWeight = weight ? (into?.[1] ?? null) : null;
    const intoBias = bias ? (into?.[weight ? 2 : 1] ?? null) : null;
    const grads = batchNormBackward(gm, xs, st, g, {
      training, weight: ws, needInput, needWeight, needBias, relu: relu && !residual, intoWeight, intoBias,
    });
    // The residual's gradient is g, as a handle of its own (the engine disposes each returned gradient).
    const gr = residual?.requiresGrad ? gm.detach() : null;
    if (gm !== gyp) gm.dispose();
    disposeIfCopy(gyp, gy);
    const result: (Tensor | null)[] = [grads.dx];
    if (weight) result.push(grads.dweight);
    if (bias) result.push(grads.dbias);
    if (residual) result.push(gr);
    return result;
  });
  // The node keeps its own views of what it saved; drop the forward's references.
  disposeIfCopy(xp, x);
  if (wp && wp !== weight) wp.dispose();
  stats.dispose();
  return out;
}

/** The residual option: x's shape, float32, alive, and not one of the statistics written in place. */
function checkedResidual(x: Tensor, r: Tensor | null, inPlace: (Tensor | null)[]): Tensor | null {
  if (!r) return null;
  if (!(r instanceof Tensor)) throw new OpArgumentError(`batchNorm: residual must be a Tensor, got ${String(r)}`);
  assertAlive('batchNorm', r);
  if (r.dtype !== 'float32' || !sameShape(r.shape, x.shape)) {
    throw new OpArgumentError(`batchNorm: residual must be a float32 tensor of the input's shape ${fmtShape(x.shape)}, got ${r.describe()}`);
  }
  if (inPlace.some((t) => t && sameBuffer(t.buffer, r.buffer))) {
    throw new OpArgumentError('batchNorm: residual shares memory with a running statistic, which is updated in place');
  }
  return r;
}
