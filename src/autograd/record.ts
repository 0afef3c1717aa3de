// SPDX-License-Identifier: MIT
// Recording an op into the graph. Every differentiable op calls `recordOp` once after its
// forward kernel ran:
//
//   const y = launchTheKernel(x, w);
//   return recordOp('myop', [x, w], y, [x, w], (gy, [xs, ws]) => [gradX(gy, ws), gradW(gy, xs)]);
//
// The backward function receives the gradient of the output and the saved tensors, and returns
// one gradient per input (null where an input needs none, so no kernel runs for it). With
// `foldsPending` it also receives the gradient input 0 already has from elsewhere, and adds it
// to the one it returns (see BackwardFn).

import { Node, type BackwardFn } from './node.js';
import { isGradEnabled } from './grad-mode.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkAnomalies } from './anomaly.js';

/** Does gradient need to flow into input i? Use it in backward to skip work. */
export function needsGrad(t: Tensor): boolean {
  return t.requiresGrad;
}

/**
 * Attach a graph node to `output` if grad mode is on and any input requires grad.
 * `save` lists tensors the backward needs: they are retained (as views sharing storage), so
 * the caller may dispose the originals.
 */
export function recordOp(
  name: string, inputs: readonly Tensor[], output: Tensor, save: readonly Tensor[], backwardFn: BackwardFn,
  opts: { foldsPending?: boolean } = {},
): Tensor {
  checkAnomalies(name, [output]);
  if (!isGradEnabled() || !inputs.some((t) => t.requiresGrad)) return output;
  const saved = save.map((t) => t.detach());
  // Saved tensors belong to the node, not to any scope: the node frees them after backward.
  for (const t of saved) t.keep();
  const node = new Node(name, inputs.map((t) => t.gradEdge()), inputs.map((t) => t.shape), saved, backwardFn, opts.foldsPending ?? false);
  output.gradFn = node;
  output.requiresGrad = true;
  return output;
}
