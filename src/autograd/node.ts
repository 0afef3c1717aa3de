// SPDX-License-Identifier: MIT
// The autograd graph: one Node per differentiable op call, recorded during the forward pass.
//
// As in PyTorch, a node does not point at its input *tensors* but at the nodes that produced
// them (`next`), or at an AccumulateGrad for a leaf (a parameter). So intermediate tensors may
// be disposed as soon as the forward pass is done: the graph keeps only what backward needs,
// the tensors saved explicitly with `saveForBackward`.
//
// Lifetime: a node is referenced by the tensor it produced and by every node downstream of it.
// When that count reaches zero (tensors disposed, or backward has consumed the graph) the node
// releases its saved tensors and drops its references upstream.

import type { Tensor } from '../tensor/tensor.js';
import type { Shape } from '../tensor/shape.js';

/**
 * Computes the gradients of an op's inputs from the gradient of its output. `pending0` (only for
 * nodes recorded with `foldsPending`): the gradient already gathered for input 0 from its other
 * consumers, or null; a backward that gets one returns input 0's gradient *with it added* (a
 * convolution adds it as it stores dx, saving the engine's separate add pass).
 * `into[i]`, where given: a contiguous tensor of input i's shape that the gradient may be written
 * into (input i is a parameter whose gradient has a place of its own: grad-destination.ts). A
 * backward that uses it returns that very tensor; one that does not may ignore it.
 */
export type BackwardFn = (gradOutput: Tensor, saved: readonly Tensor[], pending0?: Tensor | null, into?: readonly (Tensor | null)[]) => (Tensor | null)[];

/** The sink for a leaf tensor's gradient: `leaf.grad += g`. */
export class AccumulateGrad {
  constructor(readonly leaf: Tensor) {}
}

export type Edge = Node | AccumulateGrad | null;

export class Node {
  private refs = 1;
  private released = false;

  constructor(
    /** The op's name, shown in errors and anomaly reports. */
    readonly name: string,
    readonly next: readonly Edge[],
    /** Input shapes, to check that backward returns gradients of the right shape. */
    readonly inputShapes: readonly Shape[],
    private savedTensors: Tensor[],
    readonly backwardFn: BackwardFn,
    /** The backward folds input 0's pending gradient into the one it returns (see BackwardFn). */
    readonly foldsPending = false,
  ) {
    for (const e of next) if (e instanceof Node) e.refs++;
  }

  get saved(): readonly Tensor[] {
    if (this.released) {
      throw new Error(
        `${this.name}: trying to backward through the graph a second time (its saved tensors were freed after the first backward)`,
      );
    }
    return this.savedTensors;
  }

  get isReleased(): boolean {
    return this.released;
  }

  ref(): void {
    this.refs++;
  }

  unref(): void {
    if (--this.refs === 0) this.release();
  }

  /** Free saved tensors now (after backward); upstream links stay for refcounting. */
  freeSaved(): void {
    if (this.released) return;
    this.released = true;
    for (const t of this.savedTensors) t.dispose();
    this.savedTensors = [];
  }

  private release(): void {
    this.freeSaved();
    for (const e of this.next) if (e instanceof Node) e.unref();
  }
}
