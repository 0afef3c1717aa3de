// SPDX-License-Identifier: MIT
// Optimizer update bandwidth: SGD with momentum and Adam over a ResNet-18-sized parameter set
// (torchvision resnet18: 62 tensors, 11,689,512 floats), one fused WGSL dispatch per tensor, and
// over CIFAR ResNet-20's 59 small tensors, where the dispatches rather than the bytes set the
// time: there both the default update (up to 4 SGD / 3 Adam tensors per dispatch) and the
// `fused: true` optimizers (one dispatch over arenas: src/nn/optim/flat.ts), the latter also with
// the gradients copied into the arena in every step, as after a real backward pass.
//
//   GB/s = bytes read + written per step / seconds per step, where per element (float32)
//     SGD momentum (steady state): reads p, g, buf; writes p, buf   -> 5 * 4 bytes
//     Adam (no amsgrad):           reads p, g, m, v; writes p, m, v -> 7 * 4 bytes
// and the ratio to the device's shader copy ceiling (bench/ceiling.ts's bandwidthRates), measured
// in the same run. Each figure is the best of 3 rounds of 4 steps. Results are validated against the float64
// reference before anything is timed. Run: npm run bench (or node dist/bench/optim.js).

import * as wg from '../src/index.js';
import { DEFAULT_UPDATE_LAUNCH, flatUpdateLaunch, type UpdateLaunch } from '../src/kernels/optim.js';
import { sgdStepRef, adamStepRef, adamStateRef } from '../src/kernels/reference/optim.js';
import { bandwidthRates } from './ceiling.js';
import { timePerCall } from './timing.js';

/** torchvision resnet18's trainable parameter shapes (convs have no bias; BN has weight and bias). */
function resnet18Shapes(): number[][] {
  const shapes: number[][] = [[64, 3, 7, 7], [64], [64]];
  let inplanes = 64;
  for (const [planes, stride] of [[64, 1], [128, 2], [256, 2], [512, 2]]) {
    for (let b = 0; b < 2; b++) {
      const s = b === 0 ? stride : 1;
      shapes.push([planes, inplanes, 3, 3], [planes], [planes], [planes, planes, 3, 3], [planes], [planes]);
      if (b === 0 && (s !== 1 || inplanes !== planes)) shapes.push([planes, inplanes, 1, 1], [planes], [planes]);
      inplanes = planes;
    }
  }
  shapes.push([1000, 512], [1000]);
  return shapes;
}

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

interface Setup {
  name: string;
  make: (ps: wg.Tensor[]) => wg.optim.Optimizer<any>;
  bytesPerElement: number;
}

const setupsWith = (fused: boolean): Setup[] => [
  { name: `SGD momentum=0.9 wd=5e-4${fused ? ' fused' : ''}`, make: (ps) => new wg.optim.SGD(ps, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4, fused }), bytesPerElement: 5 * 4 },
  { name: `Adam${fused ? ' fused' : ''}`, make: (ps) => new wg.optim.Adam(ps, { lr: 1e-3, fused }), bytesPerElement: 7 * 4 },
];
const setups = setupsWith(false);

/** Two steps on GPU vs the float64 reference for a few tensors (small, odd, large). */
async function validate(params: wg.Tensor[], setup: Setup): Promise<number> {
  const picks = [1, params.length - 1, 0, params.length - 2];
  const host = await Promise.all(picks.map(async (i) => Float64Array.from(await params[i].data())));
  const grads = await Promise.all(picks.map(async (i) => await params[i].grad!.data()));
  const opt = setup.make(params);
  opt.step();
  opt.step();
  let worst = 0;
  for (let k = 0; k < picks.length; k++) {
    const p = host[k];
    if (setup.name.startsWith('SGD')) {
      const st = { momentumBuffer: null };
      for (let s = 0; s < 2; s++) sgdStepRef(p, grads[k], st, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
    } else {
      const st = adamStateRef(p.length);
      for (let s = 0; s < 2; s++) adamStepRef(p, grads[k], st, { lr: 1e-3 });
    }
    const got = await params[picks[k]].data();
    let scale = 0;
    for (const v of p) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < p.length; i++) worst = Math.max(worst, Math.abs(got[i] - p[i]) / scale);
  }
  opt.dispose();
  if (worst > 1e-5) throw new Error(`${setup.name}: GPU result differs from the reference (max relative error ${worst.toExponential(2)})`);
  return worst;
}

/** Seconds per step: the best of `rounds` rounds of `steps` steps (the machine is shared, so the minimum is the stable figure). */
async function timeSteps(opt: wg.optim.Optimizer<any>, steps: number, rounds = 1): Promise<number> {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    await wg.sync();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) opt.step();
    await wg.sync();
    best = Math.min(best, (performance.now() - t0) / 1000 / steps);
  }
  return best;
}

async function main(): Promise<void> {
  const info = await wg.init();
  const shapes = resnet18Shapes();
  const total = shapes.reduce((a, s) => a + numel(s), 0);
  console.log(`optimizer update bench: ${info.description || info.device || info.vendor}, LP_NUM_THREADS=${process.env.LP_NUM_THREADS ?? '(unset)'}`);
  console.log(`parameters: ${shapes.length} tensors, ${total.toLocaleString('en-US')} floats (resnet18)`);
  const params = shapes.map((s, i) => {
    const p = wg.randn(s, { seed: i + 1, std: 0.05 });
    p.requiresGrad = true;
    p.grad = wg.randn(s, { seed: 1000 + i, std: 0.01 });
    return p;
  });

  for (const setup of setups) {
    const err = await validate(params, setup);
    console.log(`${setup.name}: matches the float64 reference (max rel. error ${err.toExponential(2)})`);
  }

  const ceiling = (await bandwidthRates()).wall;
  console.log(`copy ceiling (bench/ceiling.ts, this run): ${ceiling.toFixed(2)} GB/s`);

  const configs: UpdateLaunch[] = [
    { wg: 64, vec: 1 }, { wg: 256, vec: 1 }, { wg: 64, vec: 4 }, { wg: 256, vec: 4 }, { wg: 256, vec: 8 },
  ];
  const chosen = { ...DEFAULT_UPDATE_LAUNCH };
  for (const setup of setups) {
    const opt = setup.make(params);
    opt.step(); // state allocated, pipelines built
    console.log(`\n${setup.name}: ${setup.bytesPerElement} bytes/element, ${((setup.bytesPerElement * total) / 1e6).toFixed(0)} MB per step`);
    for (const cfg of configs) {
      Object.assign(DEFAULT_UPDATE_LAUNCH, cfg);
      await timeSteps(opt, 2); // warm-up (pipeline for this configuration)
      const sec = await timeSteps(opt, 4, 3);
      const gbps = (setup.bytesPerElement * total) / sec / 1e9;
      const ratio = `  ${((100 * gbps) / ceiling).toFixed(0)}% of copy ceiling`;
      const mark = cfg.wg === chosen.wg && cfg.vec === chosen.vec ? '  (default)' : '';
      console.log(`  WG=${String(cfg.wg).padStart(3)} VEC=${cfg.vec}: ${(sec * 1e3).toFixed(1).padStart(6)} ms/step  ${gbps.toFixed(2)} GB/s${ratio}${mark}`);
    }
    Object.assign(DEFAULT_UPDATE_LAUNCH, chosen);
    opt.dispose();
  }
  for (const setup of setupsWith(true)) {
    const opt = setup.make(params);
    opt.step();
    await timeSteps(opt, 2);
    const sec = await timeSteps(opt, 4, 3);
    const gbps = (setup.bytesPerElement * total) / sec / 1e9;
    const ratio = `  ${((100 * gbps) / ceiling).toFixed(0)}% of copy ceiling`;
    const launch = flatUpdateLaunch(setup.name.startsWith('SGD') ? 'sgd' : 'adam');
    console.log(`\n${setup.name} (one dispatch, WG=${launch.wg} VEC=${launch.vec}): ${(sec * 1e3).toFixed(1).padStart(6)} ms/step  ${gbps.toFixed(2)} GB/s${ratio}`);
    opt.dispose();
  }
  params.forEach((p) => p.dispose());
  await smallParameters();
  await wg.close();
}

/**
 * The same steps over CIFAR ResNet-20's parameters (59 tensors, 0.27 M floats, most of them
 * 16-64 floats of batch norm): here the ~60 dispatches, not the bytes, set the time.
 */
async function smallParameters(): Promise<void> {
  const net = wg.models.cifarResnet(20, { shortcut: 'A', numClasses: 10 });
  const params = net.parameters();
  const total = params.reduce((a, p) => a + p.size, 0);
  params.forEach((p, i) => { p.grad = wg.randn([...p.shape], { seed: 2000 + i, std: 0.01 }); });
  // Gradients as a backward pass leaves them: in buffers of their own, which a fused step copies
  // into its arena. `p.grad = view` hands the step a new tensor each time at no GPU cost.
  const sources = params.map((p) => p.grad!);
  const names = [...net.namedParameters()].map(([n]) => n);
  const freshGrads = (which: (name: string) => boolean = () => true) => params.forEach((p, i) => {
    if (!which(names[i])) return;
    if (p.grad !== sources[i]) p.grad?.dispose(); // the slot view the last fused step left
    p.grad = sources[i].detach();
  });
  // After a real backward pass the convolutions and batch norms have stored their gradients in
  // their slots (autograd's `into`), and only the linear layer's two come from ops that do not
  // (matmul, add): the step copies just those.
  const fromBackward = (name: string) => name.startsWith('fc.');
  console.log(`
parameters: ${params.length} tensors, ${total.toLocaleString('en-US')} floats (CIFAR resnet20); unfused: default launch, fused: WG=${flatUpdateLaunch('sgd').wg} VEC=${flatUpdateLaunch('sgd').vec} (SGD), WG=${flatUpdateLaunch('adam').wg} VEC=${flatUpdateLaunch('adam').vec} (Adam)`);
  type Gather = 'none' | 'all' | 'backward';
  const rows: Array<[Setup, Gather]> = [
    ...setups.map((s) => [s, 'none'] as [Setup, Gather]),
    ...setupsWith(true).flatMap((s) => [[s, 'none'], [s, 'backward'], [s, 'all']] as Array<[Setup, Gather]>),
  ];
  const gatherNames: Record<Gather, string> = { none: '', backward: ' + fc gradients copied in (as after backward)', all: ' + every gradient copied in' };
  // Steps timed in runs of ~200 ms (timing.ts's timePerCall: a step here is ~0.5-2 ms on lavapipe,
  // and a wait for the GPU costs a few tenths of a millisecond that a training loop does not
  // spend per update), by wall time and by the shader threads' CPU time, against the copy
  // ceiling's rates measured here (the CPU-time ratio is the one that holds still on a shared host).
  const copy = await bandwidthRates();
  console.log(`copy ceiling here: ${copy.wall.toFixed(2)} GB/s wall, ${copy.perCpuSecond.toFixed(2)} GB per worker CPU-second`);
  for (const [setup, gather] of rows) {
    freshGrads();
    const opt = setup.make(params);
    opt.step();
    const step = gather === 'none' ? () => opt.step() : () => { freshGrads(gather === 'all' ? undefined : fromBackward); opt.step(); };
    const t = await timePerCall(step);
    const bytes = setup.bytesPerElement * total;
    const gbps = bytes / (t.ms * 1e6);
    const perCpu = bytes / (t.cpuMs * 1e6);
    const ratios = `${((100 * gbps) / copy.wall).toFixed(0)}% of copy ceiling (wall), ${Number.isFinite(perCpu) ? `${((100 * perCpu) / copy.perCpuSecond).toFixed(0)}% (CPU time)` : '-'}`;
    const name = `${setup.name}${gatherNames[gather]}`;
    console.log(`  ${name.padEnd(70)}: ${t.ms.toFixed(2)} ms/step (${((t.ms * 1e3) / params.length).toFixed(0)} us per tensor)  ${gbps.toFixed(2)} GB/s  ${ratios}`);
    opt.dispose();
  }
  sources.forEach((g) => g.dispose());
  net.dispose();
}

await main();
