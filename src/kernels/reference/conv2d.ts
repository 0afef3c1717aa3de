// SPDX-License-Identifier: MIT
// Plain float64 reference for conv2d: forward, input gradient, weight gradient, bias gradient.
// Obviously-correct loops, no tiling; the WGSL kernels (src/kernels/wgsl/conv2d_*.wgsl) are
// tested against these, and these against finite differences and PyTorch fixtures.
//
// Legend: N batch, C input channels, H x W input, K output channels, R x S kernel, P x Q output,
// G groups, C_g = C / G, K_g = K / G. All arrays row-major:
//   x: (N, C, H, W)   w: (K, C_g, R, S)   b: (K)   y, gy: (N, K, P, Q)

import type { Conv2dGeometry } from '../conv2d.js';

type Data = ArrayLike<number>;

/**
 * Visit every (output element, weight element, input element) triple that conv2d multiplies:
 * fn(yIndex, wIndex, xIndex). Taps that fall into the zero padding are skipped.
 * The three passes below are this one loop nest with a different accumulation.
 */
function forEachTerm(g: Conv2dGeometry, fn: (yi: number, wi: number, xi: number) => void): void {
  for (let n = 0; n < g.N; n++) {
    for (let k = 0; k < g.K; k++) {
      const group = Math.floor(k / g.K_g);
      for (let p = 0; p < g.P; p++) {
        for (let q = 0; q < g.Q; q++) {
          const yi = ((n * g.K + k) * g.P + p) * g.Q + q;
          for (let c = 0; c < g.C_g; c++) {
            for (let r = 0; r < g.R; r++) {
              const h = p * g.stride_h - g.pad_h + r * g.dil_h;
              if (h < 0 || h >= g.H) continue;
              for (let s = 0; s < g.S; s++) {
                const w = q * g.stride_w - g.pad_w + s * g.dil_w;
                if (w < 0 || w >= g.W) continue;
                const xi = ((n * g.C + group * g.C_g + c) * g.H + h) * g.W + w;
                const wi = ((k * g.C_g + c) * g.R + r) * g.S + s;
                fn(yi, wi, xi);
              }
            }
          }
        }
      }
    }
  }
}

/** y[n, k, p, q] = b[k] + sum_{c, r, s} x[n, g*C_g + c, p*sh - ph + r*dh, q*sw - pw + s*dw] * w[k, c, r, s] */
export function conv2dForwardRef(x: Data, w: Data, b: Data | null, g: Conv2dGeometry): Float64Array {
  const y = new Float64Array(g.N * g.K * g.PQ);
  if (b) for (let i = 0; i < y.length; i++) y[i] = b[Math.floor(i / g.PQ) % g.K];
  forEachTerm(g, (yi, wi, xi) => (y[yi] += x[xi] * w[wi]));
  return y;
}

/** dx = d(sum(y * gy)) / dx: every term x[xi] * w[wi] of y[yi] sends gy[yi] * w[wi] back to x[xi]. */
export function conv2dBackwardInputRef(gy: Data, w: Data, g: Conv2dGeometry): Float64Array {
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  forEachTerm(g, (yi, wi, xi) => (dx[xi] += gy[yi] * w[wi]));
  return dx;
}

/** dw = d(sum(y * gy)) / dw. */
export function conv2dBackwardWeightRef(gy: Data, x: Data, g: Conv2dGeometry): Float64Array {
  const dw = new Float64Array(g.K * g.CRS_g);
  forEachTerm(g, (yi, wi, xi) => (dw[wi] += gy[yi] * x[xi]));
  return dw;
}

/** db[k] = sum_{n, p, q} gy[n, k, p, q]. */
export function conv2dBackwardBiasRef(gy: Data, g: Conv2dGeometry): Float64Array {
  const db = new Float64Array(g.K);
  for (let i = 0; i < g.N * g.K * g.PQ; i++) db[Math.floor(i / g.PQ) % g.K] += gy[i];
  return db;
}
