// Memory stays flat over a long training run: a CIFAR ResNet-8 (batch 8, 8x8 random images, a
// fresh batch every step) trained with SGD + momentum for 200 steps inside wg.scope and 200 steps
// WITHOUT it (the loss and the logits disposed by hand: the graph must free itself once backward
// ran and the outputs are gone). After every step, wg.memory()'s liveTensors / liveBuffers /
// liveBytes are back at the same level — exactly parameters + buffers + gradients + momentum —
// and after warm-up the pool creates no new GPU buffers.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';

useDevice();

const F = wg.F;
const STEPS = 200;
const BATCH = 8;
const SIZE = 8;

type Level = Pick<wg.Memory, 'liveTensors' | 'liveBuffers' | 'liveBytes'>;
const level = (m: wg.Memory): Level => ({ liveTensors: m.liveTensors, liveBuffers: m.liveBuffers, liveBytes: m.liveBytes });

function batch(step: number): { x: wg.Tensor; y: wg.Tensor } {
  return {
    x: wg.randn([BATCH, 3, SIZE, SIZE], { seed: 1000 + step }),
    y: wg.tensor(Int32Array.from({ length: BATCH }, (_, i) => (i * 3 + step) % 10)),
  };
}

/** Train `steps` steps with `step`, checking memory after every one; returns the losses read back. */
async function run(name: string, step: (model: wg.nn.Module, opt: wg.optim.SGD, i: number) => wg.Tensor): Promise<number[]> {
  await wg.sync();
  const empty = level(wg.memory());
  wg.manualSeed(3);
  const model = wg.models.cifarResnet(8, { numClasses: 10 }).train();
  const opt = new wg.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  const params = model.parameters();
  const state = [...params, ...model.buffers()];
  const losses: number[] = [];
  let steady: Level | null = null;
  let createdAfterWarmup = -1;
  for (let i = 0; i < STEPS; i++) {
    if (i === 10) wg.resetPeakMemory();
    const loss = step(model, opt, i);
    if (i % 40 === 39) losses.push(await loss.item());
    loss.dispose();
    const now = level(wg.memory());
    if (i === 1) {
      steady = now;
      // Exactly: parameters and buffers, one gradient and one momentum buffer per parameter.
      expect(now.liveTensors - empty.liveTensors, `${name}: live tensors after step 2`).toBe(state.length + 2 * params.length);
    }
    if (i > 1) {
      if (now.liveTensors !== steady!.liveTensors || now.liveBuffers !== steady!.liveBuffers || now.liveBytes !== steady!.liveBytes) {
        expect(now, `${name}: memory after step ${i + 1} differs from after step 2`).toEqual(steady);
      }
    }
    if (i === 10) {
      // The step's activations and temporaries sat on top of the steady level, then went back.
      const m = wg.memory();
      expect(m.peakLiveBytes, `${name}: peak live bytes of step 11`).toBeGreaterThan(m.liveBytes);
      expect(m.peakBytes).toBeGreaterThanOrEqual(m.peakLiveBytes);
    }
    if (i === 4) {
      await wg.sync();
      createdAfterWarmup = wg.memory().created;
    }
  }
  await wg.sync();
  expect(wg.memory().created, `${name}: GPU buffers created after warm-up`).toBe(createdAfterWarmup);
  opt.dispose();
  model.dispose();
  await wg.sync();
  expect(level(wg.memory()), `${name}: everything freed at the end`).toEqual(empty);
  return losses;
}

describe('memory stays flat while training', () => {
  it(`${STEPS} steps of cifarResnet(8) inside wg.scope`, async () => {
    const losses = await run('scoped', (model, opt, i) =>
      wg.scope(() => {
        const { x, y } = batch(i);
        opt.zeroGrad();
        const loss = F.crossEntropy(model.forward(x), y);
        loss.backward();
        opt.step();
        return loss;
      }),
    );
    expect(losses.every(Number.isFinite)).toBe(true);
  });

  it(`${STEPS} steps without wg.scope: disposing the loss, logits and batch frees the whole graph`, async () => {
    const losses = await run('manual', (model, opt, i) => {
      const { x, y } = batch(i);
      opt.zeroGrad();
      const logits = model.forward(x);
      const loss = F.crossEntropy(logits, y);
      loss.backward();
      opt.step();
      logits.dispose();
      x.dispose();
      y.dispose();
      return loss;
    });
    expect(losses.every(Number.isFinite)).toBe(true);
  });
});
