// SPDX-License-Identifier: MIT
// Float64 reference for the GEMM kernels: C (M, N) = A (M, K) @ B (K, N), row-major.

export function matmulRef(a: ArrayLike<number>, b: ArrayLike<number>, M: number, K: number, N: number): Float64Array {
  const c = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += a[m * K + k] * b[k * N + n];
      c[m * N + n] = acc;
    }
  }
  return c;
}
