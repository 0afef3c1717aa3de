// SPDX-License-Identifier: MIT
// Shared timing for the benchmarks: run a recorded piece of GPU work several times, after a
// warm-up run that also pays for pipeline compilation, and report the median.
//
// Two clocks. `ms` is wall time from recording to completion (`await sync()`): on lavapipe the
// "GPU" is these CPUs, so this is the GPU time. `cpuMs` is the CPU time the process's worker
// threads (everything but the JavaScript main thread, i.e. llvmpipe's shader threads) spent in
// that interval, read from /proc on Linux (NaN elsewhere). On a machine shared with other jobs
// wall time swings by 2x and more while CPU time does not, so a kernel's CPU-time rate divided
// by the ceiling's CPU-time rate is the steadier ratio; both are printed.
//
// While the GPU works the main thread sleeps (setTimeout) for half of the shortest time seen
// before it awaits the queue: Dawn's Node bindings poll for completion with setImmediate, which
// keeps one of the two cores busy and slows the shader threads by up to a third. (sync() sleeps
// too, through most of the time it predicts from earlier waits; it counts from the submit, so
// the two sleeps do not add up; and it then naps between Dawn's polls on CPU adapters, see
// napWhilePending in src/tensor/queue.ts.)

import { readFileSync, readdirSync } from 'node:fs';
import { sync, flush } from '../src/tensor/queue.js';

export interface TimingOptions {
  warmup?: number;
  reps?: number;
}

export interface Timing {
  /** Median wall milliseconds of one run. */
  ms: number;
  /** Median worker-thread CPU milliseconds of one run (NaN where /proc is not available). */
  cpuMs: number;
}

/** CPU nanoseconds used so far by every thread of this process except the main thread. */
export function workerCpuNs(): number {
  try {
    let total = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      if (Number(tid) === process.pid) continue;
      try {
        total += Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      } catch {
        // the thread exited between listing and reading
      }
    }
    return total;
  } catch {
    return Number.NaN;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Time `fn()` + completion: median wall and worker-CPU milliseconds over `reps` runs. */
export async function timeIt(fn: () => void, opts: TimingOptions = {}): Promise<Timing> {
  const warmup = opts.warmup ?? 1;
  const reps = opts.reps ?? 5;
  const runOnce = async (sleepMs: number): Promise<[number, number]> => {
    const c0 = workerCpuNs();
    const t0 = performance.now();
    fn();
    flush();
    if (sleepMs > 2) await sleep(sleepMs);
    await sync();
    return [performance.now() - t0, (workerCpuNs() - c0) / 1e6];
  };
  for (let i = 0; i < warmup; i++) await runOnce(0); // pays for pipeline compilation
  // One run without sleeping sets the expected time; later runs sleep for half of the shortest
  // run seen, which always ends before the work does, so it never adds to the wall time.
  let shortest = Infinity;
  if (reps > 1) shortest = (await runOnce(0))[0];
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < reps; i++) {
    const [ms, cpuMs] = await runOnce(Number.isFinite(shortest) ? 0.5 * shortest : 0);
    wall.push(ms);
    cpu.push(cpuMs);
    shortest = Math.min(shortest, ms);
  }
  return { ms: median(wall), cpuMs: median(cpu) };
}

/** Median wall milliseconds (see timeIt). */
export async function medianMs(fn: () => void, opts: TimingOptions = {}): Promise<number> {
  return (await timeIt(fn, opts)).ms;
}

export const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');

/** How many repetitions of a `ms`-long piece of work fill about `targetMs`. */
export function repeatsFor(ms: number, targetMs = 200): number {
  return Math.max(1, Math.min(1000, Math.round(targetMs / Math.max(ms, 1e-3))));
}

/**
 * Wall and worker-CPU milliseconds per call of a short piece of work: timeIt over runs of enough
 * calls to fill about `targetMs` (one call alone would be mostly submit and wait).
 */
export async function timePerCall(fn: () => void, targetMs = 200): Promise<Timing> {
  const once = await timeIt(fn, { warmup: 1, reps: 1 });
  const reps = repeatsFor(once.ms, targetMs);
  const t = await timeIt(() => { for (let i = 0; i < reps; i++) fn(); }, { warmup: 0, reps: 3 });
  return { ms: t.ms / reps, cpuMs: t.cpuMs / reps };
}
