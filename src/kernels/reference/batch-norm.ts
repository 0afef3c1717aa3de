// SPDX-License-Identifier: MIT
// Float64 reference for the batch-norm kernels (batch_norm_*.wgsl): plain loops, two-pass
// statistics. x is row-major (N, C, S) with S = the product of the spatial dimensions.

export interface BatchNormRefOptions {
  training: boolean;
  momentum: number;
  eps: number;
}

export interface BatchNormRefResult {
  y: Float64Array;
  /** Running statistics after the call (copies; null when none were given). */
  runningMean: Float64Array | null;
  runningVar: Float64Array | null;
  /** The mean and 1/sqrt(var + eps) used to normalise, per channel. */
  mean: Float64Array;
  invstd: Float64Array;
}

function dims(shape: readonly number[]): { N: number; C: number; S: number } {
  return { N: shape[0], C: shape[1], S: shape.slice(2).reduce((a, b) => a * b, 1) };
}

export function batchNormForwardRef(
  x: ArrayLike<number>, shape: readonly number[],
  runningMean: ArrayLike<number> | null, runningVar: ArrayLike<number> | null,
  weight: ArrayLike<number> | null, bias: ArrayLike<number> | null,
  o: BatchNormRefOptions,
): BatchNormRefResult {
  const { N, C, S } = dims(shape);
  const M = N * S;
  const at = (n: number, c: number, s: number) => (n * C + c) * S + s;
  const mean = new Float64Array(C);
  const invstd = new Float64Array(C);
  const rm = runningMean ? Float64Array.from(runningMean) : null;
  const rv = runningVar ? Float64Array.from(runningVar) : null;
  for (let c = 0; c < C; c++) {
    if (o.training) {
      let sum = 0;
      for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) sum += x[at(n, c, s)];
      const m = sum / M;
      let sq = 0;
      for (let n = 0; n < N; n++) for (let s = 0; s < S; s++) sq += (x[at(n, c, s)] - m) ** 2;
      mean[c] = m;
      invstd[c] = 1 / Math.sqrt(sq / M + o.eps);
      if (rm && rv) {
        rm[c] = (1 - o.momentum) * rm[c] + o.momentum * m;
        rv[c] = (1 - o.momentum) * rv[c] + o.momentum * (sq / (M - 1));
      }
    } else {
      mean[c] = rm![c];
      invstd[c] = 1 / Math.sqrt(rv![c] + o.eps);
    }
  }
  const y = new Float64Array(x.length);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const w = weight ? weight[c] : 1;
      const b = bias ? bias[c] : 0;
      for (let s = 0; s < S; s++) y[at(n, c, s)] = (x[at(n, c, s)] - mean[c]) * invstd[c] * w + b;
    }
  }
  return { y, runningMean: rm, runningVar: rv, mean, invstd };
}

/**
 * Gradients of sum(y * gy). Training: dx = w * invstd / M * (M gy - sum gy - xhat sum gy xhat);
 * eval: dx = gy * w * invstd. In both modes dweight = sum gy * xhat, dbias = sum gy.
 */
export function batchNormBackwardRef(
  gy: ArrayLike<number>, x: ArrayLike<number>, shape: readonly number[],
  mean: ArrayLike<number>, invstd: ArrayLike<number>, weight: ArrayLike<number> | null, training: boolean,
): { dx: Float64Array; dweight: Float64Array; dbias: Float64Array } {
  const { N, C, S } = dims(shape);
  const M = N * S;
  const at = (n: number, c: number, s: number) => (n * C + c) * S + s;
  const dx = new Float64Array(x.length);
  const dweight = new Float64Array(C);
  const dbias = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let sg = 0;
    let sgx = 0;
    for (let n = 0; n < N; n++) {
      for (let s = 0; s < S; s++) {
        const i = at(n, c, s);
        sg += gy[i];
        sgx += gy[i] * (x[i] - mean[c]) * invstd[c];
      }
    }
    dweight[c] = sgx;
    dbias[c] = sg;
    const a = (weight ? weight[c] : 1) * invstd[c];
    for (let n = 0; n < N; n++) {
      for (let s = 0; s < S; s++) {
        const i = at(n, c, s);
        const xhat = (x[i] - mean[c]) * invstd[c];
        dx[i] = training ? (a / M) * (M * gy[i] - sg - xhat * sgx) : a * gy[i];
      }
    }
  }
  return { dx, dweight, dbias };
}
