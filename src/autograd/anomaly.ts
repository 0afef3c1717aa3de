// SPDX-License-Identifier: MIT
// Anomaly mode: find the first op that produced NaN or Inf.
//
// Off by default, because checking means reading values back to the host, which stalls the
// GPU pipeline. When on, every op output (forward, from recordOp) and every gradient an op's
// backward returns (from the backward engine) is queued here as a view of its storage, with
// the op's name, the pass, the shape and the call site. Nothing is read yet; detect-anomaly.ts
// checks the queue in production order and reports the first non-finite tensor.
// Usage: `await wg.detectAnomaly(async () => { ...step... })`.

import type { Tensor } from '../tensor/tensor.js';

export type AnomalyPass = 'forward' | 'backward';

export interface PendingCheck {
  op: string;
  pass: AnomalyPass;
  /** Output index (forward) or input index whose gradient this is (backward). */
  index: number;
  shape: readonly number[];
  /** A view kept alive until the check (it holds the storage, so the values cannot change). */
  tensor: Tensor;
  /** Where the op was called from, outside the library (forward only). */
  site: string;
}

let enabled = false;
const pending: PendingCheck[] = [];

export function isAnomalyEnabled(): boolean {
  return enabled;
}

/** Turn anomaly mode on or off. Turning it off frees every queued view. */
export function setAnomalyEnabled(value: boolean): void {
  enabled = value;
  if (!value) discardPendingAnomalyChecks();
}

/** Queue op outputs (or, in backward, the gradients an op returned) for a finiteness check. */
export function checkAnomalies(op: string, tensors: readonly (Tensor | null)[], pass: AnomalyPass = 'forward'): void {
  if (!enabled) return;
  const site = pass === 'forward' ? callSite() : '';
  tensors.forEach((t, index) => {
    if (!t || t.dtype !== 'float32' || t.isDisposed) return;
    pending.push({ op, pass, index, shape: t.shape, tensor: t.detach().keep(), site });
  });
}

export function takePendingAnomalyChecks(): PendingCheck[] {
  return pending.splice(0);
}

export function discardPendingAnomalyChecks(): void {
  for (const p of pending.splice(0)) p.tensor.dispose();
}

/** How many views are queued (tests check that turning the mode off frees them). */
export function pendingAnomalyCount(): number {
  return pending.length;
}

// ---- call sites ---------------------------------------------------------------------------

// Frames inside the library are dropped from call sites. From source the library is the src/
// directory above this file; bundled, it is the bundle's directory (dist/).
const here = new URL('.', import.meta.url).pathname;
const libraryDir = here.endsWith('/autograd/') ? new URL('..', import.meta.url).pathname : here;

/** The first few stack frames outside the library and Node internals, one per line. */
function callSite(): string {
  const stack = new Error().stack ?? '';
  return stack
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l.startsWith('at ') && !l.includes(libraryDir) && !l.includes('node_modules') && !l.includes('node:'))
    .slice(0, 3)
    .join('\n    ');
}
