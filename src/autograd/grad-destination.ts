// SPDX-License-Identifier: MIT
// Where a leaf's gradient should be written. A fused optimizer keeps its group's gradients side by
// side in one buffer (src/nn/optim/flat.ts); it names each parameter's slot here, and the backward
// pass hands that slot to the op that computes the parameter's gradient (BackwardFn's `into`), so
// the gradient is stored in place instead of being copied over at the next step. An op that
// ignores the offer returns a fresh tensor as usual, and the step copies it: the offer is only
// ever a saving, never a requirement.

import type { Tensor } from '../tensor/tensor.js';

const destinations = new WeakMap<Tensor, () => Tensor>();
let enabled = true;

/** Offer destinations to the backward pass (default), or not (every gradient copied at the step); for benchmarks and tests. Returns the previous setting. */
export function setGradDestinations(on: boolean): boolean {
  const old = enabled;
  enabled = on;
  return old;
}

/** Name where `leaf`'s gradient goes: `make` returns a fresh tensor of its shape over that memory. */
export function setGradDestination(leaf: Tensor, make: () => Tensor): void {
  destinations.set(leaf, make);
}

/** Forget `make` as `leaf`'s destination (if another has replaced it since, that one stays). */
export function forgetGradDestination(leaf: Tensor, make: () => Tensor): void {
  if (destinations.get(leaf) === make) destinations.delete(leaf);
}

/** A tensor to write `leaf`'s gradient into, owned by the caller, or null where it has no place of its own. */
export function gradDestination(leaf: Tensor): Tensor | null {
  return enabled ? (destinations.get(leaf)?.() ?? null) : null;
}
