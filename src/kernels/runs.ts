// SPDX-License-Identifier: MIT
// Runs of 4 along the innermost dimension: how the strided kernels (elementwise_binary.wgsl,
// elementwise_unary.wgsl and copy_strided.wgsl, their `main`) walk any views of one shape.
//
// Why runs. A strided kernel must turn a flat index into an element offset in every operand,
// one division and one remainder per dimension, by sizes known only at run time. On llvmpipe an
// integer division has no vector instruction: each one is 8 scalar divisions, one per lane. With
// one element per invocation that cost ~25x the time of the contiguous vec4 path (x + bias of
// shape [1, C, 1, 1] on [32, 64, 32, 32]: 0.04x relu's byte rate). Here an invocation takes 4
// neighbouring elements of a row (the innermost dimension after coalescing), so the divisions are
// paid once per 4, and each operand's 4 values come in the cheapest way its layout allows (`mode`):
//   0  the operand does not move along the row (stride 0, a broadcast): one load, repeated;
//   1  the row is contiguous and every run starts on a vec4: one vec4 load (or store);
//   2  otherwise: 4 loads (or stores) at the row's stride.
// Rows whose length L is not a multiple of 4 end in a shorter run; its missing elements repeat
// the row's last one on load and are not stored.

import { coalesce, contiguousStrides, numel } from '../tensor/shape.js';
import { grid1d } from './launch.js';
import { gpu, isCpuAdapter } from '../tensor/device.js';
import type { Uniforms } from './uniforms.js';

/** A view over the iteration shape: element offset and one stride per dimension (0 where broadcast). */
export interface RunView {
  offset: number;
  strides: readonly number[];
}

export type RunMode = 0 | 1 | 2;

export interface RunPlan {
  /** Invocations: rows x runsPerRow. */
  runs: number;
  /** Length of a row (the innermost coalesced dimension). */
  L: number;
  runsPerRow: number;
  /** The dimensions outside the row, outermost first (at most 7). */
  outer: number[];
  /** Per view: its offset, its stride along the row, its strides over `outer`, and its mode. */
  views: { offset: number; inner: number; outer: number[]; mode: RunMode }[];
}

/** Split the iteration space `shape`, read or written through `views` (at most 3), into runs of 4. */
export function planRuns(shape: readonly number[], views: readonly RunView[]): RunPlan {
  const c = coalesce(shape, views.map((v) => v.strides));
  const rank = c.shape.length;
  const L = c.shape[rank - 1];
  const outer = c.shape.slice(0, rank - 1);
  const runsPerRow = Math.ceil(L / 4);
  const rows = numel(outer);
  return {
    runs: L === 0 ? 0 : rows * runsPerRow,
    L,
    runsPerRow,
    outer,
    views: views.map((v, k) => {
      const inner = c.strides[k][rank - 1];
      const outerStrides = c.strides[k].slice(0, rank - 1);
      // A run of a contiguous row is one aligned vec4 when every run starts at a multiple of 4.
      const aligned = L % 4 === 0 && v.offset % 4 === 0 && outerStrides.every((s) => s % 4 === 0);
      const mode: RunMode = inner === 0 ? 0 : inner === 1 && aligned ? 1 : 2;
      return { offset: v.offset, inner, outer: outerStrides, mode };
    }),
  };
}

/**
 * How to walk the output as flat vec4s (elementwise_binary.wgsl's `main_flat`), or null where that
 * walk does not apply. It takes rows of at least 4 elements that are not whole vec4s (below 4 a
 * vec4 could span three rows), and on CPU adapters also rows of whole vec4s that `main` would walk
 * one run per invocation; the last view (the output) contiguous from 0; and every other view
 * either constant along a row (mode 0) or laid out like the output from a multiple of 4 (mode 1:
 * its flat vec4s line up with the output's). `vecs`: consecutive vec4s per invocation, on CPU
 * adapters 8 where rows hold at least 32 elements and 4 where they hold 16 (an invocation's vec4s
 * then span at most two rows, and the divisions that place them are paid once for all), else 1.
 * x + a [1, C, 1, 1] bias, in relu's byte rate (worker CPU time, alternating in one process,
 * fourteenth session): [32, 512, 7, 7] 0.22-0.24x with strided runs -> 0.45-0.49x (4 or 8 vec4s),
 * [8, 256, 14, 14] 0.29x -> 0.47x with 4 vec4s, 0.57-0.58x with 8, [32, 64, 5, 5] 0.21-0.25x ->
 * 0.48-0.61x: one vec4 load and store per 4 outputs instead of 4 strided loads and 4 single
 * stores, and the divisions paid once per invocation.
 */
export function flatRows(plan: RunPlan): { modes: RunMode[]; vecs: number } | null {
  const cpu = isCpuAdapter(gpu().info);
  // Rows of whole vec4s go to `main`, except on CPU adapters where `main` would take one run per
  // invocation (runLaunch: a row of 49 vec4s, 14x14 planes), there the flat walk pays fewer divisions.
  if (plan.L < 4 || (plan.L % 4 === 0 && !(cpu && plan.runsPerRow % 4 !== 0))) return null;
  const flatStrides = contiguousStrides([...plan.outer, plan.L]);
  const laidOutLikeOut = (v: RunPlan['views'][number]) =>
    v.offset % 4 === 0 && v.inner === 1 && v.outer.every((stride, d) => stride === flatStrides[d]);
  const out = plan.views[plan.views.length - 1];
  if (out.offset !== 0 || !laidOutLikeOut(out)) return null;
  const modes: RunMode[] = [];
  for (const v of plan.views.slice(0, -1)) {
    if (v.inner === 0) modes.push(0);
    else if (laidOutLikeOut(v)) modes.push(1);
    else return null;
  }
  return { modes, vecs: !cpu ? 1 : plan.L >= 32 ? 8 : plan.L >= 16 ? 4 : 1 };
}

/**
 * The grid of a run kernel (workgroups of `wg` lanes) and its RUNS, the consecutive runs per
 * invocation: on CPU adapters 4 where a row holds a multiple of 4 runs, so the divisions that
 * place a run are paid once per 16 elements; else 1.
 * On [32, 64, 32, 32] (lavapipe, worker CPU time, in relu's byte rate; one element per
 * invocation before the runs): x + bias [1, 64, 1, 1] 0.04x -> 0.29x with one run -> 0.65x with
 * 4; permute(0, 2, 3, 1).contiguous() 0.04x -> 0.21x -> 0.59x; a transposed x + 1 0.28x -> 0.60x
 * (one run -> 4); 8 or 16 runs measured no better than 4. GPUs keep 1: neighbouring lanes then
 * touch neighbouring vec4s (coalesced), and a division there is a short sequence per lane.
 */
export function runLaunch(plan: RunPlan, wg: number): { workgroups: [number, number]; RUNS: number } {
  const RUNS = isCpuAdapter(gpu().info) && plan.runsPerRow % 4 === 0 ? 4 : 1;
  return { workgroups: grid1d(plan.runs / RUNS, wg), RUNS };
}

/**
 * Writes the fields every run kernel's parameter struct starts with (its `RunParams`):
 *   runs, L, runs_per_row, outer_rank: u32; offset, inner: vec4<u32> (one lane per view);
 *   shape: array<vec4<u32>, 2> (the outer dimensions); strides: array<vec4<u32>, 7> (strides[d]
 *   holds every view's stride over outer dimension d).
 */
export function packRuns(plan: RunPlan, u: Uniforms): Uniforms {
  const lane = (f: (v: RunPlan['views'][number]) => number) => [0, 1, 2, 3].map((k) => (k < plan.views.length ? f(plan.views[k]) : 0));
  u.u32(plan.runs).u32(plan.L).u32(plan.runsPerRow).u32(plan.outer.length);
  u.u32Array(lane((v) => v.offset), 1).u32Array(lane((v) => v.inner), 1);
  u.u32Array(plan.outer, 2, 1);
  const strides: number[] = [];
  for (let d = 0; d < 7; d++) strides.push(...lane((v) => v.outer[d] ?? 0));
  return u.u32Array(strides, 7);
}
