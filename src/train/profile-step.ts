// SPDX-License-Identifier: MIT
// One training step, broken down per kernel from GPU timestamps (`wgslgrad profile`).
//
// The step is the trainer's: forward, cross-entropy, backward, SGD-momentum update, all inside
// one scope (or, with `inference`, a forward pass in eval mode without gradients). Comparing the
// summed GPU time with the step's wall time shows whether the kernels or the host bound a step. The first step pays for shader compilation (reported as warm-up); the profiled
// step runs after `warmup` more steps, when pipelines and pooled buffers are in place.

import * as wg from '../index.js';
import { buildModel } from './setup.js';

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
  /** Per kernel label, heaviest first; ms summed over the profiled step. */
  kernels: wg.ProfileEntry[];
}

export async function profileTrainingStep(opts: { model: string; batch: number; imageSize: number; numClasses: number; steps?: number; autotune?: boolean; byKernel?: boolean; inference?: boolean }): Promise<StepProfile> {
  const model = buildModel(opts.model, opts.numClasses);
  if (opts.inference) model.eval();
  else model.train();
  const optimizer = new wg.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
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
    await wg.sync();
    return performance.now() - t0;
  };
  try {
    // Tuning (if asked) comes first and is not counted in the first step.
    if (opts.autotune) await wg.autotune(opts.inference ? inferenceStep : () => wg.F.crossEntropy(model.forward(x) as wg.Tensor, labels).backward());
    const firstStepMs = await timed();
    const times: number[] = [];
    for (let i = 0; i < (opts.steps ?? 3); i++) times.push(await timed());
    times.sort((a, b) => a - b);
    const kernels = (await wg.profile(step, { byKernel: opts.byKernel })).sort((a, b) => b.ms - a.ms);
    return { model: opts.model, mode: opts.inference ? 'inference' : 'train', batch: opts.batch, imageSize: opts.imageSize, firstStepMs, stepMs: times[Math.floor(times.length / 2)], kernels };
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
    `GPU time ${total.toFixed(1)} ms in ${dispatches} dispatches (timestamps; each dispatch in its own pass while profiling)`,
    '',
    `${'kernel'.padEnd(width)} ${'ms'.padStart(9)} ${'share'.padStart(7)} ${'calls'.padStart(6)}`,
  ];
  for (const k of p.kernels) {
    lines.push(`${k.label.padEnd(width)} ${k.ms.toFixed(2).padStart(9)} ${`${((100 * k.ms) / total).toFixed(1)}%`.padStart(7)} ${String(k.count).padStart(6)}`);
  }
  return lines.join('\n');
}
