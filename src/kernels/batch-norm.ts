// SPDX-License-Identifier: MIT
// Launchers for the batch-norm kernels (no autograd here: see src/nn/functional/norm.ts).
//
//   forward (training):  batch_norm_stats  -> batch_norm_forward:main_finalize -> batch_norm_forward
//                        (read x)             (C invocations)                     (read x, write y)
//   forward (eval):                           batch_norm_forward:main_finalize -> batch_norm_forward
// or, where the device offers 10 storage bindings and the launch settings ask for it
// (BatchNormGeometry.finalizeInApply: GPUs; eval on CPU adapters), with the statistics finalized
// inside the apply pass (its *_finalize entry points): two dispatches in training, one in eval.
//   backward:            batch_norm_backward_reduce -> batch_norm_backward_input:main_coefficients -> batch_norm_backward_input
//                        (read gy, x)                  (C invocations: dweight, dbias, dx's coefficients)  (read gy, x, write dx)
//   or on GPUs (coefficientsInInput) without the middle pass: each workgroup of the dx pass turns
//   its channel's partial sums into the coefficients, and one per channel writes dweight, dbias;
//   or on CPU adapters, where a channel's x and gy fit the L2 (backwardOnePass), in one dispatch,
//   batch_norm_backward_input:main_one_pass (a workgroup per channel: sums, then dx).
// Likewise the training forward in one dispatch where a channel fits the L1 (onePass,
// batch_norm_forward_one_pass.wgsl).
// Fused with a ReLU (F.batchNorm's `relu` option): the forward pass writes max(y, 0), and both
// backward passes mask gy with y > 0, y recomputed from x and the saved scale/shift as they load
// it: no separate relu / reluBackward dispatches, the fused output is not saved, and the sums
// are the unfused pair's in the same order.
// The per-channel reductions run a grid of (P chunks x C channels) workgroups, each folding its
// chunk with all WG lanes and a tree, so both the channels and each channel's N*H*W values are
// spread over the cores. Everything is deterministic: fixed chunking, fixed merge order.
// On CPU adapters, planes of 128+ vec4s (28x28 and larger) take the elementwise passes in runs
// of consecutive planes, the order memory holds them in (the *_plane_runs entry points,
// BATCH_NORM_LAUNCH.planeRuns): see batch_norm_forward.wgsl.

import { type BufferRef } from '../tensor/storage.js';
import statsSource from './wgsl/batch_norm_stats.wgsl';
import forwardSource from './wgsl/batch_norm_forward.wgsl';
import backwardReduceSource from './wgsl/batch_norm_backward_reduce.wgsl';
import backwardInputSource from './wgsl/batch_norm_backward_input.wgsl';
import onePassSource from './wgsl/batch_norm_forward_one_pass.wgsl';
import { defineKernel, launch, grid1d, type Kernel } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor } from '../tensor/tensor.js';
import { binary } from './elementwise.js';
import { numel } from '../tensor/shape.js';
import { gpu, isCpuAdapter } from '../tensor/device.js';

const chunkBindings = ['read', 'read_write', 'uniform'] as const;
const statsKernels = {
  scalar: defineKernel('batch_norm_stats', statsSource, chunkBindings, 'main'),
  vec4: defineKernel('batch_norm_stats', statsSource, chunkBindings, 'main_vec4'),
  splitVec4: defineKernel('batch_norm_stats', statsSource, chunkBindings, 'main_split_vec4'),
  planeGroups: defineKernel('batch_norm_stats', statsSource, chunkBindings, 'main_plane_groups'),
};
const applyBindings = ['read', 'read', 'read_write', 'uniform', 'read'] as const;
// batch_norm_forward.wgsl's statistics bindings: 1 stats (written), 5 partial, 6 weight, 7 bias,
// 8 running_mean, 9 running_var, 10 num_batches_tracked.
const finalizeBindings = ['none', 'read_write', 'none', 'uniform', 'none', 'read', 'read', 'read', 'read_write', 'read_write', 'read_write'] as const;
const finalizeKernel = defineKernel('batch_norm_forward', forwardSource, finalizeBindings, 'main_finalize');
/** The apply passes that finalize the statistics themselves: x, stats (written), y, params, residual, then as finalizeBindings. */
const applyFinalizeBindings = ['read', 'read_write', 'read_write', 'uniform', 'read', 'read', 'read', 'read', 'read_write', 'read_write', 'read_write'] as const;
/** Storage bindings of those passes: a device must offer this many per shader stage (8 is the default). */
const APPLY_FINALIZE_STORAGE = applyFinalizeBindings.filter((k) => k !== 'uniform').length;
const forwardKernels = {
  scalar: defineKernel('batch_norm_forward', forwardSource, applyBindings, 'main'),
  vec4: defineKernel('batch_norm_forward', forwardSource, applyBindings, 'main_vec4'),
  flat: defineKernel('batch_norm_forward', forwardSource, applyBindings, 'main_flat'),
  splitVec4: defineKernel('batch_norm_forward', forwardSource, applyBindings, 'main_split_vec4'),
  planeGroups: defineKernel('batch_norm_forward', forwardSource, applyBindings, 'main_plane_groups'),
  planeRuns: defineKernel('batch_norm_forward', forwardSource, applyBindings, 'main_plane_runs'),
};
const forwardFinalizeKernels: Partial<Record<ApplyLayout, Kernel>> = {
  vec4: defineKernel('batch_norm_forward', forwardSource, applyFinalizeBindings, 'main_vec4_finalize'),
  splitVec4: defineKernel('batch_norm_forward', forwardSource, applyFinalizeBindings, 'main_split_vec4_finalize'),
  planeGroups: defineKernel('batch_norm_forward', forwardSource, applyFinalizeBindings, 'main_plane_groups_finalize'),
  planeRuns: defineKernel('batch_norm_forward', forwardSource, applyFinalizeBindings, 'main_plane_runs_finalize'),
};
const onePassBindings = ['read', 'read', 'read', 'read_write', 'read_write', 'read_write', 'read_write', 'read_write', 'uniform'] as const;
const onePassKernels = {
  planeGroups: defineKernel('batch_norm_forward_one_pass', onePassSource, onePassBindings, 'main'),
  vec4: defineKernel('batch_norm_forward_one_pass', onePassSource, onePassBindings, 'main_vec4'),
};
const reduceBindings = ['read', 'read', 'read', 'read_write', 'uniform'] as const;
const backwardReduceKernels = {
  scalar: defineKernel('batch_norm_backward_reduce', backwardReduceSource, reduceBindings, 'main'),
  vec4: defineKernel('batch_norm_backward_reduce', backwardReduceSource, reduceBindings, 'main_vec4'),
  splitVec4: defineKernel('batch_norm_backward_reduce', backwardReduceSource, reduceBindings, 'main_split_vec4'),
  planeGroups: defineKernel('batch_norm_backward_reduce', backwardReduceSource, reduceBindings, 'main_plane_groups'),
};
const inputBindings = ['read', 'read', 'read_write', 'read_write', 'read', 'uniform', 'read', 'read_write', 'read_write'] as const;
const backwardInputKernels = {
  scalar: defineKernel('batch_norm_backward_input', backwardInputSource, inputBindings, 'main'),
  vec4: defineKernel('batch_norm_backward_input', backwardInputSource, inputBindings, 'main_vec4'),
  flat: defineKernel('batch_norm_backward_input', backwardInputSource, inputBindings, 'main_flat'),
  splitVec4: defineKernel('batch_norm_backward_input', backwardInputSource, inputBindings, 'main_split_vec4'),
  planeGroups: defineKernel('batch_norm_backward_input', backwardInputSource, inputBindings, 'main_plane_groups'),
  planeRuns: defineKernel('batch_norm_backward_input', backwardInputSource, inputBindings, 'main_plane_runs'),
};
/** dweight, dbias and (on CPU adapters) the dx coefficients: one invocation per channel. */
const coefficientsKernel = defineKernel('batch_norm_backward_input', backwardInputSource, inputBindings, 'main_coefficients');
/** The whole training backward, one workgroup per channel (BatchNormGeometry.backwardOnePass). */
const backwardOnePassKernel = defineKernel('batch_norm_backward_input', backwardInputSource, inputBindings, 'main_one_pass');

const FINALIZE_WG = 64;

/**
 * Launch settings of the chunked reductions, read when a geometry is computed (benchmarks sweep
 * them: bench/norm-pool.ts).
 */
export const BATCH_NORM_LAUNCH = {
  /**
   * Lanes per workgroup, ... 8, one SIMD row: on lavapipe a workgroup is run as 8-lane rows, one
   * after another, each through the whole shader, and its barriers switch between them, so a
   * shorter tree is cheaper and each row's walk denser (bench/norm-pool.ts sweeps 8..256). The
   * eleventh session's alternating rounds (worker CPU time in relu's times, training forward /
   * backward): 32 lanes walked 16x16 planes pathologically slowly in some processes
   * ([128,32,16,16] 2.97-3.66 / 5.84-7.02, one-dispatch backward 6.1-8.2, against 1.5-1.7 / 2.3-2.8
   * with 16 or 8); 8 against 16, backward: [32,64,32,32] 2.47-2.64 against 2.83-3.70,
   * [128,16,32,32] 2.12-2.24 against 2.42-2.91, [128,32,16,16] 2.29-2.67 against 2.52-3.21; the
   * training forward and the 56x56, 8x8 shapes within ~5% either way. Any width gives the
   * float64 reference to float32 accuracy; the ResNet-20 train-step fixture's input keeps every
   * ReLU input >= 1e-5 from 0 so that the summation order cannot flip one
   * (test/fixtures/generate.py), and passes with 8, 16, 32, 64 and 256.
   */
  reduceWG: 8,
  /** ... at least this many reduction workgroups in all (a few per core), ... */
  targetGroups: 32,
  /** ... but at least this many units of its chunk per lane. */
  minUnitsPerLane: 8,
  /**
   * Elementwise passes (forward, input gradient; 64 lanes per workgroup): units per invocation,
   * at most. Each invocation also reads its channel's statistics through a per-lane gather on
   * llvmpipe, so more units per invocation make that read rarer: 4 (with 64 lanes) took 15-32%
   * less worker CPU time than 1 (with 256 lanes) for the eval forward on the CIFAR and ResNet-18
   * shapes, 3 interleaved rounds; 8 was no better.
   */
  applyUnits: 4,
  /**
   * ... and images per workgroup where a plane has fewer than 256 units (16x16 and 8x8 planes of
   * CIFAR ResNets' later stages) or the passes take plane groups (7x7): one workgroup per small
   * plane made thousands of short ones. The image loop's trip count is a run-time value
   * (min(N, n0 + IMAGES) - n0): with `j < IMAGES` and a break, Mesa unrolled it and the passes
   * ran 1.2-1.7x slower, which had made 4-8 images look best. With the run-time loop, by worker
   * CPU time (two rounds, forward / input gradient, against relu's ~590 / -- us): [128,64,8,8]
   * 4 images 705-721 / 1708-1925 us, 64 images 534-536 / 1544-1670 (relu 584-597);
   * [32,512,7,7] in plane groups 8 images 1121-1159 forward (the old setting), 32 images
   * 872-989, the whole batch 865-870 (relu 881); the gradient 2801-3028 with 8, 2399-2411 with
   * the whole batch; [128,128,7,7] 32 images 837-855, 64+ 770-793. (On a GPU: 1,
   * BATCH_NORM_GPU_LAUNCH.)
   */
  smallPlaneImages: 64,
  /** Planes not a multiple of 4 (7x7) as straddling vec4s (see BatchNormGeometry.splitVec4); false: scalar units. */
  splitVec4: true,
  /** ... and those vec4s in groups of four planes per workgroup (BatchNormGeometry.planeGroups). */
  planeGroups: true,
  /**
   * ... whose reductions (and one-dispatch forward) give each lane this many consecutive vec4s
   * of the group (1..8), so that an 8-lane row reads 8x as much of each image's group before
   * moving to the next image, 100 KB on (batch_norm_stats.wgsl's main_plane_groups says why).
   */
  planeGroupUnits: 8,
  /**
   * The elementwise passes over planes of planeRunMinUnits+ vec4s (28x28 and larger) run this
   * many consecutive planes of the flat (n, c) order per workgroup (the *_plane_runs entry
   * points); 0 turns it off. Interleaved GPU-timestamp runs on lavapipe (64 lanes then), the
   * eval forward: as fast as relu with 4-16 planes per workgroup ([32,64,32,32] 1.52 ms with 8
   * against relu's 1.53 and 2.15 for one plane per workgroup; [8,64,56,56] 1.87 against 1.73 and
   * 2.60; [128,16,32,32] 2.0-2.15 against 2.05 and 2.86).
   */
  planeRuns: 8,
  /**
   * Lanes per plane-run workgroup (at least planeRuns: the finalizing entry point gives each of
   * the run's planes a lane). llvmpipe runs a workgroup's 8-lane rows one after another, each
   * over the whole run, so with 64 lanes each row reads 128 of every 1,024 bytes of 8 planes,
   * a sparse walk the cache's prefetchers do not follow; with 16 lanes a row reads half of every
   * 256 bytes, with 8 (one row) all of them, in order. Worker CPU time in relu's times, 7
   * alternating rounds (eleventh session), eval forward / three-dispatch backward: [8,64,56,56]
   * 64 lanes 1.39 / 3.77, 32 lanes 1.05 / 3.23, 16 lanes 0.91 / 2.82; [32,64,32,32] 1.09 / 3.23,
   * 1.09 / 3.42, 0.92 / 3.15. 8 lanes against 16 (fourteenth session, relu's byte rate over the
   * pass's, 5-8 alternating rounds), [32,64,32,32] eval forward: quiet host 0.97 against 0.93,
   * with a memory-streaming process beside it (bench/contend.ts) 1.25 against 0.75: the walk in
   * order holds up when another job takes the memory bandwidth and the shared cache.
   */
  planeRunLanes: 8,
  /**
   * Vec4s a plane needs at least for the plane runs: 128 takes 28x28 planes (196), whose eval
   * forward went from 1.48x relu's time (image blocks of 64 lanes) to 1.02x ([32,128,28,28]);
   * 16x16 planes (64) stay in image blocks: 1.30x in runs against 0.9-1.06x.
   */
  planeRunMinUnits: 128,
  /**
   * The training forward runs in one dispatch (batch_norm_forward_one_pass.wgsl) when what one
   * workgroup reads (four channels over the batch with planeGroups, else one channel) takes at
   * most this many bytes, so that its second read of x comes from the core's L1 cache; 0 turns
   * it off. Four interleaved rounds by worker CPU time, against three dispatches: [32,512,7,7]
   * (25 KB per workgroup) 1.1-1.25x, [128,64,8,8] (32 KB) 1.05-1.15x; but [32,64,32,32] and
   * [128,32,16,16] (128 KB, from L2) 0.8-0.9x: the walk in (n, s) order with 32 lanes per
   * channel writes y slower than the plane-shaped apply pass.
   */
  onePassBytes: 32 * 1024,
  /**
   * The forward's apply pass finalizes the statistics itself (batch_norm_forward.wgsl's
   * *_finalize entry points; where the device offers their 10 storage bindings), in training
   * and in eval: a dispatch fewer. On lavapipe, where a dispatch costs little, only in eval:
   * GPU-timestamp rounds (bench/RESULTS.md, tenth session), the training apply pass with the
   * statistics finalized in it took as long as the separate finalize and apply or up to 1.1x
   * ([32,64,32,32], [8,64,56,56]: every 8-lane row repeats the arithmetic), while eval at
   * [128,64,8,8] went from 1.2-2.4x relu's time to 0.9-1.2x.
   */
  finalizeInApply: { training: false, eval: true },
  /**
   * The backward's dx pass turns the channel sums into its coefficients itself
   * (batch_norm_backward_input.wgsl), not main_coefficients before it: a dispatch fewer. Off on
   * lavapipe: four rounds with the folded build in the favoured place, its dx pass took
   * 1.32-1.62x relu's time on [32,64,32,32] against 1.04-1.24x (the whole backward 3.45-3.55
   * against 2.82-3.32), far more than the dispatch saves; [8,64,56,56] the same either way.
   */
  coefficientsInInput: false,
  /**
   * The training backward runs in one dispatch (batch_norm_backward_input.wgsl's main_one_pass:
   * one workgroup of reduceWG lanes per channel sums, then writes dx, its second walk over x and
   * gy served by the cache) when a channel's x and gy take at most this many bytes, 2 * N * S * 4
   * (this machine's L2 holds 1 MiB per core), on planes of whole vec4s, at least 128 of them (0:
   * off). Alternating runs against the three dispatches, worker CPU time in relu's times
   * (eleventh session; 32 lanes, before reduceWG went down): [32,64,32,32] (256 KiB) 2.23
   * against 3.16, [8,64,56,56] 2.58 against 3.68, [32,128,28,28] 3.05 against 5.55,
   * [32,256,56,56] (784 KiB) 2.49 against 4.30; with 16 lanes [128,16,32,32] (1 MiB) 2.49-2.63
   * against 2.79-2.96, [32,64,32,32] 2.24-2.37 against 2.65-2.83 (8 lanes: reduceWG's comment).
   * Planes of 64 vec4s (16x16) were no faster in one dispatch (2.9-3.4 against 2.8-2.9, 16
   * lanes), those of 16 (8x8) slower. Once the reductions had 8 lanes and the plane runs 16, the
   * three dispatches caught up (two rounds each): [32,64,32,32] 1.95-2.56 against 1.77-2.62,
   * [8,64,56,56] 2.25-2.33 against 2.10-2.19, [128,16,32,32] 2.29-2.40 against 2.20-2.24; the
   * one dispatch still leads on [32,128,28,28] (2.17-2.24 against 2.40-2.54) and saves two
   * dispatches and the partial buffer, so it stays.
   */
  backwardOnePassBytes: 1024 * 1024,
};

/**
 * The reduction settings on a GPU (an adapter that is not a CPU). lavapipe's 32 workgroups of 32
 * lanes in all gave a 64-channel layer 64 workgroups, ~2,000 invocations on a GPU that keeps
 * 100,000+ in flight: on an H100 the two batch-norm reductions took 18% of a ResNet-50 training
 * step's GPU time (bench/RESULTS.md). Here: 1,024 workgroups of 256 lanes.
 */
export const BATCH_NORM_GPU_LAUNCH = {
  reduceWG: 256, targetGroups: 1024, minUnitsPerLane: 8, planeGroups: false, smallPlaneImages: 1, onePassBytes: 0, planeRuns: 0, backwardOnePassBytes: 0,
  // On a GPU a small network's step is bound by the host's ~20-40 us per dispatch: fewer dispatches.
  finalizeInApply: { training: true, eval: true }, coefficientsInInput: true,
};

/**
 * Geometry of a batch-norm call on x of shape (N, C, *spatial), computed once and shared by the
 * forward and backward launches. `units` counts what one kernel step reads: vec4s when every
 * plane's length S is a multiple of 4 (planes then start 16-byte aligned), else f32s.
 */
export interface BatchNormGeometry {
  N: number;
  C: number;
  /** Values per plane: the product of the spatial dimensions (1 for (N, C) inputs). */
  S: number;
  /** Values per channel, N * S. */
  M: number;
  vec4: boolean;
  /** Units per plane: S / 4 with vec4, else S. */
  unitsS: number;
  /** Units per plane in the reductions: unitsS, or with splitVec4 the vec4s that touch a plane. */
  reduceUnitsS: number;
  /** Chunks (workgroups) per channel in the reductions. */
  P: number;
  /** Units per chunk (with planeGroups: images per chunk). */
  chunk: number;
  /** Lanes per reduction workgroup. */
  reduceWG: number;
  /** Elementwise passes over a flat 1-D grid (tiny planes or a huge batch), not per plane. */
  flat: boolean;
  /**
   * Elementwise passes over the flat tensor as vec4s that may straddle two planes: planes not a
   * multiple of 4 (7x7), at least 4 floats, N * C * S a multiple of 4 (the *_split_vec4 entry points).
   */
  splitVec4: boolean;
  /**
   * With splitVec4, the passes take four planes per workgroup (the *_plane_groups entry points):
   * C % 4 == 0 and 16 <= S <= 256, on CPU adapters (BATCH_NORM_LAUNCH.planeGroups), where a
   * per-lane gather of each vec4's two planes' statistics cost more than the data's own loads.
   */
  planeGroups: boolean;
  /** Images per workgroup in the elementwise passes over small planes and plane groups (smallPlaneImages, or 1). */
  applyImages: number;
  /** Consecutive vec4s per lane in the plane-group reductions and one-dispatch forward (BATCH_NORM_LAUNCH.planeGroupUnits). */
  groupUnits: number;
  /**
   * Consecutive planes per workgroup in the elementwise passes (the *_plane_runs entry points;
   * BATCH_NORM_LAUNCH.planeRuns on CPU adapters, planes of planeRunMinUnits+ vec4s), or 0.
   */
  planeRuns: number;
  /** Lanes per plane-run workgroup (BATCH_NORM_LAUNCH.planeRunLanes). */
  planeRunLanes: number;
  /** A training forward runs in one dispatch (batch_norm_forward_one_pass.wgsl; onePassBytes). */
  onePass: boolean;
  /** A training backward with dx runs in one dispatch (main_one_pass; backwardOnePassBytes). */
  backwardOnePass: boolean;
  /**
   * The forward's apply pass finalizes the statistics itself (no main_finalize dispatch), in
   * training / in eval: its layout has a *_finalize entry point (not the flat or scalar ones),
   * the device offers its 10 storage bindings, and BATCH_NORM_LAUNCH.finalizeInApply asks for it.
   */
  finalizeInApply: { training: boolean; eval: boolean };
  /** The backward's dx pass computes its coefficients (BATCH_NORM_LAUNCH.coefficientsInInput). */
  coefficientsInInput: boolean;
}

/** Which of the elementwise passes' layouts (entry points) a geometry takes. */
type ApplyLayout = 'planeGroups' | 'planeRuns' | 'splitVec4' | 'flat' | 'vec4' | 'scalar';

function applyLayout(g: { planeGroups: boolean; planeRuns: number; splitVec4: boolean; flat: boolean; vec4: boolean }): ApplyLayout {
  if (g.planeGroups) return 'planeGroups';
  if (g.planeRuns > 0) return 'planeRuns';
  if (g.splitVec4) return 'splitVec4';
  if (g.flat) return 'flat';
  return g.vec4 ? 'vec4' : 'scalar';
}

export function batchNormGeometry(shape: readonly number[]): BatchNormGeometry {
  const N = shape[0];
  const C = shape[1];
  const S = numel(shape.slice(2));
  const vec4 = S % 4 === 0;
  const unitsS = vec4 ? S / 4 : S;
  const splitVec4 = BATCH_NORM_LAUNCH.splitVec4 && !vec4 && S >= 4 && (N * C * S) % 4 === 0;
  // With straddling vec4s a reduction visits every vec4 that touches a plane: at most this many.
  const reduceUnitsS = splitVec4 ? Math.floor((S + 2) / 4) + 1 : unitsS;
  const total = N * reduceUnitsS;
  const settings = isCpuAdapter(gpu().info) ? BATCH_NORM_LAUNCH : BATCH_NORM_GPU_LAUNCH;
  const { reduceWG, targetGroups, minUnitsPerLane, planeGroups: groupsWanted, smallPlaneImages, onePassBytes, planeRuns: run, backwardOnePassBytes } = settings;
  const { planeRunLanes, planeRunMinUnits, planeGroupUnits } = BATCH_NORM_LAUNCH;
  const planeGroups = splitVec4 && groupsWanted && C % 4 === 0 && S >= 16 && S <= 256;
  // Chunks per channel (plane groups: of the N images, each lane reading one vec4 per image).
  const wanted = Math.ceil(targetGroups / (planeGroups ? C / 4 : C));
  const affordable = Math.max(1, Math.floor(planeGroups ? N / minUnitsPerLane : total / (reduceWG * minUnitsPerLane)));
  const P = Math.max(1, Math.min(wanted, affordable, 1024));
  const chunk = Math.ceil((planeGroups ? N : total) / P);
  const flat = unitsS < 16 || N > 65535 || C > 65535;
  const applyImages = (vec4 && unitsS < 256) || planeGroups ? smallPlaneImages : 1;
  const planeRuns = run > 0 && vec4 && !flat && unitsS >= planeRunMinUnits && Math.ceil((N * C) / run) <= 65535 ? run : 0;
  // One dispatch when the reductions would not split a channel (P == 1: the same workgroups, so the
  // same sums) and a workgroup's share of x (four channels with plane groups, else one) fits the cache.
  // (Plane groups of more than 248 floats: their per-float states, 4 * S vec4s, would fill the
  // 16 KB of workgroup memory a device must offer, with no room for the channels' coefficients.)
  const onePass = P === 1 && (planeGroups
    ? C / 4 <= 65535 && S <= 248 && N * 4 * S * 4 <= onePassBytes
    : vec4 && !flat && N * S * 4 <= onePassBytes);
  const backwardOnePass = vec4 && !flat && unitsS >= 128 && 2 * N * S * 4 <= backwardOnePassBytes;
  const canFinalize = applyLayout({ planeGroups, planeRuns, splitVec4, flat, vec4 }) in forwardFinalizeKernels &&
    gpu().device.limits.maxStorageBuffersPerShaderStage >= APPLY_FINALIZE_STORAGE;
  const finalizeInApply = { training: canFinalize && settings.finalizeInApply.training, eval: canFinalize && settings.finalizeInApply.eval };
  return {
    N, C, S, M: N * S, vec4, unitsS, reduceUnitsS, P, chunk, reduceWG, flat, splitVec4, planeGroups, applyImages, groupUnits: planeGroupUnits, planeRuns,
    planeRunLanes: Math.max(planeRunLanes, planeRuns), onePass, backwardOnePass,
    finalizeInApply, coefficientsInInput: settings.coefficientsInInput,
  };
}

/**
 * A maker of small buffers to bind where a kernel declares a tensor the call does not have (no
 * weight, no running statistics, ...); each is pushed onto `temps`, which the caller disposes.
 * A buffer bound writable may not be bound twice in one dispatch, so every call makes a new one.
 */
function placeholders(temps: Tensor[]): () => BufferRef {
  return () => {
    const t = emptyTensor([4], 'float32', 'batch_norm placeholder');
    temps.push(t);
    return t.buffer;
  };
}

/**
 * Lanes of a plane-group workgroup, each taking `units` consecutive vec4s of the group's S (one
 * in the elementwise passes, g.groupUnits in the reductions and the one-dispatch forward):
 * ceil(S / units) rounded up to whole 8-lane SIMD rows.
 */
function groupLanes(g: BatchNormGeometry, units = 1): number {
  return 8 * Math.ceil(Math.ceil(g.S / units) / 8);
}

/** The StatsParams struct of batch_norm_stats.wgsl / batch_norm_backward_reduce.wgsl. */
function packChunkParams(g: BatchNormGeometry): Uint8Array {
  return new Uniforms()
    .u32(g.N).u32(g.C).u32(g.reduceUnitsS).u32(g.P)
    .u32(g.chunk).u32(g.N * g.reduceUnitsS)
    .u32(Math.floor(g.reduceWG / g.reduceUnitsS)).u32(g.reduceWG % g.reduceUnitsS)
    .finish();
}

/** The ApplyParams struct of batch_norm_forward.wgsl (the statistics' fields where `a` is given). */
function packApplyParams(g: BatchNormGeometry, a: BatchNormStatsArgs | null = null): Uint8Array {
  return new Uniforms()
    .u32(g.C).u32(g.flat ? g.S : g.unitsS).u32(g.N * g.C * g.S).u32(g.N)
    .u32(0).f32(g.M).f32(a?.eps ?? 0).f32(a?.momentum ?? 0)
    .u32(a?.runningMean?.offset ?? 0).u32(a?.runningVar?.offset ?? 0).u32(a?.counter?.offset ?? 0).u32(0)
    .finish();
}

/** The BackwardParams struct of batch_norm_backward_input.wgsl: ApplyParams's first four fields, then M. */
function packBackwardParams(g: BatchNormGeometry): Uint8Array {
  return new Uniforms().u32(g.C).u32(g.flat ? g.S : g.unitsS).u32(g.N * g.C * g.S).u32(g.N).u32(0).f32(g.M).u32(0).u32(0).finish();
}

/**
 * Launch shape of the elementwise passes: workgroups (planeBlocks, C, imageBlocks), each covering
 * V * WG units of one plane in applyImages images. Small planes get small workgroups so few
 * lanes idle. Planes that are not whole vec4s: workgroups over the flat vec4s, or with
 * planeGroups (image blocks, C / 4). With planeRuns: one workgroup per run of planes.
 */
function applyLaunch(g: BatchNormGeometry): { workgroups: number[]; constants: Record<string, number> } {
  if (g.planeGroups) {
    return { workgroups: [Math.ceil(g.N / g.applyImages), g.C / 4], constants: { WG: groupLanes(g), PLANE: g.S, CHANNELS: g.C, IMAGES: g.applyImages } };
  }
  if (g.splitVec4) return { workgroups: grid1d((g.N * g.C * g.S) / 4, 64), constants: { WG: 64, V: 1, PLANE: g.S, CHANNELS: g.C } };
  if (g.planeRuns > 0) return { workgroups: [Math.ceil((g.N * g.C) / g.planeRuns)], constants: { WG: g.planeRunLanes, RUN: g.planeRuns } };
  if (g.flat) return { workgroups: grid1d(g.N * g.C * g.S, 256), constants: { WG: 256, V: 1 } };
  // Planes of fewer than 64 units (8x8 as 16 vec4s: CIFAR ResNet stage 3) get a workgroup their
  // size, not 64 lanes with most of them idle.
  const WG = Math.min(64, Math.max(8, 2 ** Math.ceil(Math.log2(g.unitsS))));
  const V = Math.max(1, Math.min(BATCH_NORM_LAUNCH.applyUnits, Math.floor(g.unitsS / WG)));
  return { workgroups: [Math.ceil(g.unitsS / (WG * V)), g.C, Math.ceil(g.N / g.applyImages)], constants: { WG, V, IMAGES: g.applyImages } };
}

/** The reduction launch: its kernel among the entry points, workgroup grid and constants. */
function reduceLaunch<T>(g: BatchNormGeometry, kernels: { scalar: T; vec4: T; splitVec4: T; planeGroups: T }): { kernel: T; workgroups: number[]; constants: Record<string, number> } {
  if (g.planeGroups) {
    return { kernel: kernels.planeGroups, workgroups: [g.P, g.C / 4], constants: { WG: groupLanes(g, g.groupUnits), PLANE: g.S, UNITS: g.groupUnits } };
  }
  const kernel = g.splitVec4 ? kernels.splitVec4 : g.vec4 ? kernels.vec4 : kernels.scalar;
  return { kernel, workgroups: [g.P, g.C], constants: { WG: g.reduceWG, PLANE: g.S } };
}

function pickApply<T>(g: BatchNormGeometry, kernels: Record<ApplyLayout, T>): T {
  return kernels[applyLayout(g)];
}

export interface BatchNormStatsArgs {
  training: boolean;
  momentum: number;
  eps: number;
  /** Contiguous (C) tensors updated in place in training; required in eval. */
  runningMean: Tensor | null;
  runningVar: Tensor | null;
  /** Plain (contiguous, offset 0) (C) tensors, or null. */
  weight: Tensor | null;
  bias: Tensor | null;
  /** An int32 counter (num_batches_tracked) that the training finalize pass increments, or null. */
  counter?: Tensor | null;
}

/** The P partial (count, mean, m2) states of each channel of x (plain): batch_norm_stats.wgsl. */
function partialStates(x: Tensor, g: BatchNormGeometry): Tensor {
  const part = emptyTensor([g.C * g.P, 4], 'float32', 'batch_norm partial');
  const reduce = reduceLaunch(g, statsKernels);
  launch(reduce.kernel, {
    buffers: [x.buffer, part.buffer],
    params: packChunkParams(g),
    workgroups: reduce.workgroups,
    constants: reduce.constants,
    label: 'batchNorm stats',
  });
  return part;
}

/**
 * The buffers and constants of batch_norm_forward.wgsl's statistics bindings (5-10), for the
 * partial states (training) or none (eval); absent tensors get placeholders (pushed on `temps`).
 */
function statisticsBindings(g: BatchNormGeometry, a: BatchNormStatsArgs, partial: Tensor | null, temps: Tensor[]): { buffers: BufferRef[]; constants: Record<string, number> } {
  const placeholder = placeholders(temps);
  const count = a.training && a.counter ? a.counter : null;
  return {
    buffers: [
      partial?.buffer ?? placeholder(),
      a.weight?.buffer ?? placeholder(),
      a.bias?.buffer ?? placeholder(),
      a.runningMean?.buffer ?? placeholder(),
      a.runningVar?.buffer ?? placeholder(),
      count?.buffer ?? placeholder(),
    ],
    constants: {
      PARTIALS: g.P,
      TRAINING: a.training ? 1 : 0,
      UPDATE_RUNNING: a.training && a.runningMean !== null && a.runningVar !== null ? 1 : 0,
      HAS_WEIGHT: a.weight ? 1 : 0,
      HAS_BIAS: a.bias ? 1 : 0,
      COUNT: count ? 1 : 0,
    },
  };
}

/**
 * What a pass that finalizes the statistics binds: the (C, 4) statistics tensor it writes and its
 * statistics bindings, after the reduction in training. The temporaries go on `temps`.
 */
function finalizeInputs(x: Tensor, g: BatchNormGeometry, a: BatchNormStatsArgs, temps: Tensor[]): { stats: Tensor; bound: ReturnType<typeof statisticsBindings> } {
  const partial = a.training ? partialStates(x, g) : null;
  if (partial) temps.push(partial);
  const stats = emptyTensor([g.C, 4], 'float32', 'batch_norm stats');
  return { stats, bound: statisticsBindings(g, a, partial, temps) };
}

/**
 * Per-channel statistics as a (C, 4) tensor of (mean, invstd, scale, shift), where
 * y = x * scale + shift. In training the batch statistics are computed from `x` (plain) and the
 * running statistics, if given, are updated in place in their own buffers.
 */
export function batchNormStatistics(x: Tensor, g: BatchNormGeometry, a: BatchNormStatsArgs): Tensor {
  const temps: Tensor[] = [];
  const { stats, bound } = finalizeInputs(x, g, a, temps);
  launch(finalizeKernel, {
    buffers: [stats.buffer, ...bound.buffers],
    params: packApplyParams(g, a),
    workgroups: grid1d(g.C, FINALIZE_WG),
    constants: { WG: FINALIZE_WG, ...bound.constants },
    label: 'batchNorm finalize',
  });
  for (const t of temps) t.dispose();
  return stats;
}

/**
 * The apply pass y = x * scale[c] + shift[c] (+ residual, then the ReLU) with `kernel`, one of
 * the plain entry points (stats read) or a *_finalize one (`finalizing`: its statistics bindings
 * and the params with the statistics' fields; stats written).
 */
function launchApply(
  kernel: Kernel, x: Tensor, stats: Tensor, g: BatchNormGeometry, relu: boolean, residual: Tensor | null,
  finalizing: { bound: ReturnType<typeof statisticsBindings>; a: BatchNormStatsArgs } | null,
): Tensor {
  const y = emptyTensor(x.shape, 'float32', relu ? 'batchNormRelu' : 'batchNorm');
  const shape = applyLaunch(g);
  const epilogue = [residual ? '+residual' : '', relu ? '+relu' : ''].filter((e) => e).join(', ');
  launch(kernel, {
    buffers: [x.buffer, stats.buffer, y.buffer, (residual ?? x).buffer, ...(finalizing?.bound.buffers ?? [])],
    params: packApplyParams(g, finalizing?.a ?? null),
    workgroups: shape.workgroups,
    constants: { ...shape.constants, FUSE_RELU: relu ? 1 : 0, HAS_RESIDUAL: residual ? 1 : 0, ...finalizing?.bound.constants },
    label: epilogue ? `batchNorm forward (${epilogue})` : 'batchNorm forward',
  });
  return y;
}

/**
 * y = x * scale[c] + shift[c] (x plain; stats from batchNormStatistics), plus `residual` (plain,
 * x's shape) where given, then max(y, 0) when `relu`.
 */
export function batchNormApply(x: Tensor, stats: Tensor, g: BatchNormGeometry, relu = false, residual: Tensor | null = null): Tensor {
  return launchApply(pickApply(g, forwardKernels), x, stats, g, relu, residual, null);
}

/**
 * The statistics and y in the apply pass's *_finalize entry point (after the reduction, in
 * training): g.finalizeInApply. The same results, bit for bit, as batchNormStatistics then
 * batchNormApply.
 */
function batchNormApplyFinalizing(x: Tensor, g: BatchNormGeometry, a: BatchNormStatsArgs, relu: boolean, residual: Tensor | null): { stats: Tensor; y: Tensor } {
  const temps: Tensor[] = [];
  const { stats, bound } = finalizeInputs(x, g, a, temps);
  const y = launchApply(forwardFinalizeKernels[applyLayout(g)]!, x, stats, g, relu, residual, { bound, a });
  for (const t of temps) t.dispose();
  return { stats, y };
}

/**
 * The forward pass: the statistics (batchNormStatistics) and y (batchNormApply); or the
 * statistics finalized by the apply pass itself (g.finalizeInApply); or, in training, both in
 * one dispatch of batch_norm_forward_one_pass.wgsl where it applies; the same results bit for
 * bit. x plain; + residual (plain, x's shape), then max(y, 0) when `relu`.
 */
export function batchNormForward(x: Tensor, g: BatchNormGeometry, a: BatchNormStatsArgs, relu = false, residual: Tensor | null = null): { stats: Tensor; y: Tensor } {
  if (!a.training || !g.onePass) {
    if (g.finalizeInApply[a.training ? 'training' : 'eval']) return batchNormApplyFinalizing(x, g, a, relu, residual);
    const stats = batchNormStatistics(x, g, a);
    return { stats, y: batchNormApply(x, stats, g, relu, residual) };
  }
  // The one-dispatch kernel has no storage binding left for a residual, and that dispatch saves
  // more than the residual's pass: it is added after it, in one elementwise pass (addRelu's).
  if (residual) {
    const { stats, y: normed } = batchNormForward(x, g, a);
    const y = binary(relu ? 'addRelu' : 'add', normed, residual);
    normed.dispose();
    return { stats, y };
  }
  const temps: Tensor[] = [];
  const placeholder = placeholders(temps);
  const stats = emptyTensor([g.C, 4], 'float32', 'batch_norm stats');
  const y = emptyTensor(x.shape, 'float32', relu ? 'batchNormRelu' : 'batchNorm');
  const update = a.runningMean !== null && a.runningVar !== null;
  const count = a.counter ?? null;
  launch(g.planeGroups ? onePassKernels.planeGroups : onePassKernels.vec4, {
    buffers: [
      x.buffer,
      a.weight?.buffer ?? placeholder(),
      a.bias?.buffer ?? placeholder(),
      a.runningMean?.buffer ?? placeholder(),
      a.runningVar?.buffer ?? placeholder(),
      stats.buffer,
      y.buffer,
      count?.buffer ?? placeholder(),
    ],
    params: new Uniforms()
      .u32(g.N).u32(g.C).f32(g.M).f32(a.eps)
      .f32(a.momentum).u32(a.runningMean?.offset ?? 0).u32(a.runningVar?.offset ?? 0).u32(count?.offset ?? 0)
      .u32(g.unitsS).u32(Math.floor(g.reduceWG / g.unitsS)).u32(g.reduceWG % g.unitsS).u32(0)
      .finish(),
    // Plane groups: a workgroup per four channels, lanes over a group's S vec4s; else a workgroup
    // per channel with the reductions' lane count (a power of two, for its tree).
    workgroups: [g.planeGroups ? g.C / 4 : g.C],
    constants: {
      WG: g.planeGroups ? groupLanes(g, g.groupUnits) : g.reduceWG,
      PLANE: g.S,
      UNITS: g.groupUnits,
      UPDATE_RUNNING: update ? 1 : 0,
      HAS_WEIGHT: a.weight ? 1 : 0,
      HAS_BIAS: a.bias ? 1 : 0,
      COUNT: count ? 1 : 0,
      FUSE_RELU: relu ? 1 : 0,
    },
    label: relu ? 'batchNorm forward, one pass (+relu)' : 'batchNorm forward, one pass',
  });
  for (const t of temps) t.dispose();
  return { stats, y };
}

export interface BatchNormBackwardArgs {
  training: boolean;
  /** Plain (C) weight or null (gamma = 1). */
  weight: Tensor | null;
  needInput: boolean;
  needWeight: boolean;
  needBias: boolean;
  /**
   * Batch norm fused with a ReLU: gy is the gradient of relu(bn(x)), masked inside the passes by
   * x * scale + shift > 0 recomputed from x and stats (the forward's own expression).
   */
  relu?: boolean;
  /** Where to store dweight / dbias (the parameters' gradient slots: autograd's `into`), if anywhere. */
  intoWeight?: Tensor | null;
  intoBias?: Tensor | null;
}

/** Gradients of batch norm; each is null when not asked for. gy and x are plain. */
export function batchNormBackward(
  gy: Tensor, x: Tensor, stats: Tensor, g: BatchNormGeometry, a: BatchNormBackwardArgs,
): { dx: Tensor | null; dweight: Tensor | null; dbias: Tensor | null } {
  const temps: Tensor[] = [];
  const placeholder = placeholders(temps);
  const fuse = a.relu ?? false;
  // The channel sums are needed for dx in training and for dweight/dbias in either mode.
  const hasSums = (a.needInput && a.training) || a.needWeight || a.needBias;
  const dweight = a.needWeight ? (a.intoWeight ?? emptyTensor([g.C], 'float32', 'batchNorm dweight')) : null;
  const dbias = a.needBias ? (a.intoBias ?? emptyTensor([g.C], 'float32', 'batchNorm dbias')) : null;
  const dx = a.needInput ? emptyTensor(x.shape, 'float32', 'batchNorm dx') : null;
  // batch_norm_backward_input.wgsl's bindings (but the uniform): the partial sums and the tensor written.
  const buffers = (partial: BufferRef, into: Tensor | null) => [
    gy.buffer, x.buffer, partial, into?.buffer ?? placeholder(), stats.buffer,
    a.weight?.buffer ?? placeholder(), dweight?.buffer ?? placeholder(), dbias?.buffer ?? placeholder(),
  ];
  if (dx && a.training && g.backwardOnePass) {
    launch(backwardOnePassKernel, {
      buffers: buffers(placeholder(), dx),
      params: packBackwardParams(g),
      workgroups: [g.C],
      constants: { WG: g.reduceWG, TRAINING: 1, FUSE_RELU: fuse ? 1 : 0, HAS_WEIGHT: a.weight ? 1 : 0, WRITE_DWEIGHT: dweight ? 1 : 0, WRITE_DBIAS: dbias ? 1 : 0 },
      label: 'batchNorm backward',
    });
    for (const t of temps) t.dispose();
    return { dx, dweight, dbias };
  }
  // The per-channel pass (main_coefficients) runs unless the dx pass does its work (on GPUs).
  const precompute = !(dx && g.coefficientsInInput);
  // The partial sums, then (main_coefficients for the dx pass) the coefficients at row C * P on;
  // a placeholder when neither is there.
  const coefficientsAfter = precompute && dx !== null;
  const part = hasSums || coefficientsAfter ? emptyTensor([g.C * g.P + (coefficientsAfter ? g.C : 0), 4], 'float32', 'batch_norm backward partial') : null;
  if (part) temps.push(part);
  const partBuffer = part?.buffer ?? placeholder();
  if (part && hasSums) {
    const reduce = reduceLaunch(g, backwardReduceKernels);
    launch(reduce.kernel, {
      buffers: [gy.buffer, x.buffer, stats.buffer, part.buffer],
      params: packChunkParams(g),
      workgroups: reduce.workgroups,
      constants: { ...reduce.constants, FUSE_RELU: fuse ? 1 : 0 },
      label: 'batchNorm backward reduce',
    });
  }
  const constants = (writesParams: boolean) => ({
    TRAINING: a.training ? 1 : 0,
    FUSE_RELU: fuse ? 1 : 0,
    HAS_SUMS: hasSums ? 1 : 0,
    PARTIALS: g.P,
    HAS_WEIGHT: a.weight ? 1 : 0,
    WRITE_DWEIGHT: writesParams && dweight ? 1 : 0,
    WRITE_DBIAS: writesParams && dbias ? 1 : 0,
    PRECOMPUTED: coefficientsAfter ? 1 : 0,
  });
  if (precompute && (dx || dweight || dbias)) {
    launch(coefficientsKernel, {
      buffers: buffers(partBuffer, null),
      params: packBackwardParams(g),
      workgroups: grid1d(g.C, FINALIZE_WG),
      constants: { WG: FINALIZE_WG, ...constants(true) },
      label: 'batchNorm backward coefficients',
    });
  }
  if (dx) {
    const shape = applyLaunch(g);
    launch(pickApply(g, backwardInputKernels), {
      buffers: buffers(partBuffer, dx),
      params: packBackwardParams(g),
      workgroups: shape.workgroups,
      constants: { ...shape.constants, ...constants(!precompute) },
      label: 'batchNorm backward input',
    });
  }
  for (const t of temps) t.dispose();
  return { dx, dweight, dbias };
}
