// Anomaly mode: wg.detectAnomaly(fn) names the FIRST op (forward or backward) whose result holds
// a NaN or an Inf, with its shape; says nothing when everything is finite; and leaves no kept
// tensors behind. The trainer stops on a NaN loss with a clear message.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';
import { pendingAnomalyCount, isAnomalyEnabled } from '../../src/autograd/anomaly.js';
import { makeDataset } from '../../src/data/dataset.js';
import { DataLoader } from '../../src/data/loader.js';
import { Trainer, TrainingDivergedError } from '../../src/train/trainer.js';

useDevice();

const F = wg.F;

/** A small MLP whose third layer takes the log of a pre-activation (negative for some inputs). */
class LogNet extends wg.nn.Module {
  fc1 = this.registerModule('fc1', new wg.nn.Linear(6, 8));
  fc2 = this.registerModule('fc2', new wg.nn.Linear(8, 5));
  fc3 = this.registerModule('fc3', new wg.nn.Linear(5, 3));
  forward(x: wg.Tensor): wg.Tensor {
    const h = F.relu(this.fc1.forward(x));
    const z = this.fc2.forward(h); // mixed signs
    const l = wg.log(z); // NaN where z < 0: the first anomaly
    return this.fc3.forward(l.mul(0.5).add(1));
  }
}

async function expectAnomaly(fn: () => unknown): Promise<string> {
  const err = await wg.detectAnomaly(async () => { await fn(); }).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(wg.AnomalyError);
  return (err as Error).message;
}

describe('detectAnomaly', () => {
  it('forward: names log (deep in a small net) with its shape, not the ops after it', async () => {
    wg.manualSeed(7);
    const net = new LogNet();
    const x = wg.randn([4, 6], { seed: 1 });
    const labels = wg.tensor(new Int32Array([0, 1, 2, 0]), [4], { dtype: 'int32' });
    const before = wg.memory();
    const message = await expectAnomaly(() =>
      wg.scope(() => {
        const loss = F.crossEntropy(net.forward(x), labels);
        loss.backward();
      }),
    );
    expect(message).toMatch(/^anomaly: the forward of log produced NaN \(\d+\) in its output of shape \[4, 5\]/);
    expect(message).toContain('the first bad one at [');
    // The call site points at this file (the net's forward), not at library internals.
    expect(message).toMatch(/log was called\n\s+at .*anomaly\.test\.ts/);
    expect(message).not.toMatch(/src\/ops/);
    expect(pendingAnomalyCount()).toBe(0);
    expect(net.parameters().length).toBe(6);
    for (const p of net.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
    expect(wg.memory().liveTensors).toBe(before.liveTensors);
    expect(wg.memory().liveBytes).toBe(before.liveBytes);
    x.dispose();
    labels.dispose();
  });

  it('Inf is found too (exp overflow), as Inf, with the index of the first bad value', async () => {
    const x = wg.tensor([1, 2, 100, 3], [2, 2]);
    const message = await expectAnomaly(() => wg.scope(() => { x.mul(2).exp().sum(); }));
    expect(message).toMatch(/^anomaly: the forward of exp produced Inf \(1\) in its output of shape \[2, 2\] \(4 values, the first bad one at \[1, 0\]\)/);
    x.dispose();
  });

  it('backward only: sqrt at 0 is finite forward, its gradient is Inf — the backward of sqrt is named', async () => {
    const x = wg.tensor([0, 1, 4], [3], { requiresGrad: true });
    const message = await expectAnomaly(() =>
      wg.scope(() => {
        const y = wg.sqrt(x).mul(3).add(1).sum();
        y.backward();
      }),
    );
    expect(message).toMatch(/^anomaly: the backward of sqrt produced Inf \(1\) in the gradient for its input 0, of shape \[3\]/);
    // Outside anomaly mode the same step silently yields Inf: the mode is what finds it.
    const g = await x.grad!.data();
    expect(g[0]).toBe(Infinity);
    x.dispose();
  });

  it('no report when everything is finite; the result is returned; memory returns to baseline', async () => {
    const x = wg.randn([8, 6], { seed: 2 });
    const w = wg.randn([4, 6], { seed: 3, requiresGrad: true });
    await wg.sync();
    const before = wg.memory();
    const value = await wg.detectAnomaly(async () => {
      const loss = wg.scope(() => {
        const l = F.softmax(F.linear(x, w), 1).mul(F.linear(x, w)).mean();
        l.backward();
        return l;
      });
      expect(isAnomalyEnabled()).toBe(true);
      expect(pendingAnomalyCount()).toBeGreaterThan(5); // outputs and gradients queued
      const v = await loss.item();
      loss.dispose();
      return v;
    });
    expect(Number.isFinite(value)).toBe(true);
    expect(isAnomalyEnabled()).toBe(false);
    expect(pendingAnomalyCount()).toBe(0);
    w.grad!.dispose();
    w.grad = null;
    await wg.sync();
    const after = wg.memory();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    expect(after.liveBuffers).toBe(before.liveBuffers);
    x.dispose();
    w.dispose();
  });

  it('an error inside fn still turns the mode off and frees the queue', async () => {
    const before = wg.memory().liveTensors;
    await expect(
      wg.detectAnomaly(() => {
        wg.ones([3]).exp().log();
        throw new Error('user error');
      }),
    ).rejects.toThrow('user error');
    expect(isAnomalyEnabled()).toBe(false);
    expect(pendingAnomalyCount()).toBe(0);
    // Only the three unscoped results remain (ones, exp, log); nothing kept by the mode.
    expect(wg.memory().liveTensors).toBe(before + 3);
  });

  it('off by default: ops queue nothing', () => {
    wg.scope(() => wg.ones([2]).log());
    expect(pendingAnomalyCount()).toBe(0);
  });
});

describe('trainer', () => {
  it('stops on a NaN loss with a clear message (tiny model, lr 1e30)', async () => {
    const n = 16;
    const images = Uint8Array.from({ length: n * 3 * 4 * 4 }, (_, i) => (i * 97 + 13) & 0xff);
    const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
    const ds = makeDataset({ name: 'tiny', images, labels, channels: 3, height: 4, width: 4, classes: ['a', 'b', 'c'] });
    wg.manualSeed(1);
    const model = new wg.nn.Sequential(new wg.nn.Flatten(), new wg.nn.Linear(48, 8), new wg.nn.ReLU(), new wg.nn.Linear(8, 3));
    const optimizer = new wg.optim.SGD(model.parameters(), { lr: 1e30 });
    const trainLoader = new DataLoader(ds, { batchSize: 4, seed: 1, mean: [0.5], std: [0.25] });
    const trainer = new Trainer({ model, optimizer, trainLoader, epochs: 20, syncEvery: 1 });
    const err = await trainer.fit().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect((err as Error).message).toMatch(/^training diverged: the loss became (NaN|infinite) by step \d+ \(epoch \d+, lr 1\.00e\+30\)\. Lower --lr/);
    // It stopped early: within a few steps of the blow-up, not after 20 epochs.
    expect(trainer.step).toBeLessThan(20);
    optimizer.dispose();
  });
});
