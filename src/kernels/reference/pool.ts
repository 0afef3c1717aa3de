// SPDX-License-Identifier: MIT
// Float64 references for the pooling kernels: plain loops over output windows. x is row-major
// (N, C, H, W); the geometry (output size, windows) is the one the kernels use, from
// pool2dGeometry() in src/kernels/pool.ts. Backward references *scatter* from each output
// (the obvious formulation); the kernels gather per input, so the two check each other.

import type { Pool2dGeometry } from '../pool.js';
import type { AdaptivePoolGeometry } from '../adaptive-pool.js';

/** Each valid tap (ih, iw) of window (oh, ow) in scan order (kh outer, kw inner). */
function taps(g: Pool2dGeometry, oh: number, ow: number): [number, number][] {
  const out: [number, number][] = [];
  for (let kh = 0; kh < g.kH; kh++) {
    const ih = oh * g.sH - g.pH + kh * g.dH;
    if (ih < 0 || ih >= g.H) continue;
    for (let kw = 0; kw < g.kW; kw++) {
      const iw = ow * g.sW - g.pW + kw * g.dW;
      if (iw >= 0 && iw < g.W) out.push([ih, iw]);
    }
  }
  return out;
}

function forEachOutput(g: { N: number; C: number; OH: number; OW: number }, fn: (plane: number, oh: number, ow: number, o: number) => void): void {
  let o = 0;
  for (let plane = 0; plane < g.N * g.C; plane++) {
    for (let oh = 0; oh < g.OH; oh++) for (let ow = 0; ow < g.OW; ow++) fn(plane, oh, ow, o++);
  }
}

/**
 * y = window maximum (first maximum in scan order wins), argmax = ih * W + iw. A NaN wins over
 * any number and the last NaN over earlier ones (PyTorch's `val > max || isnan(val)`).
 */
export function maxPool2dRef(x: ArrayLike<number>, g: Pool2dGeometry): { y: Float64Array; argmax: Int32Array } {
  const n = g.N * g.C * g.OH * g.OW;
  const y = new Float64Array(n);
  const argmax = new Int32Array(n);
  forEachOutput(g, (plane, oh, ow, o) => {
    let best = -Infinity;
    let bi = -1;
    for (const [ih, iw] of taps(g, oh, ow)) {
      const v = x[plane * g.H * g.W + ih * g.W + iw];
      if (bi < 0 || v > best || Number.isNaN(v)) {
        best = v;
        bi = ih * g.W + iw;
      }
    }
    y[o] = best;
    argmax[o] = bi;
  });
  return { y, argmax };
}

export function maxPool2dBackwardRef(gy: ArrayLike<number>, argmax: ArrayLike<number>, g: Pool2dGeometry): Float64Array {
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  forEachOutput(g, (plane, _oh, _ow, o) => {
    dx[plane * g.H * g.W + argmax[o]] += gy[o];
  });
  return dx;
}

/** PyTorch's window: [start, end) clipped, and the divisor (full or clipped window size). */
function avgWindow(g: Pool2dGeometry, oh: number, ow: number): { hs: number; he: number; ws: number; we: number; divisor: number } {
  let hs = oh * g.sH - g.pH;
  let ws = ow * g.sW - g.pW;
  let he = Math.min(hs + g.kH, g.H + g.pH);
  let we = Math.min(ws + g.kW, g.W + g.pW);
  const pool = (he - hs) * (we - ws);
  hs = Math.max(hs, 0);
  ws = Math.max(ws, 0);
  he = Math.min(he, g.H);
  we = Math.min(we, g.W);
  return { hs, he, ws, we, divisor: g.countIncludePad ? pool : (he - hs) * (we - ws) };
}

export function avgPool2dRef(x: ArrayLike<number>, g: Pool2dGeometry): Float64Array {
  const y = new Float64Array(g.N * g.C * g.OH * g.OW);
  forEachOutput(g, (plane, oh, ow, o) => {
    const w = avgWindow(g, oh, ow);
    if (w.hs >= w.he || w.ws >= w.we) return;
    let s = 0;
    for (let ih = w.hs; ih < w.he; ih++) for (let iw = w.ws; iw < w.we; iw++) s += x[plane * g.H * g.W + ih * g.W + iw];
    y[o] = s / w.divisor;
  });
  return y;
}

export function avgPool2dBackwardRef(gy: ArrayLike<number>, g: Pool2dGeometry): Float64Array {
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  forEachOutput(g, (plane, oh, ow, o) => {
    const w = avgWindow(g, oh, ow);
    for (let ih = w.hs; ih < w.he; ih++) for (let iw = w.ws; iw < w.we; iw++) dx[plane * g.H * g.W + ih * g.W + iw] += gy[o] / w.divisor;
  });
  return dx;
}

/** PyTorch's adaptive bins: start = floor(i * in / out), end = ceil((i + 1) * in / out). */
function bin(i: number, inSize: number, outSize: number): [number, number] {
  return [Math.floor((i * inSize) / outSize), Math.ceil(((i + 1) * inSize) / outSize)];
}

export function adaptiveAvgPool2dRef(x: ArrayLike<number>, g: AdaptivePoolGeometry): Float64Array {
  const y = new Float64Array(g.N * g.C * g.OH * g.OW);
  forEachOutput(g, (plane, oh, ow, o) => {
    const [hs, he] = bin(oh, g.H, g.OH);
    const [ws, we] = bin(ow, g.W, g.OW);
    let s = 0;
    for (let ih = hs; ih < he; ih++) for (let iw = ws; iw < we; iw++) s += x[plane * g.H * g.W + ih * g.W + iw];
    y[o] = s / ((he - hs) * (we - ws));
  });
  return y;
}

export function adaptiveAvgPool2dBackwardRef(gy: ArrayLike<number>, g: AdaptivePoolGeometry): Float64Array {
  const dx = new Float64Array(g.N * g.C * g.H * g.W);
  forEachOutput(g, (plane, oh, ow, o) => {
    const [hs, he] = bin(oh, g.H, g.OH);
    const [ws, we] = bin(ow, g.W, g.OW);
    const share = gy[o] / ((he - hs) * (we - ws));
    for (let ih = hs; ih < he; ih++) for (let iw = ws; iw < we; iw++) dx[plane * g.H * g.W + ih * g.W + iw] += share;
  });
  return dx;
}
