// SPDX-License-Identifier: MIT
// Training metrics without per-step host syncs.
//
// Each step adds its loss and correct count to a 4-float accumulator on the GPU
// (metrics_accumulate.wgsl). Every K steps the accumulator is *snapshotted*: a readback is
// started but not awaited, and a fresh accumulator takes over. The host keeps recording steps
// while the GPU catches up; `settle(maxInFlight)` waits only when more than `maxInFlight`
// snapshots are outstanding, which bounds how far the host can run ahead.

import type { Tensor } from '../tensor/tensor.js';
import { zeros } from '../ops/creation.js';
import { metricsAccumulate } from '../kernels/metrics.js';

/** One snapshot: the sums over a window of steps. */
export interface MetricsWindow {
  /** Sum of per-sample losses. */
  lossSum: number;
  correct: number;
  count: number;
  /** Steps whose loss was NaN or infinite. */
  nonFinite: number;
  /** Steps in the window, and the global step after its last one. */
  steps: number;
  endStep: number;
  /** Host time (ms, performance.now) when the readback completed. */
  doneAt: number;
}

export class RunningMetrics {
  private acc: Tensor;
  private stepsInWindow = 0;
  private pending: Array<Promise<MetricsWindow>> = [];

  constructor() {
    this.acc = zeros([4]).keep();
  }

  /** Add one batch (records one small dispatch). */
  add(logits: Tensor, labels: Tensor, loss: Tensor): void {
    metricsAccumulate(this.acc, logits, labels, loss);
    this.stepsInWindow++;
  }

  get windowSteps(): number {
    return this.stepsInWindow;
  }

  /** Start reading the current window back and begin a new one. `endStep` labels the window. */
  snapshot(endStep: number): Promise<MetricsWindow> {
    const acc = this.acc;
    const steps = this.stepsInWindow;
    // data() records the copy into a staging buffer and submits it before its first await, so
    // the accumulator can be released right away (the pool reuses it only for later work).
    const read = acc.data();
    acc.dispose();
    this.acc = zeros([4]).keep();
    this.stepsInWindow = 0;
    const p = read.then((v) => ({ lossSum: v[0], correct: v[1], count: v[2], nonFinite: v[3], steps, endStep, doneAt: performance.now() }));
    this.pending.push(p);
    return p;
  }

  get inFlight(): number {
    return this.pending.length;
  }

  /** Wait for the oldest snapshots until at most `maxInFlight` are outstanding; returns those that completed. */
  async settle(maxInFlight: number): Promise<MetricsWindow[]> {
    const done: MetricsWindow[] = [];
    while (this.pending.length > maxInFlight) done.push(await this.pending.shift()!);
    return done;
  }

  /** Release the accumulator (outstanding snapshots still resolve). */
  dispose(): void {
    this.acc.dispose();
  }
}
