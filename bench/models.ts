// SPDX-License-Identifier: MIT
// Whole-model benchmarks: CIFAR ResNet-20 training and ResNet-18/50 inference (and optionally
// ResNet-50 training), in images/s and in *effective* FLOP/s against the device's FMA ceiling
// measured in the same run.
//
//   effective GFLOP/s = model FLOPs per image x images/s      (training counts 3x the forward FLOPs)
//   model FLOPs per image = sum over Conv2d/Linear of 2 * MACs, counted on a batch-1 forward
//
// Also reported: the first step's cost vs a steady step. By default wg.warmup() builds the
// step's pipelines in parallel first and "first" is warmup + first step; --no-warmup leaves
// them to be built one by one as the first step reaches them. --only r20|r50 runs one row
// (ResNet-20 train / ResNet-50 batch-1 inference) so each first step starts from a cold cache.
// --autotune runs wg.autotune() on each workload first and lists the kernel choices it changed.
// --batch-limit N submits a batch every N dispatches instead of the adapter's default (queue.ts).
// --tune-json F writes every problem wg.autotune() timed (each candidate's ms) to F.
// --unfused trains with the default (unfused) SGD instead of `fused: true` (one update dispatch);
// --no-into keeps the fused SGD but lets every gradient be copied into its arena at the step.
// --reps N times N steps per row (default: 5, or as many as fill a second up to 50; 2 with --quick), after warm-up steps for --warm-ms
// (default 3000: V8 compiles the step's JavaScript to steady speed; at least 2 steps).
//
// "host" is the time the step's JavaScript takes to record its dispatches (the call returns
// before the GPU is waited for), and the dispatches per step: where host time is close to the
// step time the workload is bound by per-dispatch host cost, not by the kernels. The step times
// wait for each step; "pipelined" runs the same number of steps back to back and waits once, as
// a training loop that reads its loss now and then does (the host records while the GPU runs).
// bench/peers/torch_cuda.py measures PyTorch both ways too.
//   node dist/bench/models.js [--quick] [--train50] [--batch20 128] [--batch50 32] [--no-warmup] [--autotune] [--tune-json F] [--only r20|r50] [--batch-limit N] [--reps N] [--warm-ms MS] [--unfused] [--no-into] [--json out.json]

import * as wg from '../src/index.js';
import { Conv2d } from '../src/nn/layers/conv.js';
import { Linear } from '../src/nn/layers/linear.js';
import type { Module } from '../src/nn/module.js';
import { measureFmaCeiling } from './ceiling.js';
import { setBatchLimit } from '../src/tensor/queue.js';
import { median } from './timing.js';
import { setGradDestinations } from '../src/autograd/grad-destination.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const quick = flag('quick');
const useWarmup = !flag('no-warmup');
/** Run wg.autotune() on each workload before timing it (the tuning time is not counted). */
const useAutotune = flag('autotune');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
const tuneJson = args.includes('--tune-json') ? args[args.indexOf('--tune-json') + 1] : null;
/** Train with the fused SGD (one dispatch for all parameters) unless --unfused. */
const fused = !flag('unfused');
if (flag('no-into')) setGradDestinations(false);
/** Every problem the autotuner timed, for --tune-json. */
const tuned: (wg.AutotuneResult & { workload: string })[] = [];

/** Forward FLOPs per image (2 x multiply-adds of every conv and linear layer). */
function countFlops(model: Module, size: number): number {
  let flops = 0;
  const convForward = Conv2d.prototype.forward;
  const linearForward = Linear.prototype.forward;
  Conv2d.prototype.forward = function (this: Conv2d, x: wg.Tensor) {
    const y = convForward.call(this, x);
    const [, k, p, q] = y.shape;
    flops += 2 * k * p * q * (this.inChannels / this.groups) * this.kernelSize[0] * this.kernelSize[1];
    return y;
  };
  Linear.prototype.forward = function (this: Linear, x: wg.Tensor) {
    const y = linearForward.call(this, x);
    flops += 2 * this.inFeatures * this.outFeatures;
    return y;
  };
  // Unfused, so that every convolution runs through Conv2d.forward (at inference the ResNet
  // blocks otherwise run conv + batch norm as one folded convolution, not through the module).
  const fusion = wg.models.setFusion(false);
  try {
    wg.noGrad(() => wg.scope(() => { model.forward(wg.zeros([1, 3, size, size])); }));
  } finally {
    Conv2d.prototype.forward = convForward;
    Linear.prototype.forward = linearForward;
    wg.models.setFusion(fusion);
  }
  return flops;
}

/** `warm`: what wg.warmup gets (the step without optimizer.step()). */
interface StepTimes { firstMs: number; medianMs: number; warmupMs: number; built: number; hostMs: number; dispatches: number; newBindGroups: number; pipelinedMs: number }

/** Warm-up steps before timing: for at least WARM_MS (at least 2 steps, at most MAX_WARM_STEPS). */
const WARM_MS = option('warm-ms', 3000);
const MAX_WARM_STEPS = 500;


async function timeSteps(workload: string, step: () => void, warm: () => void, reps: number | undefined): Promise<StepTimes> {
  let t0 = performance.now();
  const built = useWarmup ? await wg.warmup(warm) : 0;
  const warmupMs = performance.now() - t0;
  if (useAutotune) {
    const t1 = performance.now();
    const results = await wg.autotune(warm);
    tuned.push(...results.map((r) => ({ ...r, workload })));
    const changed = results.filter((r) => r.chosen !== r.rule);
    console.log(`  autotune: ${results.length} problem(s) timed in ${((performance.now() - t1) / 1000).toFixed(1)} s; ${changed.length} differ from the rules:`);
    for (const r of changed) console.log(`    ${r.key}: ${r.chosen} ${r.ms[r.chosen].toFixed(2)} ms (rule: ${r.rule} ${r.ms[r.rule].toFixed(2)} ms)`);
    t0 = performance.now();
  }
  step();
  await wg.sync();
  const firstMs = performance.now() - t0;
  // Warm up to the steady state a training loop runs in: pools filled, and the step's JavaScript
  // compiled by V8's optimizing tier, which takes some hundred calls of each function. On an H100
  // (host-bound) ResNet-50 batch-1 inference took 7.1 ms per step after 2 warm-up steps and 3.3
  // ms after 300; on lavapipe the kernels dominate and this costs a few steps.
  const warmUntil = performance.now() + WARM_MS;
  let lastMs = 0;
  for (let i = 0; i < MAX_WARM_STEPS && (i < 2 || performance.now() < warmUntil); i++) {
    const t = performance.now();
    step();
    await wg.sync();
    lastMs = performance.now() - t;
  }
  // Short steps (a GPU) are timed over at least a second: their medians are steadier.
  reps ??= Math.max(5, Math.min(50, Math.round(1000 / lastMs)));
  const times: number[] = [];
  const host: number[] = [];
  const before = wg.pipelineStats();
  for (let i = 0; i < reps; i++) {
    t0 = performance.now();
    step();
    host.push(performance.now() - t0);
    await wg.sync();
    times.push(performance.now() - t0);
  }
  const after = wg.pipelineStats();
  const dispatches = (after.bindGroupHits + after.bindGroupMisses - before.bindGroupHits - before.bindGroupMisses) / reps;
  const newBindGroups = (after.bindGroupMisses - before.bindGroupMisses) / reps;
  // The same steps back to back, waiting once at the end, as a training loop that reads its loss
  // now and then runs: the host records the next steps while the GPU runs the last ones.
  t0 = performance.now();
  for (let i = 0; i < reps; i++) step();
  await wg.sync();
  const pipelinedMs = (performance.now() - t0) / reps;
  return { firstMs, medianMs: median(times), warmupMs, built, hostMs: median(host), dispatches, newBindGroups, pipelinedMs };
}

interface Row extends StepTimes { name: string; batch: number; ms: number; ips: number; gflops: number; ofCeiling: number }

async function trainRow(name: string, model: Module, batch: number, size: number, classes: number, ceiling: number, reps: number | undefined): Promise<Row> {
  model.train();
  const opt = new wg.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4, fused });
  const x = wg.randn([batch, 3, size, size], { seed: 1 }).keep();
  const labels = wg.tensor(Int32Array.from({ length: batch }, (_, i) => i % classes)).keep();
  const forwardBackward = () => wg.F.crossEntropy(model.forward(x) as wg.Tensor, labels).backward();
  const step = () => wg.scope(() => {
    opt.zeroGrad();
    forwardBackward();
    opt.step();
  });
  const t = await timeSteps(`${name} train b${batch}`, step, forwardBackward, reps);
  const flops = countFlops(model, size) * 3; // after timing: its forward would warm the pipelines
  x.dispose();
  labels.dispose();
  const ips = (batch * 1000) / t.medianMs;
  return { ...t, name: `${name} train`, batch, ms: t.medianMs, ips, gflops: (flops * ips) / 1e9, ofCeiling: (flops * ips) / 1e9 / ceiling };
}

async function inferRow(name: string, model: Module, batch: number, size: number, ceiling: number, reps: number | undefined): Promise<Row> {
  model.eval();
  const x = wg.randn([batch, 3, size, size], { seed: 2 }).keep();
  const step = () => wg.noGrad(() => wg.scope(() => { model.forward(x); }));
  const t = await timeSteps(`${name} inference b${batch}`, step, step, reps);
  const flops = countFlops(model, size);
  x.dispose();
  const ips = (batch * 1000) / t.medianMs;
  return { ...t, name: `${name} inference`, batch, ms: t.medianMs, ips, gflops: (flops * ips) / 1e9, ofCeiling: (flops * ips) / 1e9 / ceiling };
}

export async function run(): Promise<Row[]> {
  const info = await wg.init();
  if (args.includes('--batch-limit')) setBatchLimit(option('batch-limit', 512));
  console.log(`# models — ${info.description || info.device} (LP_NUM_THREADS=${process.env.LP_NUM_THREADS ?? 'unset'}` +
    `${args.includes('--batch-limit') ? `, batch limit ${option('batch-limit', 512)}` : ''})`);
  const ceiling = await measureFmaCeiling();
  console.log(`FMA ceiling: ${ceiling.toFixed(1)} GFLOP/s (same run); first step ${useWarmup ? 'after wg.warmup() (included)' : 'without warm-up'}`);
  const rows: Row[] = [];
  const report = (r: Row) => {
    rows.push(r);
    console.log(
      `${r.name.padEnd(24)} batch ${String(r.batch).padStart(3)}  first ${(r.firstMs / 1000).toFixed(2).padStart(6)} s` +
        (useWarmup ? ` (warmup ${(r.warmupMs / 1000).toFixed(2)} s, ${r.built} pipelines)` : '') + `  step ${r.ms.toFixed(1).padStart(8)} ms  ` +
        `${r.ips.toFixed(1).padStart(7)} img/s  ${r.gflops.toFixed(2).padStart(7)} GFLOP/s  ${(100 * r.ofCeiling).toFixed(1).padStart(5)}% of ceiling  ` +
        `host ${r.hostMs.toFixed(1)} ms (${Math.round(r.dispatches)} dispatches, ${((1000 * r.hostMs) / r.dispatches).toFixed(0)} µs each, ${Math.round(r.newBindGroups)} new bind groups)  ` +
        `pipelined ${r.pipelinedMs.toFixed(1)} ms (${((r.batch * 1000) / r.pipelinedMs).toFixed(1)} img/s)`,
    );
  };
  const reps = args.includes('--reps') ? option('reps', 5) : quick ? 2 : undefined;
  if (only === null || only === 'r20') {
    const r20 = wg.models.cifarResnet(20, { shortcut: 'A', numClasses: 10 });
    report(await trainRow('cifar resnet20', r20, option('batch20', quick ? 32 : 128), 32, 10, ceiling, reps));
    r20.dispose();
  }
  const inference = [['resnet18', wg.models.resnet18], ['resnet50', wg.models.resnet50]] as const;
  for (const [name, ctor] of only === null ? inference : only === 'r50' ? [inference[1]] : []) {
    const m = ctor({ numClasses: 1000 });
    for (const batch of quick || only ? [1] : [1, 8]) report(await inferRow(name, m, batch, 224, ceiling, reps));
    if (name === 'resnet50' && flag('train50')) report(await trainRow(name, m, option('batch50', 32), 224, 1000, ceiling, reps));
    m.dispose();
  }
  const out = args.indexOf('--json');
  const { writeFileSync } = await import('node:fs');
  if (out >= 0) writeFileSync(args[out + 1], JSON.stringify({ adapter: info, ceiling, rows }, null, 1));
  if (tuneJson) writeFileSync(tuneJson, JSON.stringify({ adapter: info, problems: tuned }, null, 1));
  await wg.close();
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
