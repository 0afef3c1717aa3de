// SPDX-License-Identifier: MIT
// One timing rule for every JavaScript peer in this folder (wgslgrad and TF.js alike):
//   `step()` records the work and returns the tensors it produced; the clock stops when their
//   values have been read back to JavaScript (`await t.data()` on each: the same readback on both
//   sides, which is also the only way to wait for TF.js's queue). `warmup` untimed runs first
//   (they pay for shader compilation and fill the buffer pools), then the median of `reps`.
// No sleeping while the GPU works: TF.js submits its command batch only when a value is read, so
// both engines are awaited the same way.
// Besides wall time, `cpuMs` is the CPU time of every thread of the process except the JavaScript
// main thread (llvmpipe's shader threads, on lavapipe: the "GPU"), read from /proc as in
// ../timing.ts. On a shared machine wall time swings with the load while CPU time barely does.

import { readFileSync, readdirSync } from 'node:fs';

export function workerCpuNs() {
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

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * @param {() => any[]} step records the work; returns the output tensors (read, then released by `release`)
 * @param {(outs: any[]) => void} release disposes the outputs
 */
export async function timeSteps(step, release, { warmup = 1, reps = 5 } = {}) {
  const runOnce = async () => {
    const c0 = workerCpuNs();
    const t0 = performance.now();
    const outs = step();
    for (const t of outs) await t.data();
    const ms = performance.now() - t0;
    const cpuMs = (workerCpuNs() - c0) / 1e6;
    release(outs);
    return [ms, cpuMs];
  };
  let firstMs = NaN;
  for (let i = 0; i < warmup; i++) {
    const [ms] = await runOnce();
    if (i === 0) firstMs = ms;
  }
  const times = [];
  const cpu = [];
  for (let i = 0; i < reps; i++) {
    const [ms, cpuMs] = await runOnce();
    times.push(ms);
    cpu.push(cpuMs);
  }
  return { ms: median(times), cpuMs: median(cpu), firstMs, times };
}

/** The workloads, in the order of the table; `unit` says how the figure is computed from ms. */
export const WORKLOADS = [
  { key: 'gemm1024', label: 'GEMM 1024 (GFLOP/s)', unit: 'gflops', flops: 2 * 1024 ** 3 },
  { key: 'gemm2048', label: 'GEMM 2048 (GFLOP/s)', unit: 'gflops', flops: 2 * 2048 ** 3 },
  { key: 'convFwd', label: 'conv 3x3 forward, N32 C64 32x32 K64 pad 1 (ms)', unit: 'ms' },
  { key: 'convBwd', label: 'conv 3x3 backward: input + weight grads (ms)', unit: 'ms' },
  { key: 'bnTrain', label: 'batch-norm training forward [32,64,32,32] (ms)', unit: 'ms' },
  { key: 'resnet18Infer', label: 'ResNet-18 inference, batch 1, 224x224 (ms)', unit: 'ms' },
  { key: 'resnet20Train', label: 'CIFAR ResNet-20 training step, batch 128 (img/s)', unit: 'ips', batch: 128 },
];

/** The figure shown in the table for one workload and a median time. */
export function figure(w, ms) {
  if (!(ms > 0)) return NaN;
  if (w.unit === 'gflops') return w.flops / (ms * 1e6);
  if (w.unit === 'ips') return (w.batch * 1000) / ms;
  return ms;
}
