// SPDX-License-Identifier: MIT
// `detectAnomaly(fn)`: run fn with every op output and gradient checked for NaN/Inf.

import { setAnomalyEnabled, takePendingAnomalyChecks, isAnomalyEnabled } from './anomaly.js';
import { AnomalyError } from '../tensor/errors.js';
import { reduce } from '../kernels/reduce.js';
import { binary } from '../kernels/elementwise.js';
import { tensor } from '../ops/creation.js';

/**
 * Check the queued tensors in the order they were produced and throw for the first one that
 * holds a NaN or an Inf. Trick: x * 0 is 0 for finite x and NaN for NaN/Inf, so one sum per
 * tensor tells whether it is finite.
 */
export async function flushAnomalyChecks(): Promise<void> {
  const pending = takePendingAnomalyChecks();
  if (pending.length === 0) return;
  const zero = tensor([0]);
  const sums = pending.map(({ tensor: t }) => {
    const z = binary('mul', t, zero);
    const s = reduce('sum', z, [...t.shape.keys()]);
    z.dispose();
    return s;
  });
  try {
    for (let i = 0; i < pending.length; i++) {
      const v = (await sums[i].data())[0];
      if (!Number.isFinite(v)) throw new AnomalyError(`anomaly: ${pending[i].what} contains NaN or Inf — the first op to produce one`);
    }
  } finally {
    zero.dispose();
    for (const s of sums) s.dispose();
    for (const p of pending) p.tensor.dispose();
  }
}

/** Run (possibly async) fn in anomaly mode; throws AnomalyError at the first non-finite value. */
export async function detectAnomaly<T>(fn: () => T | Promise<T>): Promise<T> {
  const previous = isAnomalyEnabled();
  setAnomalyEnabled(true);
  try {
    const result = await fn();
    await flushAnomalyChecks();
    return result;
  } finally {
    setAnomalyEnabled(previous);
  }
}
