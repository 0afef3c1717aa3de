// SPDX-License-Identifier: MIT
// One training step, broken down per kernel from GPU timestamps (`wgslgrad profile`).
//
// The step is the trainer's: forward, cross-entropy, backward, SGD-momentum update, all inside
// one scope (or, with `inference`, a forward pass in eval mode without gradients). The first step
// pays for shader compilation. Then steps run for `warmMs` (V8 compiles the step's JavaScript to
// its steady speed over some hundred calls; pools fill) before `steps` more are timed: their wall
// time, and the host's time to record their dispatches. Comparing that host time and the summed
// GPU time of the profiled step with the wall time shows what bounds a step: on a fast GPU
// (an H100) a ResNet-20 training step is bound by the host, on lavapipe by the kernels.

import * as wg from '../index.js';
import { buildModel } from './setup.js';

/** Warm-up steps at most (a step of a few milliseconds on a GPU would otherwise run thousands). */
const MAX_WARM_STEPS = 300;

export interface StepProfile {
  model: string;
  /** 'train' (forward, backward, update) or 'inference' (eval-mode forward, no gradients). */
  mode: 'train' | 'inference';
  batch: number;
  imageSize: number;
  /** Wall time of the first step: pipeline compilation + first allocations. */
  firstStepMs: number;
  /** Median wall time of steady steps (no profiling). */
  stepMs: number;
  /** Median time the host took to record a steady step's dispatches (the step call, before the wait). */
  hostMs: number;
  /** Per kernel label, heaviest first; ms summed over the profiled step. */
  kernels: wg.ProfileEntry[];
}

export async function profileTrainingStep(opts: { model: string; batch: number; imageSize: number; numClasses: number; steps?: number; warmMs?: number; autotune?: boolean; byKernel?: boolean; inference?: boolean }): Promise<StepProfile> {
  const model = buildModel(opts.model, opts.numClasses);
  if (opts.inference) model.eval();
  else model.train();
  const optimizer = new wg.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4, fused: true });
  const x = wg.randn([opts.batch, 3, opts.imageSize, opts.imageSize], { seed: 1 }).keep();
  const labels = wg.tensor(Int32Array.from({ length: opts.batch }, (_, i) => i % opts.numClasses)).keep();
  const trainStep = () =>
    wg.scope(() => {
      optimizer.zeroGrad();
      const loss = wg.F.crossEntropy(model.forward(x) as wg.Tensor, labels);
      loss.backward();
      optimizer.step();
    });
  const inferenceStep = () => wg.scope(() => void wg.noGrad(() => model.forward(x))); // the scope frees the output
  const step = opts.inference ? inferenceStep : trainStep;
  const timed = async () => {
    const t0 = performance.now();
    step();
    const recorded = performance.now();
    await wg.sync();
    return { ms: performance.now() - t0, hostMs: recorded - t0 };
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  try {
    // Tuning (if asked) comes first and is not counted in the first step.
    if (opts.autotune) await wg.autotune(opts.inference ? inferenceStep : () => wg.F.crossEntropy(model.forward(x) as wg.Tensor, labels).backward());
    const firstStepMs = (await timed()).ms;
    const warmUntil = performance.now() + (opts.warmMs ?? 2000);
    for (let i = 0; i < MAX_WARM_STEPS && performance.now() < warmUntil; i++) await timed();
    const times: { ms: number; hostMs: number }[] = [];
    for (let i = 0; i < (opts.steps ?? 5); i++) times.push(await timed());
    const kernels = (await wg.profile(step, { byKernel: opts.byKernel })).sort((a, b) => b.ms - a.ms);
    return {
      model: opts.model, mode: opts.inference ? 'inference' : 'train', batch: opts.batch, imageSize: opts.imageSize, firstStepMs,
      stepMs: median(times.map((t) => t.ms)), hostMs: median(times.map((t) => t.hostMs)), kernels,
    };
  } finally {
    x.dispose();
    labels.dispose();
    optimizer.dispose(); // momentum buffers
    model.dispose();
  }
}

/** The profile as a text table, with each kernel's share of the step's GPU time. */
export function formatStepProfile(p: StepProfile): string {
  const total = p.kernels.reduce((s, k) => s + k.ms, 0);
  const dispatches = p.kernels.reduce((s, k) => s + k.count, 0);
  const width = Math.max(40, ...p.kernels.map((k) => k.label.length));
  const lines = [
    `${p.model} ${p.mode === 'train' ? 'training step' : 'inference (eval, no gradients)'}, batch ${p.batch}, ${p.imageSize}x${p.imageSize}: first step ${(p.firstStepMs / 1000).toFixed(2)} s (compiles pipelines), then ${p.stepMs.toFixed(1)} ms per step`,
    `host ${p.hostMs.toFixed(1)} ms per step to record its dispatches (${((1000 * p.hostMs) / Math.max(1, dispatches)).toFixed(0)} µs each); ` +
      `GPU time ${total.toFixed(1)} ms in ${dispatches} dispatches (timestamps; each dispatch in its own pass while profiling)`,
    `the step is bound by ${p.hostMs >= 0.8 * total ? 'the host: fewer or cheaper dispatches would speed it up, faster kernels would not' : 'the GPU: the kernels below set its time'}`,
    '',
    `${'kernel'.padEnd(width)} ${'ms'.padStart(9)} ${'share'.padStart(7)} ${'calls'.padStart(6)}`,
  ];
  for (const k of p.kernels) {
    lines.push(`${k.label.padEnd(width)} ${k.ms.toFixed(2).padStart(9)} ${`${((100 * k.ms) / total).toFixed(1)}%`.padStart(7)} ${String(k.count).padStart(6)}`);
  }
  return lines.join('\n');
}
