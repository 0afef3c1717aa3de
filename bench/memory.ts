// SPDX-License-Identifier: MIT
// GPU memory of ResNet-50 training (SGD with momentum), and PyTorch's for the same model/batch.
//
//   node dist/bench/memory.js [--batch 2] [--size 224] [--steps 20] [--classes 1000] [--no-torch] [--json out.json]
//
// Each step runs in wg.scope on one fixed random batch (as the peer) and is read back
// (loss.item()), so the figures are per step. From wg.memory() (byte counts are the pool's size classes, at most 12.5%
// above the tensors' own sizes):
//   live after    bytes held by live tensors when the step is over: parameters, buffers,
//                 gradients and momentum. Must be the same after every step (checked first:
//                 a benchmark that leaks is not measuring anything);
//   peak live     the most bytes live tensors held at once during the step — activations saved
//                 for backward, gradients, temporaries: PyTorch's max_memory_allocated;
//   peak held     live + pooled (freed, kept for reuse): what the device really held, PyTorch's
//                 max_memory_reserved.
// The PyTorch peer (bench/peers/torch_memory.py, /usr/bin/python3, torch CPU) counts params +
// grads + momentum + the tensors autograd saves for backward (saved-tensor hooks) + outputs, and
// cross-checks with its allocator trace; see that file for the method.
// On lavapipe a ResNet-50 step at batch 2, 224x224 takes seconds: the default is 20 steps;
// raise it with --steps 1000 on a real GPU.

import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as wg from '../src/index.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
function option(name: string, fallback: number): number;
function option(name: string, fallback: string): string;
function option(name: string, fallback: number | string): number | string {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  return typeof fallback === 'number' ? Number(args[i + 1]) : args[i + 1];
}

const batch = option('batch', 2);
const size = option('size', 224);
const steps = option('steps', 20);
const classes = option('classes', 1000);
const MB = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

interface StepRow {
  step: number;
  ms: number;
  loss: number;
  liveAfter: number;
  peakLive: number;
  peakHeld: number;
  liveTensors: number;
}

/** PyTorch's figures from bench/peers/torch_memory.py, or why there are none. */
function torchPeer(): Record<string, unknown> | string {
  const candidates = ['./peers/torch_memory.py', '../../bench/peers/torch_memory.py'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  const script = candidates.find((p) => existsSync(p));
  if (!script) return 'bench/peers/torch_memory.py not found';
  const run = spawnSync('/usr/bin/python3', [script, '--batch', String(batch), '--size', String(size), '--classes', String(classes), '--steps', '2'], {
    encoding: 'utf8',
    timeout: 30 * 60_000,
  });
  if (run.status !== 0) return `python failed (${run.status ?? run.signal}): ${(run.stderr || run.error?.message || '').trim().split('\n').slice(-3).join(' | ')}`;
  const line = run.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return `unexpected output: ${line.slice(0, 200)}`;
  }
}

async function main(): Promise<void> {
  const info = await wg.init();
  console.log(`device: ${info.description || info.device || info.vendor}; ResNet-50, batch ${batch}, ${size}x${size}, ${classes} classes, SGD momentum 0.9, ${steps} steps`);
  wg.manualSeed(0);
  const model = wg.models.resnet50({ numClasses: classes }).train();
  const opt = new wg.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
  const paramBytes = model.parameters().reduce((s, p) => s + p.size * 4, 0);
  const bufferBytes = model.buffers().reduce((s, b) => s + b.size * 4, 0);
  console.log(`parameters ${MB(paramBytes)} (${(paramBytes / 4).toLocaleString('en-US')} floats), gradients ${MB(paramBytes)}, momentum ${MB(paramBytes)}, buffers ${MB(bufferBytes)}`);

  // One fixed batch, as the PyTorch peer uses (the loss should fall as the model memorises it).
  const x = wg.randn([batch, 3, size, size], { seed: 100 });
  const y = wg.tensor(Int32Array.from({ length: batch }, (_, k) => (k * 13) % classes));
  const rows: StepRow[] = [];
  for (let i = 0; i < steps; i++) {
    wg.resetPeakMemory();
    const t0 = performance.now();
    const loss = wg.scope(() => {
      opt.zeroGrad();
      const l = wg.F.crossEntropy(model.forward(x), y);
      l.backward();
      opt.step();
      return l;
    });
    const value = await loss.item();
    loss.dispose();
    const m = wg.memory();
    rows.push({ step: i + 1, ms: performance.now() - t0, loss: value, liveAfter: m.liveBytes, peakLive: m.peakLiveBytes, peakHeld: m.peakBytes, liveTensors: m.liveTensors });
    const r = rows[rows.length - 1];
    console.log(
      `step ${String(r.step).padStart(4)}  ${(r.ms / 1000).toFixed(2).padStart(7)} s  loss ${r.loss.toFixed(4)}  live after ${MB(r.liveAfter)}  ` +
        `peak live ${MB(r.peakLive)}  peak held ${MB(r.peakHeld)}  tensors ${r.liveTensors}`,
    );
  }

  // Validate before reporting: finite losses, and a flat live level from step 2 on.
  const steady = rows.slice(1);
  const flat = steady.every((r) => r.liveAfter === steady[0].liveAfter && r.liveTensors === steady[0].liveTensors);
  const finite = rows.every((r) => Number.isFinite(r.loss));
  console.log(`\nchecks: losses finite: ${finite ? 'yes' : 'NO'}; live bytes after every step from step 2 on identical: ${flat ? 'yes' : 'NO (leak)'}`);

  const peakLive = Math.max(...steady.map((r) => r.peakLive), rows[0].peakLive);
  const peakHeld = Math.max(...rows.map((r) => r.peakHeld));
  const state = 3 * paramBytes + bufferBytes;
  const summary = {
    device: info.description || info.device,
    batch, size, classes, steps,
    firstStepSeconds: rows[0].ms / 1000,
    steadyStepSeconds: steady.length ? steady.reduce((s, r) => s + r.ms, 0) / steady.length / 1000 : null,
    bytes: {
      parameters: paramBytes,
      liveAfterStep: rows[rows.length - 1].liveAfter,
      peakLive,
      peakHeld,
      activationsAndTemporaries: peakLive - state,
    },
    checks: { finite, flat },
    torch: null as Record<string, unknown> | string | null,
  };
  console.log(`peak live ${MB(peakLive)} = params + grads + momentum + buffers (${MB(state)}) + activations/temporaries ${MB(peakLive - state)}`);
  console.log(`peak held by the pool (incl. cached free buffers) ${MB(peakHeld)}; live after a step ${MB(summary.bytes.liveAfterStep)}`);
  console.log(`step time: first ${summary.firstStepSeconds.toFixed(1)} s (pipeline compilation), steady ${summary.steadyStepSeconds?.toFixed(2) ?? '-'} s`);
  opt.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
  await wg.close();

  if (!flag('no-torch')) {
    console.log('\nPyTorch peer (bench/peers/torch_memory.py) ...');
    const peer = torchPeer();
    summary.torch = peer;
    if (typeof peer === 'string') console.log(`  unavailable: ${peer}`);
    else {
      const b = peer.bytes as Record<string, number>;
      console.log(`  torch ${peer.torch} CPU: params ${MB(b.parameters)}, grads ${MB(b.gradients)}, momentum ${MB(b.optimizer_state)}, saved activations ${MB(b.saved_activations)}`);
      console.log(`  accounted peak ${MB(b.accounted_peak)}; allocator-trace peak ${typeof b.allocator_trace_peak === 'number' ? MB(b.allocator_trace_peak) : b.allocator_trace_peak}`);
      const trace = typeof b.allocator_trace_peak === 'number' ? `, / PyTorch (allocator trace): ${(peakLive / b.allocator_trace_peak).toFixed(2)}x` : '';
      console.log(`  ours (peak live) / PyTorch (accounted): ${(peakLive / b.accounted_peak).toFixed(2)}x${trace}`);
      console.log(`  activations + temporaries: ours ${MB(peakLive - state)}, PyTorch's saved activations ${MB(b.saved_activations)}`);
    }
  }
  const json = option('json', '');
  if (json) writeFileSync(json, JSON.stringify({ summary, rows }, null, 2));
}

await main();
