// SPDX-License-Identifier: MIT
// Whether ops record the graph. Off inside `noGrad(fn)` and inside every backward function.

let enabled = true;

export function isGradEnabled(): boolean {
  return enabled;
}

/** Run fn without recording the autograd graph (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const previous = enabled;
  enabled = false;
  let result: T;
  try {
    result = fn();
  } catch (err) {
    enabled = previous;
    throw err;
  }
  if (result instanceof Promise) {
    return result.finally(() => {
      enabled = previous;
    }) as T;
  }
  enabled = previous;
  return result;
}

/** Turn graph recording on or off (like torch.set_grad_enabled); returns the old value. */
export function setGradEnabled(value: boolean): boolean {
  const previous = enabled;
  enabled = value;
  return previous;
}
