// SPDX-License-Identifier: MIT
// conv2d benchmark: forward, input gradient and weight gradient of every distinct conv layer of
// ResNet-18 (224x224) and CIFAR ResNet-20 (32x32), with the fast (implicit-GEMM) kernels.
//   npm run build && node dist/bench/conv.js [--resnet18-batch 8] [--cifar-batch 128] [--only cifar|resnet18] [--rows-narrow]
//
// Each pass is first checked against the direct kernels (the oracle) on the same layer with a
// batch of 1 (ResNet-18) or 2 (CIFAR) — the direct kernels are slow — then timed at the full batch
// (bench/timing.ts: median of several runs after a warm-up that also pays for pipeline
// compilation). Reported per pass:
//   ms, GFLOP/s = 2 * N * K * P * Q * (C/groups) * R * S / time  (the same nominal count for all
//   three passes: each is one multiply-add per term of the convolution sum), and the ratio to the
//   device's vec4-FMA ceiling (bench/ceiling.ts) measured in the same run, before and after.
//   Two ratios: by wall time, and by worker-thread CPU time (GFLOP per CPU-second of the kernel
//   over the same for the ceiling). On lavapipe the "GPU" is this machine's CPUs; when other jobs
//   share them wall time swings by 2x and more while the CPU-time ratio stays put.

import { init, close, gpu } from '../src/tensor/device.js';
import { randn } from '../src/ops/creation.js';
import { Tensor } from '../src/tensor/tensor.js';
import {
  conv2dGeometry, conv2dForward, conv2dBackwardInput, conv2dBackwardWeight, setConvImplementation, setConvRowsWide,
  type Conv2dGeometry,
} from '../src/kernels/conv2d.js';
import { fmaRates } from './ceiling.js';
import { timePerCall, fmt } from './timing.js';

interface Layer {
  net: 'resnet18' | 'cifar';
  name: string;
  /** x: (N, C, H, W) without N; w: (K, C, R, S) */
  C: number; H: number; K: number; R: number; stride: number; pad: number;
  /** how many times the layer occurs in the network (for the per-network totals) */
  count: number;
}

const LAYERS: Layer[] = [
  { net: 'resnet18', name: 'conv1 7x7 s2 3->64 @224', C: 3, H: 224, K: 64, R: 7, stride: 2, pad: 3, count: 1 },
  { net: 'resnet18', name: 'layer1 3x3 64->64 @56', C: 64, H: 56, K: 64, R: 3, stride: 1, pad: 1, count: 4 },
  { net: 'resnet18', name: 'layer2 3x3 s2 64->128 @56', C: 64, H: 56, K: 128, R: 3, stride: 2, pad: 1, count: 1 },
  { net: 'resnet18', name: 'layer2 3x3 128->128 @28', C: 128, H: 28, K: 128, R: 3, stride: 1, pad: 1, count: 3 },
  { net: 'resnet18', name: 'layer2 down 1x1 s2 64->128', C: 64, H: 56, K: 128, R: 1, stride: 2, pad: 0, count: 1 },
  { net: 'resnet18', name: 'layer3 3x3 s2 128->256 @28', C: 128, H: 28, K: 256, R: 3, stride: 2, pad: 1, count: 1 },
  { net: 'resnet18', name: 'layer3 3x3 256->256 @14', C: 256, H: 14, K: 256, R: 3, stride: 1, pad: 1, count: 3 },
  { net: 'resnet18', name: 'layer3 down 1x1 s2 128->256', C: 128, H: 28, K: 256, R: 1, stride: 2, pad: 0, count: 1 },
  { net: 'resnet18', name: 'layer4 3x3 s2 256->512 @14', C: 256, H: 14, K: 512, R: 3, stride: 2, pad: 1, count: 1 },
  { net: 'resnet18', name: 'layer4 3x3 512->512 @7', C: 512, H: 7, K: 512, R: 3, stride: 1, pad: 1, count: 3 },
  { net: 'resnet18', name: 'layer4 down 1x1 s2 256->512', C: 256, H: 14, K: 512, R: 1, stride: 2, pad: 0, count: 1 },
  { net: 'cifar', name: 'conv1 3x3 3->16 @32', C: 3, H: 32, K: 16, R: 3, stride: 1, pad: 1, count: 1 },
  { net: 'cifar', name: 'stage1 3x3 16->16 @32', C: 16, H: 32, K: 16, R: 3, stride: 1, pad: 1, count: 6 },
  { net: 'cifar', name: 'stage2 3x3 s2 16->32 @32', C: 16, H: 32, K: 32, R: 3, stride: 2, pad: 1, count: 1 },
  { net: 'cifar', name: 'stage2 3x3 32->32 @16', C: 32, H: 16, K: 32, R: 3, stride: 1, pad: 1, count: 5 },
  { net: 'cifar', name: 'stage2 down 1x1 s2 16->32 (B)', C: 16, H: 32, K: 32, R: 1, stride: 2, pad: 0, count: 1 },
  { net: 'cifar', name: 'stage3 3x3 s2 32->64 @16', C: 32, H: 16, K: 64, R: 3, stride: 2, pad: 1, count: 1 },
  { net: 'cifar', name: 'stage3 3x3 64->64 @8', C: 64, H: 8, K: 64, R: 3, stride: 1, pad: 1, count: 5 },
  { net: 'cifar', name: 'stage3 down 1x1 s2 32->64 (B)', C: 32, H: 16, K: 64, R: 1, stride: 2, pad: 0, count: 1 },
];

type Pass = 'forward' | 'input grad' | 'weight grad';
const PASSES: Pass[] = ['forward', 'input grad', 'weight grad'];

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

interface Operands { x: Tensor; w: Tensor; b: Tensor; gy: Tensor; g: Conv2dGeometry }

function operands(l: Layer, N: number, seed: number): Operands {
  const g = conv2dGeometry([N, l.C, l.H, l.H], [l.K, l.C, l.R, l.R], { stride: l.stride, padding: l.pad });
  return {
    g,
    x: randn([N, l.C, l.H, l.H], { seed }),
    w: randn([l.K, l.C, l.R, l.R], { seed: seed + 1, std: 0.1 }),
    b: randn([l.K], { seed: seed + 2 }),
    gy: randn([N, l.K, g.P, g.Q], { seed: seed + 3 }),
  };
}

function run(pass: Pass, o: Operands): Tensor {
  if (pass === 'forward') return conv2dForward(o.x, o.w, o.b, o.g);
  if (pass === 'input grad') return conv2dBackwardInput(o.gy, o.w, o.g);
  return conv2dBackwardWeight(o.gy, o.x, o.g);
}

function disposeAll(o: Operands): void {
  for (const t of [o.x, o.w, o.b, o.gy]) t.dispose();
}

/** Largest |fast - direct| relative to the largest |direct|. */
async function compare(l: Layer, pass: Pass): Promise<number> {
  const o = operands(l, l.net === 'resnet18' ? 1 : 2, 7);
  setConvImplementation('direct');
  const ref = run(pass, o);
  setConvImplementation('fast');
  const got = run(pass, o);
  const [a, e] = [await got.data(), await ref.data()];
  let err = 0;
  let scale = 0;
  for (let i = 0; i < e.length; i++) {
    err = Math.max(err, Math.abs(a[i] - e[i]));
    scale = Math.max(scale, Math.abs(e[i]));
  }
  ref.dispose();
  got.dispose();
  disposeAll(o);
  return err / Math.max(scale, 1e-30);
}

async function main(): Promise<void> {
  const info = await init();
  const batches = { resnet18: Number(arg('--resnet18-batch', '8')), cifar: Number(arg('--cifar-batch', '128')) };
  const only = arg('--only', '');
  const layers = LAYERS.filter((l) => !only || l.net === only);
  const ctx = gpu();
  console.log(`conv2d benchmark on ${info.description || info.device || info.vendor} (subgroups: ${ctx.hasSubgroups ? `yes, size ${info.subgroupSize}` : 'no'}; LP_NUM_THREADS=${process.env.LP_NUM_THREADS ?? 'unset'})`);
  console.log(`batch: ResNet-18 ${batches.resnet18} at 224x224, CIFAR ResNet-20 ${batches.cifar} at 32x32`);

  // 1. Validate: fast vs direct on every layer and pass (tolerance 1e-4 forward, 1e-3 grads).
  let bad = 0;
  for (const l of layers) {
    for (const pass of PASSES) {
      const err = await compare(l, pass);
      const tol = pass === 'forward' ? 1e-4 : 1e-3;
      if (!(err <= tol)) {
        bad++;
        console.log(`MISMATCH ${l.net} ${l.name} ${pass}: relative error ${err.toExponential(2)} > ${tol}`);
      }
    }
  }
  if (bad) {
    console.log(`${bad} result(s) differ from the direct kernels; not timing.`);
    process.exitCode = 1;
    return;
  }
  console.log('All results match the direct kernels.');

  // 2. Time. (--rows-narrow: the row kernels at 32 channels x 4 pixels per lane wherever there are
  // 32 channels, as before the 8-pixel rule; for A/B runs.)
  setConvImplementation('fast');
  if (process.argv.includes('--rows-narrow')) setConvRowsWide(false);
  const ceilingBefore = await fmaRates('chain');
  console.log(`FMA ceiling (before): ${fmt(ceilingBefore.wall)} GFLOP/s wall, ${fmt(ceilingBefore.perCpuSecond)} GFLOP per worker CPU-second\n`);
  const rows: Array<{ l: Layer; pass: Pass; ms: number; gflops: number }> = [];
  const header = `${'layer'.padEnd(34)} ${'pass'.padEnd(12)} ${'ms'.padStart(9)} ${'GFLOP/s'.padStart(8)} ${'of FMA'.padStart(7)} ${'(cpu)'.padStart(6)}`;
  const pct = (v: number) => (Number.isFinite(v) ? `${fmt(100 * v, 0)}%` : '-');
  let net = '';
  for (const l of layers) {
    if (l.net !== net) {
      net = l.net;
      console.log(`${net === 'resnet18' ? 'ResNet-18' : 'CIFAR ResNet-20'}, batch ${batches[l.net]}\n${header}`);
    }
    const o = operands(l, batches[l.net], 1);
    const flops = 2 * o.g.N * o.g.K * o.g.PQ * o.g.CRS_g;
    for (const pass of PASSES) {
      const { ms, cpuMs } = await timePerCall(() => run(pass, o).dispose(), 300);
      const gflops = flops / (ms * 1e6);
      const perCpu = flops / (cpuMs * 1e6);
      rows.push({ l, pass, ms, gflops });
      console.log(`${l.name.padEnd(34)} ${pass.padEnd(12)} ${fmt(ms, 2).padStart(9)} ${fmt(gflops).padStart(8)} ${pct(gflops / ceilingBefore.wall).padStart(7)} ${pct(perCpu / ceilingBefore.perCpuSecond).padStart(6)}`);
    }
    disposeAll(o);
  }
  const ceilingAfter = await fmaRates('chain');
  console.log(`\nFMA ceiling (after): ${fmt(ceilingAfter.wall)} GFLOP/s wall, ${fmt(ceilingAfter.perCpuSecond)} GFLOP per worker CPU-second`);

  // Per network and pass: time of all its conv layers (each layer times its count), overall GFLOP/s.
  for (const n of ['resnet18', 'cifar'] as const) {
    const mine = rows.filter((r) => r.l.net === n);
    if (!mine.length) continue;
    const parts = PASSES.map((pass) => {
      const rs = mine.filter((r) => r.pass === pass);
      const ms = rs.reduce((s, r) => s + r.ms * r.l.count, 0);
      const gf = rs.reduce((s, r) => s + r.gflops * r.ms * r.l.count, 0) / ms;
      return `${pass} ${fmt(ms, 0)} ms (${fmt(gf)} GFLOP/s)`;
    });
    console.log(`${n === 'resnet18' ? 'ResNet-18' : 'CIFAR ResNet-20'} all convs, batch ${batches[n]}: ${parts.join(', ')}`);
  }
}

await main();
await close();
