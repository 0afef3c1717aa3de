// SPDX-License-Identifier: MIT
// Float64 reference for softmax_forward.wgsl / softmax_backward.wgsl: three plain passes per
// line (max, sum of exponentials, write). x is row-major, viewed as (outer, D, inner).

function lines(shape: readonly number[], dim: number): { outer: number; D: number; inner: number } {
  const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  return { outer: prod(shape.slice(0, dim)), D: shape[dim], inner: prod(shape.slice(dim + 1)) };
}

export function softmaxRef(x: ArrayLike<number>, shape: readonly number[], dim: number, log = false): Float64Array {
  const { outer, D, inner } = lines(shape, dim);
  const y = new Float64Array(x.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (d: number) => (o * D + d) * inner + i;
      let m = -Infinity;
      for (let d = 0; d < D; d++) m = Math.max(m, x[at(d)]);
      let s = 0;
      for (let d = 0; d < D; d++) s += Math.exp(x[at(d)] - m);
      for (let d = 0; d < D; d++) y[at(d)] = log ? x[at(d)] - m - Math.log(s) : Math.exp(x[at(d)] - m) / s;
    }
  }
  return y;
}

/** dx from gy and the forward output y (softmax, or log-softmax when `log`). */
export function softmaxBackwardRef(gy: ArrayLike<number>, y: ArrayLike<number>, shape: readonly number[], dim: number, log = false): Float64Array {
  const { outer, D, inner } = lines(shape, dim);
  const dx = new Float64Array(y.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (d: number) => (o * D + d) * inner + i;
      let t = 0;
      for (let d = 0; d < D; d++) t += log ? gy[at(d)] : gy[at(d)] * y[at(d)];
      for (let d = 0; d < D; d++) dx[at(d)] = log ? gy[at(d)] - Math.exp(y[at(d)]) * t : y[at(d)] * (gy[at(d)] - t);
    }
  }
  return dx;
}
