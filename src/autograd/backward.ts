// SPDX-License-Identifier: MIT
// The backward pass, shaped like micrograd's: order the graph topologically, walk it in
// reverse, call each node's backward, and *accumulate* (+=) the gradients it returns into the
// nodes upstream — a tensor used twice (the residual shortcut!) gets the sum of both paths. A
// node recorded with `foldsPending` (a convolution) is handed the sum so far for its input 0 and
// adds it itself, as it stores its own gradient: one pass over dx fewer per residual block.

import { AccumulateGrad, Node } from './node.js';
import { setGradEnabled } from './grad-mode.js';
import { checkAnomalies } from './anomaly.js';
import type { Tensor } from '../tensor/tensor.js';
import { OpArgumentError, fmtShape } from '../tensor/errors.js';
import { sameShape } from '../tensor/shape.js';
import { add } from '../ops/elementwise.js';
import { onesLike } from '../ops/creation.js';
import { isRecordOnly } from '../kernels/launch.js';
import { gradDestination } from './grad-destination.js';

/** Nodes reachable from `root`, each after every node that consumes its output. */
function topologicalOrder(root: Node): Node[] {
  const order: Node[] = [];
  const visited = new Set<Node>();
  // Iterative DFS (deep ResNets would overflow a recursive one).
  const stack: Array<{ node: Node; i: number }> = [{ node: root, i: 0 }];
  visited.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const edge = top.node.next[top.i++];
    if (top.i > top.node.next.length) {
      order.push(top.node);
      stack.pop();
    } else if (edge instanceof Node && !visited.has(edge)) {
      visited.add(edge);
      stack.push({ node: edge, i: 0 });
    }
  }
  return order.reverse(); // root first
}

/**
 * For each input of `node` that is a parameter with a place for its gradient (a fused optimizer's
 * arena) and no gradient yet, that place; null when there are none. Not for a parameter that is
 * two of the node's inputs, nor in wg.warmup's record-only pass.
 */
function destinationsFor(node: Node): (Tensor | null)[] | null {
  if (isRecordOnly()) return null;
  let into: (Tensor | null)[] | null = null;
  node.next.forEach((edge, i) => {
    if (!(edge instanceof AccumulateGrad) || edge.leaf.grad !== null || edge.leaf.isDisposed) return;
    if (node.next.indexOf(edge) !== i || node.next.indexOf(edge, i + 1) >= 0) return;
    const dest = gradDestination(edge.leaf);
    if (!dest) return;
    into ??= node.next.map(() => null);
    into[i] = dest;
  });
  return into;
}

function accumulateLeaf(sink: AccumulateGrad, g: Tensor): void {
  const leaf = sink.leaf;
  if (leaf.isDisposed) {
    g.dispose();
    return;
  }
  if (isRecordOnly()) {
    // wg.warmup: compile the accumulation but leave .grad as it was (g holds garbage).
    if (leaf.grad) add(leaf.grad, g).dispose();
    g.dispose();
    return;
  }
  if (leaf.grad) {
    const sum = add(leaf.grad, g);
    leaf.grad.dispose();
    g.dispose();
    leaf.grad = sum.keep();
  } else {
    leaf.grad = g.keep();
  }
}

export function backward(root: Tensor, gradOutput: Tensor | undefined, retainGraph: boolean): void {
  if (!root.requiresGrad) {
    throw new OpArgumentError(`backward: ${root.describe()} does not require grad (no input of its graph has requiresGrad = true)`);
  }
  if (!gradOutput && root.size !== 1) {
    throw new OpArgumentError(`backward: gradient can be implicitly created only for one-element outputs; got ${fmtShape(root.shape)} — pass a gradOutput`);
  }
  if (gradOutput && !sameShape(gradOutput.shape, root.shape)) {
    throw new OpArgumentError(`backward: gradOutput ${fmtShape(gradOutput.shape)} does not match the output ${fmtShape(root.shape)}`);
  }
  const previous = setGradEnabled(false);
  try {
    const seed = gradOutput ? gradOutput.detach() : onesLike(root);
    const edge = root.gradEdge();
    if (edge instanceof AccumulateGrad) {
      accumulateLeaf(edge, seed);
      return;
    }
    const rootNode = edge as Node;
    const grads = new Map<Node, Tensor>([[rootNode, seed]]);
    for (const node of topologicalOrder(rootNode)) {
      const gy = grads.get(node);
      grads.delete(node);
      if (!gy) continue; // no gradient reached this node
      // A node that folds (a convolution) gets its input's pending gradient, when that input
      // comes from another node and is not also one of its other inputs.
      const first = node.next[0];
      const pending0 = node.foldsPending && first instanceof Node && node.next.indexOf(first, 1) < 0 ? grads.get(first) ?? null : null;
      const into = destinationsFor(node);
      const inputGrads = into ? node.backwardFn(gy, node.saved, pending0, into) : node.backwardFn(gy, node.saved, pending0);
      gy.dispose();
      if (into) into.forEach((d, i) => { if (d && inputGrads[i] !== d) d.dispose(); }); // offers not taken
      checkAnomalies(node.name, inputGrads, 'backward');
      node.next.forEach((next, i) => {
        const g = inputGrads[i];
        if (!g) return;
        if (!sameShape(g.shape, node.inputShapes[i])) {
          throw new Error(`wgslgrad internal: ${node.name} backward returned a gradient of shape ${fmtShape(g.shape)} for an input of shape ${fmtShape(node.inputShapes[i])}`);
        }
        if (!next) g.dispose();
        else if (next instanceof AccumulateGrad) accumulateLeaf(next, g);
        else {
          const prev = grads.get(next);
          if (prev && i === 0 && prev === pending0) {
            grads.set(next, g); // g includes prev
            prev.dispose();
          } else if (prev) {
            grads.set(next, add(prev, g));
            prev.dispose();
            g.dispose();
          } else grads.set(next, g);
        }
      });
      if (!retainGraph) node.freeSaved();
    }
    for (const g of grads.values()) g.dispose();
  } finally {
    setGradEnabled(previous);
  }
}
