// SPDX-License-Identifier: MIT
// Types for timing.mjs (imported by ours.ts, which the repository's tsconfig checks).
export interface StepTiming { ms: number; cpuMs: number; firstMs: number; times: number[] }
export interface Workload { key: string; label: string; unit: 'gflops' | 'ms' | 'ips'; flops?: number; batch?: number }
export function workerCpuNs(): number;
export function timeSteps<T extends { data(): Promise<unknown> }>(
  step: () => T[], release: (outs: T[]) => void, opts?: { warmup?: number; reps?: number },
): Promise<StepTiming>;
export const WORKLOADS: Workload[];
export function figure(w: Workload, ms: number): number;
