// SPDX-License-Identifier: MIT
// `scope(fn)`: dispose every tensor created inside fn except those it returns (TF.js's tidy).
//
// A training step creates hundreds of intermediate tensors; wrapping it in a scope frees them
// all deterministically when the step ends. Tensors that must outlive the scope — parameters,
// gradients, optimizer state, what fn returns — are *kept*: moved to the enclosing scope or
// untracked entirely.

import type { Tensor } from './tensor.js';
import { WgslgradError } from './errors.js';

const stack: Set<Tensor>[] = [];

/** Called by the Tensor constructor. Returns whether a scope now owns t (and will dispose it). */
export function track(t: Tensor): boolean {
  const top = stack[stack.length - 1];
  top?.add(t);
  return top !== undefined;
}

/** Remove a tensor from every open scope, so no scope will dispose it. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of stack) s.delete(t);
  t.leftScopes();
  return t;
}

export function untrack(t: Tensor): void {
  for (let i = stack.length - 1; i >= 0; i--) if (stack[i].delete(t)) return;
}

/** Every Tensor reachable in a returned value (a tensor, an array, a plain object, a Map). */
function collectTensors(value: unknown, out: Set<Tensor>, isTensor: (v: unknown) => v is Tensor, depth = 0): void {
  if (depth > 4 || value == null) return;
  if (isTensor(value)) out.add(value);
  else if (Array.isArray(value)) for (const v of value) collectTensors(v, out, isTensor, depth + 1);
  else if (value instanceof Map) for (const v of value.values()) collectTensors(v, out, isTensor, depth + 1);
  else if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value as object)) collectTensors(v, out, isTensor, depth + 1);
  }
}

let tensorCheck: ((v: unknown) => v is Tensor) | null = null;
export function registerTensorCheck(fn: (v: unknown) => v is Tensor): void {
  tensorCheck = fn;
}

/**
 * Run `fn` and dispose every tensor it created, except the ones in its result (which move to
 * the enclosing scope, if any). `fn` must be synchronous: an async function's awaits would let
 * other code run inside the scope.
 */
export function scope<T>(fn: () => T): T {
  const created = new Set<Tensor>();
  stack.push(created);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) {
      throw new WgslgradError('wgslgrad.scope: fn returned a Promise; scopes must be synchronous (await outside, or dispose by hand)');
    }
  } catch (err) {
    stack.pop();
    for (const t of created) t.dispose();
    throw err;
  }
  stack.pop();
  const kept = new Set<Tensor>();
  collectTensors(result, kept, tensorCheck!);
  const parent = stack[stack.length - 1];
  for (const t of created) {
    if (!kept.has(t)) t.dispose();
    else if (parent) parent.add(t);
    else t.leftScopes();
  }
  return result;
}
