// SPDX-License-Identifier: MIT
// The adapter's ceilings, measured in the same run as the kernels they are compared with
// (on lavapipe they drift with load and with LP_NUM_THREADS):
//   measureFmaCeiling()    GFLOP/s of 4 vec4 fma chains per invocation (wgsl/fma_peak.wgsl): the
//                          ceiling every "% of ceiling" in bench/ refers to, as defined in
//                          shared/docs/lavapipe.md (~48 GFLOP/s on the project's 2-core machines).
//   measureFmaThroughput() GFLOP/s of independent multiply-adds (wgsl/fma_throughput.wgsl), the
//                          form a GEMM uses; ~2.5x the ceiling on lavapipe. Printed alongside.
//   measureBandwidth()     GB/s (bytes read + bytes written) of a vec4 copy kernel.
// `fmaRates()` also returns the CPU-time rate (see timing.ts) for contention-proof ratios.
// These functions initialise a device of their own when none is live (another bench bundle
// may import this file dynamically, with its own copy of the library) and release it again.
// Run alone: node dist/bench/ceiling.js

import peakSource from './wgsl/fma_peak.wgsl';
import throughputSource from './wgsl/fma_throughput.wgsl';
import copySource from './wgsl/copy_bandwidth.wgsl';
import { defineKernel, launch, grid1d } from '../src/kernels/launch.js';
import { Uniforms } from '../src/kernels/uniforms.js';
import { emptyTensor } from '../src/tensor/tensor.js';
import { init, close, isInitialized, gpu, isCpuAdapter } from '../src/tensor/device.js';
import { timeIt, timePerCall, median, fmt, type Timing } from './timing.js';

const peakKernel = defineKernel('fma_peak', peakSource, ['read_write', 'uniform']);
const throughputKernel = defineKernel('fma_throughput', throughputSource, ['read_write', 'uniform']);
const copyKernel = defineKernel('copy_bandwidth', copySource, ['read', 'read_write', 'uniform']);

export interface Rate {
  /** GFLOP/s (or GB/s) by wall time. */
  wall: number;
  /** The same work per second of worker-thread CPU time (NaN off Linux). */
  perCpuSecond: number;
}

async function withDevice<T>(fn: () => Promise<T>): Promise<T> {
  const owned = !isInitialized();
  if (owned) await init();
  try {
    return await fn();
  } finally {
    if (owned) await close();
  }
}

const rate = (work: number, t: Timing): Rate => ({ wall: work / (t.ms * 1e6), perCpuSecond: work / (t.cpuMs * 1e6) });

/**
 * GFLOP/s of the ceiling kernel ('chain', fma_peak.wgsl) or the throughput kernel. The loop
 * count grows until one run takes at least ~40 ms (a real GPU finishes the CPU-sized run in
 * microseconds), and GPUs get 16x the invocations so that every core has work.
 */
export async function fmaRates(kind: 'chain' | 'throughput' = 'chain'): Promise<Rate> {
  return withDevice(async () => {
    const WG = 64;
    const invocations = (isCpuAdapter(gpu().info) ? 1 : 16) * 64 * 1024;
    // FLOPs per invocation and loop trip: chain 4 acc * 4 lanes * 2; throughput 4 steps * 8 acc * 4 lanes * 2
    const [kernel, flopsPerTrip, baseIters] = kind === 'chain' ? [peakKernel, 32, 1024] : [throughputKernel, 256, 256];
    const out = emptyTensor([invocations * 4], 'float32', kind);
    try {
      let iters = baseIters;
      const go = () => {
        const params = new Uniforms().u32(iters).f32(0.9999).f32(1e-4).u32(0).finish();
        launch(kernel, { buffers: [out.buffer], params, workgroups: grid1d(invocations, WG), constants: { WG }, label: kernel.name });
      };
      let t = await timeIt(go, { warmup: 1, reps: 1 });
      if (t.ms < 40) iters = Math.round(iters * Math.min(1024, 40 / Math.max(t.ms, 0.01)));
      t = await timeIt(go);
      return rate(invocations * iters * flopsPerTrip, t);
    } finally {
      out.dispose();
    }
  });
}

/** The FMA ceiling in GFLOP/s (wall time, median of 5 runs). */
export async function measureFmaCeiling(): Promise<number> {
  return (await fmaRates('chain')).wall;
}

/** GFLOP/s of independent multiply-adds (the upper bound for a GEMM). */
export async function measureFmaThroughput(): Promise<number> {
  return (await fmaRates('throughput')).wall;
}

/** GB/s (read + write) of the vec4 copy kernel over 64 MiB; `bandwidthRates` adds the CPU rate. */
export async function bandwidthRates(): Promise<Rate> {
  return withDevice(async () => {
    const n4 = 4 * 1024 * 1024; // 4M vec4 = 64 MiB
    const src = emptyTensor([n4 * 4], 'float32', 'bandwidth src');
    const dst = emptyTensor([n4 * 4], 'float32', 'bandwidth dst');
    const stride = n4 / 4;
    const params = new Uniforms().u32(n4).u32(stride).u32(0).u32(0).finish();
    const WG = 256;
    try {
      const t = await timeIt(() =>
        launch(copyKernel, { buffers: [src.buffer, dst.buffer], params, workgroups: grid1d(stride, WG), constants: { WG }, label: 'copy_bandwidth' }),
      );
      return rate(2 * n4 * 16, t);
    } finally {
      src.dispose();
      dst.dispose();
    }
  });
}

export async function measureBandwidth(): Promise<number> {
  return (await bandwidthRates()).wall;
}

// Run directly (node dist/bench/ceiling.js), not when bundled into run.js or gemm.js.
if (process.argv[1]?.endsWith('ceiling.js')) {
  await init();
  const chain = await fmaRates('chain');
  const thr = await fmaRates('throughput');
  const bw = await bandwidthRates();
  console.log(`FMA ceiling (4 chains):   ${fmt(chain.wall)} GFLOP/s  (${fmt(chain.perCpuSecond)} GFLOP per worker CPU-second)`);
  console.log(`FMA throughput:           ${fmt(thr.wall)} GFLOP/s  (${fmt(thr.perCpuSecond)} per CPU-second)`);
  console.log(`copy bandwidth (r+w):     ${fmt(bw.wall, 2)} GB/s  (${fmt(bw.perCpuSecond, 2)} per CPU-second)`);
  await close();
  process.exit(0);
}

/** A pass timed against the copy ceiling: the bytes it must move, and one call of it. */
export interface BandwidthRow {
  bytes: number;
  run: () => void;
}

/** A row's median time and its median ratios to the copy ceiling (see timeAgainstCeiling). */
export interface CeilingRatios {
  ms: number;
  wallRatio: number;
  cpuRatio: number;
  /** The row's byte rate over the `beside` row's, by CPU time (NaN without one). */
  besideRatio: number;
}

/**
 * Each row's median time and its median ratios to the copy ceiling over `rounds` rounds, each
 * ratio against the ceiling read just before that round's timing of the row (the readings are
 * appended to `ceilings`). The host's speed drifts by tens of percent within a minute, and its
 * slow phases last seconds, so two guards: each row is compared with the ceiling of the same few
 * hundred milliseconds, and the rounds go over the whole table in turn (round 1 of every row,
 * then round 2, ...), so a row's rounds lie seconds apart (~10 s in a table of 20 rows) and one
 * slow phase of the host spoils one of them rather than the median. (With the rounds of a row back to back, a
 * different small-plane row of bench/norm-pool.ts read 61-69% in each noisy run against 85-100%
 * in quiet ones.) With `beside`, that row is timed right after each row in every round too, and
 * `besideRatio` is the median of the row's byte rate over its byte rate by CPU time
 * (bench/ops.ts times each op beside relu). `targetMs` is the length of each timed batch of calls.
 */
export async function timeAgainstCeiling(
  rows: BandwidthRow[], ceilings: Rate[], rounds = 5, beside?: BandwidthRow, targetMs = 120,
): Promise<CeilingRatios[]> {
  const samples = rows.map(() => ({ ms: [] as number[], wall: [] as number[], cpu: [] as number[], beside: [] as number[] }));
  for (let round = 0; round < rounds; round++) {
    for (const [i, row] of rows.entries()) {
      const ceiling = await bandwidthRates();
      ceilings.push(ceiling);
      const t = await timePerCall(row.run, targetMs);
      const s = samples[i];
      s.ms.push(t.ms);
      s.wall.push(row.bytes / t.ms / 1e6 / ceiling.wall);
      // (On a GPU the worker threads barely run and the CPU-time rates are infinite: no ratio.)
      s.cpu.push(Number.isFinite(ceiling.perCpuSecond) ? row.bytes / t.cpuMs / 1e6 / ceiling.perCpuSecond : Number.NaN);
      if (beside) {
        const tb = await timePerCall(beside.run, targetMs);
        s.beside.push(row.bytes / t.cpuMs / (beside.bytes / tb.cpuMs));
      }
    }
  }
  return samples.map((s) => ({
    ms: median(s.ms), wallRatio: median(s.wall), cpuRatio: median(s.cpu), besideRatio: beside ? median(s.beside) : Number.NaN,
  }));
}

/** The line that reports the ceiling's readings over a table's rows: their range, wall and by CPU time. */
export function ceilingRange(ceilings: Rate[]): string {
  const range = (f: (r: Rate) => number) => `${Math.min(...ceilings.map(f)).toFixed(2)}-${Math.max(...ceilings.map(f)).toFixed(2)}`;
  return `copy ceiling during these rows (${ceilings.length} readings): ${range((r) => r.wall)} GB/s wall, ${range((r) => r.perCpuSecond)} GB per worker CPU-second`;
}
