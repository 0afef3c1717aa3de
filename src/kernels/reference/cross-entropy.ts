// SPDX-License-Identifier: MIT
// Float64 reference for the cross-entropy kernels (cross_entropy_*.wgsl), written from the
// definition: log-softmax, then the smoothed negative log-likelihood.
//   loss_n = -(1 - eps) * logp[n, t_n] - eps / C * sum_j logp[n, j]       (0 for ignored rows)
//   'mean' divides the sum by the number of rows that are not ignored (PyTorch).

export interface CrossEntropyRefOptions {
  labelSmoothing?: number;
  reduction?: 'mean' | 'sum' | 'none';
  ignoreIndex?: number;
}

function logSoftmaxRow(x: ArrayLike<number>, base: number, C: number): Float64Array {
  let m = -Infinity;
  for (let j = 0; j < C; j++) m = Math.max(m, x[base + j]);
  let s = 0;
  for (let j = 0; j < C; j++) s += Math.exp(x[base + j] - m);
  const lse = m + Math.log(s);
  return Float64Array.from({ length: C }, (_, j) => x[base + j] - lse);
}

/** The loss: one value for 'mean'/'sum', N values for 'none'. */
export function crossEntropyRef(logits: ArrayLike<number>, labels: ArrayLike<number>, N: number, C: number, o: CrossEntropyRefOptions = {}): Float64Array {
  const eps = o.labelSmoothing ?? 0;
  const per = new Float64Array(N);
  let valid = 0;
  for (let n = 0; n < N; n++) {
    if (o.ignoreIndex !== undefined && labels[n] === o.ignoreIndex) continue;
    valid++;
    const lp = logSoftmaxRow(logits, n * C, C);
    let smooth = 0;
    for (let j = 0; j < C; j++) smooth += lp[j];
    per[n] = -(1 - eps) * lp[labels[n]] - (eps / C) * smooth;
  }
  const reduction = o.reduction ?? 'mean';
  if (reduction === 'none') return per;
  const total = per.reduce((a, b) => a + b, 0);
  return Float64Array.of(reduction === 'mean' ? total / valid : total);
}

/** d loss / d logits for an upstream gradient gy (a scalar, or N values for 'none'). */
export function crossEntropyBackwardRef(gy: ArrayLike<number>, logits: ArrayLike<number>, labels: ArrayLike<number>, N: number, C: number, o: CrossEntropyRefOptions = {}): Float64Array {
  const eps = o.labelSmoothing ?? 0;
  const reduction = o.reduction ?? 'mean';
  const ignored = (n: number) => o.ignoreIndex !== undefined && labels[n] === o.ignoreIndex;
  let valid = 0;
  for (let n = 0; n < N; n++) if (!ignored(n)) valid++;
  const dx = new Float64Array(N * C);
  for (let n = 0; n < N; n++) {
    if (ignored(n)) continue;
    const g = reduction === 'none' ? gy[n] : reduction === 'sum' ? gy[0] : gy[0] / valid;
    const lp = logSoftmaxRow(logits, n * C, C);
    for (let j = 0; j < C; j++) dx[n * C + j] = g * (Math.exp(lp[j]) - (j === labels[n] ? 1 - eps : 0) - eps / C);
  }
  return dx;
}
