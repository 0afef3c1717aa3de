// Fused optimizers (`fused: true`, src/nn/optim/flat.ts): a group's parameters, gradients and
// state in arenas, one dispatch per step. Checked against the unfused optimizers, which the PyTorch
// fixtures check (test/nn/optim.test.ts): bit-identical parameters over several steps, one update
// dispatch, the forward and backward kernels reading parameters from their ranges of the arena
// (a small CNN trained both ways), steps where some parameters have no gradient, grads
// accumulated over two backward passes, state save/load, steady memory, argument errors.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';

useDevice();

type Opts = Record<string, any>;
const configs: Array<[string, Opts]> = [
  ['sgd', { lr: 0.1 }],
  ['sgd', { lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0.01 }],
  ['sgd', { lr: 0.05, momentum: 0.9, nesterov: true, maximize: true }],
  ['adam', { lr: 0.01, betas: [0.8, 0.95], eps: 1e-6, weightDecay: 0.02, amsgrad: true }],
  ['adamw', { lr: 0.01, weightDecay: 0.05, maximize: true }],
];

function makeOptimizer(kind: string, params: Iterable<wg.Tensor>, o: Opts, fused: boolean): wg.optim.Optimizer<any> {
  if (kind === 'sgd') return new wg.optim.SGD(params, { ...o, lr: o.lr, fused });
  return new (kind === 'adam' ? wg.optim.Adam : wg.optim.AdamW)(params, { ...o, fused });
}

function stream(seed: number): () => number {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  return () => (u() + u() + u() + u() - 2) * 1.7;
}

const updateLabel = (kind: string) => (kind === 'sgd' ? 'sgd_update' : 'adam_update');

describe('fused optimizers: one dispatch over the arenas', () => {
  // Odd sizes (tails of 1-3 floats, a slot of exactly 64, one just past it), a 2-D parameter, and a
  // parameter that has no gradient in step 2 (so that step falls back to per-slot updates).
  const shapes = [[1], [7], [64], [65], [3, 50], [70000]];

  async function run(kind: string, o: Opts, fused: boolean): Promise<{ values: number[][]; dispatches: number[] }> {
    const rnd = stream(11);
    const params = shapes.map((s) => wg.tensor(Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, rnd), s, { requiresGrad: true }));
    const opt = makeOptimizer(kind, params, o, fused);
    const dispatches: number[] = [];
    for (let step = 0; step < 4; step++) {
      params.forEach((p, i) => {
        if (step === 2 && i === 1) return; // no gradient for this one this step
        p.grad = wg.tensor(Float32Array.from({ length: p.size }, rnd), p.shape);
      });
      const prof = await wg.profile(() => opt.step());
      dispatches.push(prof.find((r) => r.label === updateLabel(kind))?.count ?? 0);
      opt.zeroGrad();
    }
    const values = await Promise.all(params.map(async (p) => [...(await p.data())]));
    opt.dispose();
    params.forEach((p) => p.dispose());
    return { values, dispatches };
  }

  for (const [kind, o] of configs) {
    it(`matches the unfused update bit for bit: ${kind} ${JSON.stringify(o)}`, async () => {
      const plain = await run(kind, o, false);
      const fused = await run(kind, o, true);
      expect(fused.values).toEqual(plain.values);
      expect(fused.dispatches[0]).toBe(1);
      expect(fused.dispatches[1]).toBe(1);
      // Step 2: parameter 1 has no gradient, so the update goes slot by slot (one parameter per
      // arena per dispatch). Adam's step 3 also: parameter 1 is a step behind (other bias corrections).
      expect(fused.dispatches[2]).toBe(shapes.length - 1);
      expect(fused.dispatches[3]).toBe(kind === 'sgd' ? 1 : shapes.length);
    });
  }
});

/** A small CNN with batch norm, a bias, a linear layer: parameters read by many kinds of kernel. */
function smallNet(): wg.nn.Module {
  const nn = wg.nn;
  return new nn.Sequential(
    new nn.Conv2d(3, 8, 3, { padding: 1 }),
    new nn.BatchNorm2d(8),
    new nn.ReLU(),
    new nn.Conv2d(8, 16, 3, { stride: 2, padding: 1, bias: false }),
    new nn.BatchNorm2d(16),
    new nn.ReLU(),
    new nn.AdaptiveAvgPool2d(1),
    new nn.Flatten(),
    new nn.Linear(16, 5),
  );
}

async function trainSmallNet(fused: boolean, accumulate: boolean): Promise<{ params: number[][]; losses: number[]; liveBytes: number[] }> {
  wg.manualSeed(3);
  const net = smallNet();
  const opt = new wg.optim.SGD(net.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, fused });
  const rnd = stream(4);
  const x = wg.tensor(Float32Array.from({ length: 4 * 3 * 8 * 8 }, rnd), [4, 3, 8, 8]);
  const y = wg.tensor([0, 3, 1, 4], [4], { dtype: 'int32' });
  const losses: number[] = [];
  const liveBytes: number[] = [];
  for (let step = 0; step < 5; step++) {
    const loss = wg.scope(() => {
      opt.zeroGrad();
      let l = wg.nn.functional.crossEntropy(net.forward(x), y);
      l.backward();
      if (accumulate) {
        const again = wg.nn.functional.crossEntropy(net.forward(x), y);
        again.backward(); // grads now hold the sum of two passes
        l = l.add(again);
      }
      opt.step();
      return l.keep();
    });
    losses.push((await loss.data())[0]);
    loss.dispose();
    liveBytes.push(wg.memory().liveBytes);
  }
  const params = await Promise.all(net.parameters().map(async (p) => [...(await p.data())]));
  opt.dispose();
  net.dispose();
  x.dispose();
  y.dispose();
  return { params, losses, liveBytes };
}

describe('fused optimizers in training', () => {
  for (const accumulate of [false, true]) {
    it(`trains a small CNN exactly as the unfused optimizer does${accumulate ? ' (gradients accumulated over two passes)' : ''}`, async () => {
      const plain = await trainSmallNet(false, accumulate);
      const fused = await trainSmallNet(true, accumulate);
      expect(fused.losses).toEqual(plain.losses);
      expect(fused.params).toEqual(plain.params);
      expect(fused.losses[4]).toBeLessThan(fused.losses[0]); // it learns
      // Flat memory: from the second step on, nothing grows.
      expect(new Set(fused.liveBytes.slice(1)).size).toBe(1);
    });
  }

  it('a fused step inside wg.warmup (no kernel runs there) leaves training exactly as the unfused optimizer trains', async () => {
    async function run(fused: boolean): Promise<number[][]> {
      wg.manualSeed(3);
      const net = smallNet();
      const opt = new wg.optim.SGD(net.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, fused });
      const x = wg.randn([4, 3, 8, 8], { seed: 8 });
      const y = wg.tensor([0, 3, 1, 4], [4], { dtype: 'int32' });
      const step = () => wg.scope(() => {
        opt.zeroGrad();
        wg.nn.functional.crossEntropy(net.forward(x), y).backward();
        opt.step();
      });
      await wg.warmup(step); // a fused optimizer lays out (and zeroes) its arenas here
      for (let i = 0; i < 3; i++) step();
      const params = await Promise.all(net.parameters().map(async (p) => [...(await p.data())]));
      opt.dispose();
      net.dispose();
      x.dispose();
      y.dispose();
      return params;
    }
    expect(await run(true)).toEqual(await run(false));
  });

  it('puts each parameter in its range of one buffer, 256-byte aligned, and keeps p.grad there', async () => {
    const net = smallNet();
    const opt = new wg.optim.SGD(net.parameters(), { lr: 0.01, fused: true });
    const x = wg.randn([2, 3, 8, 8]);
    const before = await net.forward(x).data();
    wg.scope(() => net.forward(x).sum().backward());
    opt.step();
    const refs = net.parameters().map((p) => p.buffer as GPUBufferBinding);
    expect(new Set(refs.map((r) => r.buffer)).size).toBe(1);
    expect(refs.every((r) => r.offset! % 256 === 0)).toBe(true);
    const grads = net.parameters().map((p) => p.grad!.buffer as GPUBufferBinding);
    expect(new Set(grads.map((r) => r.buffer)).size).toBe(1);
    expect(grads.map((g) => g.offset)).toEqual(refs.map((r) => r.offset));
    // The update moved the parameters: the forward pass reads the arena, not the old buffers.
    const after = await net.forward(x).data();
    expect([...after]).not.toEqual([...before]);
    // The next backward pass stores the convolution and batch-norm gradients straight into their
    // slots (no copy at the step); the linear layer's come from matmul and add, which take no
    // offer, and are copied in by the step.
    opt.zeroGrad();
    wg.scope(() => net.forward(x).sum().backward());
    const inSlot = [...net.namedParameters()].map(([name, p]) => {
      const g = p.grad!.buffer as GPUBufferBinding;
      return [name, g.buffer === grads[0].buffer && g.offset === (p.buffer as GPUBufferBinding).offset];
    });
    expect(inSlot.filter(([, ok]) => ok).map(([n]) => n)).toEqual([...net.namedParameters()].map(([n]) => n).filter((n) => !n.startsWith('8.')));
    opt.dispose();
    x.dispose();
  });
});

describe('parameters in an arena', () => {
  it('save, load, initialise and copy like parameters of their own', async () => {
    wg.manualSeed(5);
    const net = smallNet();
    const opt = new wg.optim.SGD(net.parameters(), { lr: 0.1, momentum: 0.9, fused: true });
    const x = wg.randn([2, 3, 8, 8], { seed: 3 });
    wg.scope(() => net.forward(x).sum().backward());
    opt.step(); // the parameters now live in the arena
    const expected = await net.forward(x).data();
    // Saved through safetensors (reads each range) and loaded into a fresh, unfused model.
    const bytes = await wg.io.serializeSafetensors(net.stateDict());
    const copy = smallNet();
    const loaded = await wg.io.loadSafetensors(bytes);
    copy.loadStateDict(loaded);
    for (const t of loaded.values()) t.dispose();
    expect([...(await copy.forward(x).data())]).toEqual([...expected]);
    // Loaded the other way: into the ranges of the arena, in place.
    const other = smallNet();
    net.loadStateDict(other.stateDict());
    expect([...(await net.forward(x).data())]).toEqual([...(await other.forward(x).data())]);
    // An initialiser writes into the range, not over its neighbours.
    const [w0, b0] = net.parameters();
    const neighbour = [...(await b0.data())];
    wg.nn.init.zeros_(w0);
    expect([...(await w0.data())].every((v) => v === 0)).toBe(true);
    expect([...(await b0.data())]).toEqual(neighbour);
    // A copy between two ranges of one buffer (WebGPU forbids a buffer-to-buffer copy within
    // one buffer, and a dispatch that reads one range while it writes another).
    const [, , bn1w, bn1b] = net.parameters();
    const before = [...(await bn1b.data())];
    const { copyInto } = await import('../../src/kernels/copy.js');
    copyInto(bn1b, { buffer: bn1w.buffer, offset: 0, strides: [1] });
    expect([...(await bn1w.data())]).toEqual(before);
    opt.dispose();
    [net, copy, other].forEach((m) => m.dispose());
    x.dispose();
  });
});

describe('a fused group whose parameter list changes', () => {
  for (const kind of ['sgd', 'adam']) {
    it(`lays its arenas out again and matches the unfused update (${kind})`, async () => {
      async function run(fused: boolean): Promise<number[][]> {
        const rnd = stream(21);
        const make = (n: number) => wg.tensor(Float32Array.from({ length: n }, rnd), [n], { requiresGrad: true });
        const params = [make(5), make(70)];
        const late = make(9);
        const opt = makeOptimizer(kind, params, kind === 'sgd' ? { lr: 0.1, momentum: 0.9 } : { lr: 0.01 }, fused);
        for (let step = 0; step < 4; step++) {
          if (step === 2) opt.paramGroups[0].params.push(late); // a step behind the others from here
          for (const p of opt.paramGroups[0].params) p.grad = wg.tensor(Float32Array.from({ length: p.size }, rnd), p.shape);
          opt.step();
          opt.zeroGrad();
        }
        const values = await Promise.all([...params, late].map(async (p) => [...(await p.data())]));
        opt.dispose();
        [...params, late].forEach((p) => p.dispose());
        return values;
      }
      expect(await run(true)).toEqual(await run(false));
    });
  }
});

describe('fused optimizer state', () => {
  it('saves and loads like the unfused one: a loaded optimizer continues bit for bit', async () => {
    const rnd = stream(9);
    const make = () => [wg.tensor(Float32Array.from({ length: 10 }, rnd), [10], { requiresGrad: true }), wg.tensor(Float32Array.from({ length: 130 }, rnd), [13, 10], { requiresGrad: true })];
    const grads = Array.from({ length: 4 }, () => [Float32Array.from({ length: 10 }, rnd), Float32Array.from({ length: 130 }, rnd)]);
    const stepWith = (opt: wg.optim.Optimizer<any>, params: wg.Tensor[], g: Float32Array[]) => {
      params.forEach((p, i) => { p.grad = wg.tensor(g[i], p.shape); });
      opt.step();
      opt.zeroGrad();
    };
    const a = make();
    const optA = new wg.optim.Adam(a, { lr: 0.01, fused: true });
    for (const g of grads.slice(0, 2)) stepWith(optA, a, g);
    const saved = optA.stateDict();
    expect(saved.groups[0].fused).toBe(true);
    // b: the same parameters, loaded into a fresh fused optimizer (its states come in as copies
    // and are moved into the arena at the next step).
    const bValues = await Promise.all(a.map((t) => t.data()));
    const b2 = bValues.map((v, i) => wg.tensor(v, a[i].shape, { requiresGrad: true }));
    const optB = new wg.optim.Adam(b2, { lr: 0.01, fused: true });
    optB.loadStateDict(saved);
    for (const t of saved.state.values()) t.dispose();
    for (const g of grads.slice(2)) {
      stepWith(optA, a, g);
      stepWith(optB, b2, g);
    }
    for (let i = 0; i < a.length; i++) expect([...(await b2[i].data())]).toEqual([...(await a[i].data())]);
    optA.dispose();
    optB.dispose();
    [...a, ...b2].forEach((t) => t.dispose());
  });

  it('rejects a fused option that is not a boolean', () => {
    const p = wg.tensor([1, 2], undefined, { requiresGrad: true });
    expect(() => new wg.optim.SGD([p], { lr: 0.1, fused: 1 as unknown as boolean })).toThrow(/SGD: .*fused must be booleans/);
    expect(() => new wg.optim.AdamW([p], { fused: 'yes' as unknown as boolean })).toThrow(/AdamW: .*fused must be booleans/);
    p.dispose();
  });
});
