// SPDX-License-Identifier: MIT
// `detectAnomaly(fn)`: run fn with every op output and gradient checked for NaN/Inf.

import { setAnomalyEnabled, takePendingAnomalyChecks, isAnomalyEnabled, type PendingCheck } from './anomaly.js';
import { AnomalyError, fmtShape } from '../tensor/errors.js';
import { emptyTensor } from '../tensor/tensor.js';
import { reduce } from '../kernels/reduce.js';
import { binary } from '../kernels/elementwise.js';
import { copyInto } from '../kernels/copy.js';
import { fillRange } from '../kernels/fill.js';

/**
 * Check the queued tensors in the order they were produced and throw for the first one that
 * holds a NaN or an Inf. Trick: x * 0 is 0 for finite x and NaN for NaN/Inf, so one sum per
 * tensor tells whether it is finite. The sums land in one buffer and are read back once; only
 * the offending tensor is then read in full, to describe what it holds.
 * Uses the raw kernels (no recordOp), so the check itself queues nothing.
 */
export async function flushAnomalyChecks(): Promise<void> {
  const pending = takePendingAnomalyChecks();
  if (pending.length === 0) return;
  const zero = fillRange([1], 'float32', 0, 0);
  const flags = emptyTensor([pending.length], 'float32', 'anomaly_flags');
  try {
    pending.forEach(({ tensor: t }, i) => {
      const z = binary('mul', t, zero);
      const s = reduce('sum', z, [...t.shape.keys()]);
      copyInto(s, { buffer: flags.buffer, offset: i, strides: [] }, 'anomaly_flags');
      z.dispose();
      s.dispose();
    });
    const values = await flags.data();
    const first = values.findIndex((v) => !Number.isFinite(v));
    if (first >= 0) throw new AnomalyError(await describe(pending[first]));
  } finally {
    zero.dispose();
    flags.dispose();
    for (const p of pending) p.tensor.dispose();
  }
}

/** "anomaly: the forward of log produced NaN (2 of 6 values, first at [0, 1]) in its output of shape [2, 3]" */
async function describe(p: PendingCheck): Promise<string> {
  const data = await p.tensor.data();
  let nan = 0;
  let inf = 0;
  let firstAt = -1;
  data.forEach((v, i) => {
    if (Number.isNaN(v)) nan++;
    else if (!Number.isFinite(v)) inf++;
    else return;
    if (firstAt < 0) firstAt = i;
  });
  const kinds = [nan ? `NaN (${nan})` : '', inf ? `Inf (${inf})` : ''].filter(Boolean).join(' and ');
  const where =
    p.pass === 'forward'
      ? `the forward of ${p.op} produced ${kinds} in its output${p.index ? ` ${p.index}` : ''} of shape ${fmtShape(p.shape)}`
      : `the backward of ${p.op} produced ${kinds} in the gradient for its input ${p.index}, of shape ${fmtShape(p.shape)}`;
  const index = firstAt >= 0 ? ` (${data.length} values, the first bad one at ${fmtShape(unravel(firstAt, p.shape))})` : '';
  const site = p.site ? `\n  ${p.op} was called\n    ${p.site}` : '';
  return `anomaly: ${where}${index} — the first non-finite value of the run${site}`;
}

function unravel(i: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return out;
}

/**
 * Run (possibly async) fn in anomaly mode; throws AnomalyError naming the first op (forward or
 * backward) whose result holds a NaN or an Inf. Leaving — normally or by an error — frees every
 * tensor the mode kept for checking.
 */
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
