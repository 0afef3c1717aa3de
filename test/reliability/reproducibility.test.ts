// Reproducibility: the same seed on the same adapter gives bit-identical results.
//   - a short training run (5 SGD steps of a CIFAR ResNet-8 on random data), twice in one
//     process: identical loss bits at every step and identical parameters at the end;
//   - every reduction-heavy kernel, run twice on the same input, gives identical bits (the
//     kernels reduce in a fixed order; nothing accumulates with atomics, whose order would vary);
//   - and, as a static check, no WGSL kernel uses atomics at all.
import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';

useDevice();

const F = wg.F;

/** The raw bits of float32 values (so -0 vs 0 and NaN payloads count as differences). */
function bits(a: Float32Array | Int32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

async function train(seed: number): Promise<{ losses: number[]; params: number[][] }> {
  wg.manualSeed(seed);
  const model = wg.models.cifarResnet(8, { numClasses: 10 }).train();
  const opt = new wg.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4, nesterov: true });
  const x = wg.randn([4, 3, 16, 16]); // from the global generator, after the weights
  const y = wg.tensor(new Int32Array([3, 1, 4, 1]));
  const losses: number[] = [];
  for (let step = 0; step < 5; step++) {
    const loss = wg.scope(() => {
      opt.zeroGrad();
      const l = F.crossEntropy(model.forward(F.dropout(x, 0.1)), y, { labelSmoothing: 0.1 });
      l.backward();
      opt.step();
      return l;
    });
    losses.push(...bits(await loss.data()));
    loss.dispose();
  }
  const params: number[][] = [];
  for (const t of model.stateDict().values()) params.push(bits(await t.data()));
  opt.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
  return { losses, params };
}

describe('reproducibility', () => {
  it('same seed, same adapter: 5 SGD steps of cifarResnet(8) give bit-identical losses and weights', async () => {
    const a = await train(2024);
    const b = await train(2024);
    expect(b.losses).toEqual(a.losses);
    expect(new Set(a.losses).size).toBeGreaterThan(1); // it trained (the losses change)
    expect(b.params.length).toBe(a.params.length);
    a.params.forEach((p, i) => expect(b.params[i], `state-dict entry ${i}`).toEqual(p));
    // A different seed gives a different run (the seed is really used).
    const c = await train(7);
    expect(c.losses).not.toEqual(a.losses);
  });

  it('reduction-heavy ops give identical bits when run twice', async () => {
    const x = wg.randn([8, 16, 12, 12], { seed: 11, std: 3 });
    const w = wg.randn([24, 16, 3, 3], { seed: 12 });
    const gy = wg.randn([8, 24, 12, 12], { seed: 13 });
    const logits = wg.randn([64, 100], { seed: 14 });
    const labels = wg.tensor(Int32Array.from({ length: 64 }, (_, i) => (i * 37) % 100));
    const gamma = wg.randn([16], { seed: 15 });
    const beta = wg.randn([16], { seed: 16 });

    // Each run returns the tensors to compare (gradients as views, since the scope frees their leaves).
    const runs: Array<[string, () => wg.Tensor[]]> = [
      ['sum (all)', () => [x.sum()]],
      ['sum over N, H, W', () => [x.sum([0, 2, 3])]],
      ['mean / max over the last axis', () => [x.mean(-1), x.max(-1)]],
      ['softmax', () => [F.softmax(logits, 1)]],
      ['crossEntropy forward + backward', () => {
        const l = logits.detach();
        l.requiresGrad = true;
        const loss = F.crossEntropy(l, labels, { labelSmoothing: 0.1 });
        loss.backward();
        return [loss, l.grad!.detach()];
      }],
      ['batchNorm training (statistics, running stats, backward)', () => {
        const xi = x.detach();
        xi.requiresGrad = true;
        const g = gamma.detach();
        g.requiresGrad = true;
        const rm = wg.zeros([16]);
        const rv = wg.ones([16]);
        const y = F.batchNorm(xi, rm, rv, g, beta, { training: true, momentum: 0.1 });
        y.backward(gy.slice(1, 0, 16));
        return [y, rm, rv, xi.grad!.detach(), g.grad!.detach()];
      }],
      ['conv2d forward and backward (input, weight, bias)', () => {
        const xi = x.detach();
        xi.requiresGrad = true;
        const wi = w.detach();
        wi.requiresGrad = true;
        const b = wg.zeros([24], { requiresGrad: true });
        const y = F.conv2d(xi, wi, b, { padding: 1 });
        y.backward(gy);
        return [y, xi.grad!.detach(), wi.grad!.detach(), b.grad!.detach()];
      }],
      ['adaptiveAvgPool2d + linear backward (weight gradient sums over the batch)', () => {
        const fc = wg.randn([10, 16], { seed: 17, requiresGrad: true });
        const out = F.linear(F.adaptiveAvgPool2d(x, [1, 1]).flatten(1), fc);
        out.sum().backward();
        return [out, fc.grad!.detach()];
      }],
    ];
    const live = wg.memory().liveTensors;
    for (const [name, run] of runs) {
      const read = async () => {
        const ts = wg.scope(run);
        const out = [];
        for (const t of ts) out.push(bits(await t.data()));
        for (const t of ts) t.dispose();
        return out;
      };
      const a = await read();
      const b = await read();
      expect(b, name).toEqual(a);
    }
    expect(wg.memory().liveTensors).toBe(live);
    for (const t of [x, w, gy, logits, labels, gamma, beta]) t.dispose();
  });

  it('no WGSL kernel accumulates with atomics (their order, and so the rounding, would vary)', () => {
    const dir = fileURLToPath(new URL('../../src/kernels/wgsl/', import.meta.url));
    const users = readdirSync(dir)
      .filter((f) => f.endsWith('.wgsl'))
      .filter((f) => /\batomic(Add|Sub|Max|Min|And|Or|Xor|Exchange|CompareExchangeWeak|Store|Load)?\b|atomic</.test(readFileSync(dir + f, 'utf8').replace(/\/\/.*$/gm, '')));
    expect(users).toEqual([]);
  });
});
