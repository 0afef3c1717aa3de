// SPDX-License-Identifier: MIT
// Anomaly mode: find the first op that produced NaN or Inf.
//
// Off by default, because checking means reading values back to the host, which stalls the
// GPU pipeline. When on, every op output (forward) and every gradient (backward) is checked
// with a reduction on the GPU, and the first non-finite one raises an AnomalyError naming the
// op and the shapes. Usage: `await wg.detectAnomaly(async () => { ...step... })`.

import type { Tensor } from '../tensor/tensor.js';

let enabled = false;
const pending: Array<{ what: string; tensor: Tensor }> = [];

export function isAnomalyEnabled(): boolean {
  return enabled;
}

export function setAnomalyEnabled(value: boolean): void {
  enabled = value;
  if (!value) {
    for (const p of pending.splice(0)) p.tensor.dispose();
  }
}

/** Queue op outputs for a finiteness check (cheap: a view is kept, nothing is read yet). */
export function checkAnomalies(op: string, tensors: readonly (Tensor | null)[]): void {
  if (!enabled) return;
  tensors.forEach((t, i) => {
    if (t && t.dtype === 'float32' && !t.isDisposed) pending.push({ what: `${op} (output ${i}, shape [${t.shape.join(', ')}])`, tensor: t.detach().keep() });
  });
}

export function takePendingAnomalyChecks(): Array<{ what: string; tensor: Tensor }> {
  return pending.splice(0);
}
