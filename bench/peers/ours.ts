// SPDX-License-Identifier: MIT
// wgslgrad's side of the peer comparison: the workloads of tfjs.mjs, on this repository's library
// (bundled from ../../src by compare.mjs with esbuild, one copy of the library, one device).
// Prints one JSON line: { engine, adapter, ceilingBefore, ceilingAfter, results: {key: {ms, firstMs, times}} }.
//   node <bundle> [--quick]
//
// What runs, per workload (NCHW, fp32):
//   gemm1024/2048  wg.matmul(a, b) under noGrad
//   convFwd        F.conv2d(x, w, null, {padding: 1}) under noGrad (implicit-GEMM kernel on this adapter)
//   convBwd        the two backward kernels conv2d's autograd calls, given dy: input grad and weight grad
//   bnTrain        F.batchNorm(x, runningMean, runningVar, gamma, beta, {training: true}) under noGrad
//                  (batch statistics, normalisation, and the running-statistics update)
//   resnet18Infer  wg.models.resnet18() in eval mode (torchvision's layout, random init), noGrad forward
//   resnet20Train  wg.models.cifarResnet(20) (shortcut A): zeroGrad, forward, cross-entropy, backward,
//                  SGD step (lr 0.01, momentum 0.9, weight decay 1e-4); the loss is read back
import * as wg from '../../src/index.js';
import { conv2dGeometry, conv2dBackwardInput, conv2dBackwardWeight } from '../../src/kernels/conv2d.js';
import { fmaRates } from '../ceiling.js';
import { timeSteps } from './timing.mjs';

const quick = process.argv.includes('--quick');
const reps = (n: number) => (quick ? Math.min(n, 2) : n);
type Outs = wg.Tensor[];
const release = (outs: Outs) => outs.forEach((t) => t.dispose());

const info = await wg.init();
const adapter = `${info.description || info.device} (vendor ${info.vendor || '-'}, architecture ${info.architecture || '-'})`;
const ceiling = async () => (await fmaRates('chain')).wall;
const ceilingBefore = await ceiling();
const results: Record<string, unknown> = {};
const log = (key: string, r: { ms: number }) => {
  results[key] = r;
  console.error(`[wgslgrad] ${key}: ${r.ms.toFixed(1)} ms`);
};

for (const n of [1024, 2048]) {
  const a = wg.randn([n, n], { seed: 1 }).keep();
  const b = wg.randn([n, n], { seed: 2 }).keep();
  log(`gemm${n}`, await timeSteps(() => wg.noGrad(() => [wg.matmul(a, b)]), release, { warmup: 1, reps: reps(n > 1024 ? 3 : 5) }));
  a.dispose();
  b.dispose();
}

{
  const x = wg.randn([32, 64, 32, 32], { seed: 3 }).keep();
  const w = wg.randn([64, 64, 3, 3], { seed: 4, std: 0.05 }).keep();
  const dy = wg.randn([32, 64, 32, 32], { seed: 5 }).keep();
  const g = conv2dGeometry(x.shape, w.shape, { stride: 1, padding: 1 });
  log('convFwd', await timeSteps(() => wg.noGrad(() => [wg.F.conv2d(x, w, null, { padding: 1 })]), release, { warmup: 1, reps: reps(5) }));
  log('convBwd', await timeSteps(() => wg.noGrad(() => [conv2dBackwardInput(dy, w, g), conv2dBackwardWeight(dy, x, g)]), release, { warmup: 1, reps: reps(3) }));
  const rm = wg.zeros([64]).keep();
  const rv = wg.ones([64]).keep();
  const gamma = wg.ones([64]).keep();
  const beta = wg.zeros([64]).keep();
  log('bnTrain', await timeSteps(() => wg.noGrad(() => [wg.F.batchNorm(x, rm, rv, gamma, beta, { training: true })]), release, { warmup: 1, reps: reps(5) }));
  for (const t of [x, w, dy, rm, rv, gamma, beta]) t.dispose();
}

{
  const m = wg.models.resnet18({ numClasses: 1000 });
  m.eval();
  const x = wg.randn([1, 3, 224, 224], { seed: 6 }).keep();
  log('resnet18Infer', await timeSteps(() => wg.noGrad(() => wg.scope(() => [m.forward(x) as wg.Tensor])), release, { warmup: 2, reps: reps(5) }));
  x.dispose();
  m.dispose();
}

{
  const m = wg.models.cifarResnet(20, { shortcut: 'A', numClasses: 10 });
  m.train();
  const opt = new wg.optim.SGD(m.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
  const x = wg.randn([128, 3, 32, 32], { seed: 7 }).keep();
  const labels = wg.tensor(Int32Array.from({ length: 128 }, (_, i) => i % 10)).keep();
  const step = () => wg.scope(() => {
    opt.zeroGrad();
    const loss = wg.F.crossEntropy(m.forward(x) as wg.Tensor, labels);
    loss.backward();
    opt.step();
    return [loss];
  });
  log('resnet20Train', await timeSteps(step, release, { warmup: 2, reps: reps(3) }));
  x.dispose();
  labels.dispose();
  m.dispose();
}

const ceilingAfter = await ceiling();
await wg.close();
console.log(JSON.stringify({ engine: 'wgslgrad', adapter, ceilingBefore, ceilingAfter, results }));
process.exit(0);
