// SPDX-License-Identifier: MIT
// Float64 reference for metrics_accumulate.wgsl.

/** Returns acc + (loss * rows, correct, rows, nonFinite) for logits (rows, cols). */
export function metricsAccumulateRef(logits: ArrayLike<number>, labels: ArrayLike<number>, loss: number, rows: number, cols: number, acc: number[]): number[] {
  let correct = 0;
  for (let r = 0; r < rows; r++) {
    let arg = 0;
    for (let c = 1; c < cols; c++) if (logits[r * cols + c] > logits[r * cols + arg]) arg = c;
    if (arg === labels[r]) correct++;
  }
  return [acc[0] + loss * rows, acc[1] + correct, acc[2] + rows, acc[3] + (Number.isFinite(loss) ? 0 : 1)];
}
