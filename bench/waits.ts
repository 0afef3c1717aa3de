// SPDX-License-Identifier: MIT
// What waiting for the GPU costs: for one model step after another, the wall time, the CPU time
// the JavaScript main thread spent while it waited, and the CPU time of every other thread
// (llvmpipe's shader threads). On a CPU adapter with 2 cores a main thread that spins while it
// waits takes a core from the shader threads (src/tensor/queue.ts, waitForGpu and
// napWhilePending); this bench shows how much it still spins.
//   node dist/bench/waits.js [resnet50|resnet18|resnet20] [batch] [steps]
// resnet18 / resnet50: eval-mode inference under noGrad at 224x224 (batch default 1);
// resnet20: a CIFAR training step, SGD with momentum (batch default 128). Linux only (/proc).

import { readFileSync } from 'node:fs';
import * as wg from '../src/index.js';
import { workerCpuNs } from './timing.js';
import { flush, sync } from '../src/tensor/queue.js';

const model = process.argv[2] ?? 'resnet50';
const training = model === 'resnet20';
const batch = Number(process.argv[3] ?? (training ? 128 : 1));
const steps = Number(process.argv[4] ?? 8);

/** CPU nanoseconds the main thread has used so far. */
const mainThreadCpuNs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);

function makeStep(): { step: () => void; warm: () => void } {
  if (training) {
    const net = wg.models.cifarResnet(20, { shortcut: 'A', numClasses: 10 });
    net.train();
    const opt = new wg.optim.SGD(net.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
    const x = wg.randn([batch, 3, 32, 32], { seed: 1 }).keep();
    const labels = wg.tensor(Int32Array.from({ length: batch }, (_, i) => i % 10)).keep();
    const warm = () => wg.F.crossEntropy(net.forward(x) as wg.Tensor, labels).backward();
    return { warm, step: () => wg.scope(() => { opt.zeroGrad(); warm(); opt.step(); }) };
  }
  const ctor = model === 'resnet18' ? wg.models.resnet18 : wg.models.resnet50;
  const net = ctor({ numClasses: 1000 });
  net.eval();
  const x = wg.randn([batch, 3, 224, 224], { seed: 1 }).keep();
  const step = () => wg.noGrad(() => wg.scope(() => { net.forward(x); }));
  return { warm: step, step };
}

const info = await wg.init();
console.log(`# waits — ${info.description || info.device}: ${model} ${training ? 'training' : 'inference'}, batch ${batch}`);
const { step, warm } = makeStep();
await wg.warmup(warm);
for (let i = 0; i < steps + 2; i++) {
  const m0 = mainThreadCpuNs();
  const w0 = workerCpuNs();
  const t0 = performance.now();
  step();
  flush();
  const t1 = performance.now();
  const m1 = mainThreadCpuNs();
  await sync();
  const t2 = performance.now();
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  if (i >= 2) { // the first two steps fill caches and pools
    console.log(
      `step ${i - 1}: wall ${(t2 - t0).toFixed(1)} ms; main thread ${ms(m1 - m0)} ms CPU recording, ` +
        `${ms(mainThreadCpuNs() - m1)} ms CPU in ${(t2 - t1).toFixed(1)} ms of waiting; other threads ${ms(workerCpuNs() - w0)} ms CPU`,
    );
  }
}
await wg.close();
