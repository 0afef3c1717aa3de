// Layer forwards: each layer against a float64 host computation (or the functional op it wraps),
// BatchNorm2d's running statistics and num_batches_tracked, train/eval behaviour, the CIFAR
// option-A shortcut (forward and gradient), and that a block's forward frees its intermediates.
import { describe, it, expect, onTestFinished } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice, expectClose } from '../helpers.js';

useDevice();
const nn = wg.nn;

function hostRandom(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return Math.fround(s / 2147483648 * 2 - 1);
  });
}

describe('Linear, Flatten, Identity, Sequential', () => {
  it('Linear computes x W^T + b', async () => {
    const lin = new nn.Linear(5, 3);
    const xd = hostRandom(10, 1);
    const x = wg.tensor(xd, [2, 5]);
    const y = lin.forward(x);
    const w = await lin.weight.data();
    const b = await lin.bias!.data();
    const want: number[] = [];
    for (let n = 0; n < 2; n++) for (let o = 0; o < 3; o++) {
      let acc = b[o];
      for (let i = 0; i < 5; i++) acc += xd[n * 5 + i] * w[o * 5 + i];
      want.push(acc);
    }
    expectClose(await y.data(), want, 1e-5, 'linear');
    for (const t of [x, y]) t.dispose();
    lin.dispose();
  });

  it('Sequential chains its children; Flatten and Identity', async () => {
    const seq = new nn.Sequential(new nn.Flatten(), new nn.Identity(), new nn.ReLU());
    const x = wg.tensor([-1, 2, -3, 4, -5, 6, 7, -8], [2, 2, 2]);
    const y = seq.forward(x);
    expect(y.shape).toEqual([2, 4]);
    expect(Array.from(await y.data())).toEqual([0, 2, 0, 4, 0, 6, 7, 0]);
    for (const t of [x, y]) t.dispose();
  });

  it('Dropout drops only in training mode', async () => {
    const d = new nn.Dropout(0.5);
    const x = wg.ones([4000]);
    const yTrain = d.forward(x);
    const v = await yTrain.data();
    const zeros = v.filter((e) => e === 0).length;
    expect(zeros).toBeGreaterThan(1700);
    expect(zeros).toBeLessThan(2300);
    expect(v.every((e) => e === 0 || e === 2)).toBe(true);
    d.eval();
    const yEval = d.forward(x);
    expect((await yEval.data()).every((e) => e === 1)).toBe(true);
    for (const t of [x, yTrain, yEval]) t.dispose();
  });
});

describe('BatchNorm2d', () => {
  it('training normalises with batch statistics, updates running stats as torch, counts batches', async () => {
    const N = 2, C = 3, H = 2, W = 2;
    const bn = new nn.BatchNorm2d(C, { momentum: 0.2 });
    const xd = hostRandom(N * C * H * W, 7);
    const x = wg.tensor(xd, [N, C, H, W]);
    const y = bn.forward(x);
    const m = N * H * W;
    const mean = [0, 0, 0];
    const varB = [0, 0, 0];
    for (let c = 0; c < C; c++) {
      const vals: number[] = [];
      for (let n = 0; n < N; n++) for (let i = 0; i < H * W; i++) vals.push(xd[(n * C + c) * H * W + i]);
      mean[c] = vals.reduce((a, v) => a + v, 0) / m;
      varB[c] = vals.reduce((a, v) => a + (v - mean[c]) ** 2, 0) / m;
    }
    const want = Array.from(xd, (v, idx) => {
      const c = Math.floor(idx / (H * W)) % C;
      return (v - mean[c]) / Math.sqrt(varB[c] + 1e-5);
    });
    expectClose(await y.data(), want, 1e-4, 'bn train forward');
    expectClose(await bn.runningMean!.data(), mean.map((v) => 0.2 * v), 1e-5, 'running_mean');
    expectClose(await bn.runningVar!.data(), varB.map((v) => 0.8 + 0.2 * v * m / (m - 1)), 1e-5, 'running_var (unbiased)');
    expect(await bn.numBatchesTracked!.item()).toBe(1);
    const y2 = bn.forward(x);
    expect(await bn.numBatchesTracked!.item()).toBe(2);
    // Eval: running statistics are used and nothing is updated.
    bn.eval();
    const rm = Array.from(await bn.runningMean!.data());
    const rv = Array.from(await bn.runningVar!.data());
    const y3 = bn.forward(x);
    const wantEval = Array.from(xd, (v, idx) => {
      const c = Math.floor(idx / (H * W)) % C;
      return (v - rm[c]) / Math.sqrt(rv[c] + 1e-5);
    });
    expectClose(await y3.data(), wantEval, 1e-4, 'bn eval forward');
    expect(await bn.numBatchesTracked!.item()).toBe(2);
    expect(Array.from(await bn.runningMean!.data())).toEqual(rm);
    for (const t of [x, y, y2, y3]) t.dispose();
    bn.dispose();
  });

  it('without running statistics it always uses batch statistics', async () => {
    const bn = new nn.BatchNorm2d(2, { trackRunningStats: false, affine: false }).eval();
    const x = wg.tensor([1, 3, 10, 30, 5, 7, 50, 70], [2, 2, 2, 1]);
    const y = bn.forward(x);
    const d = await y.data();
    expect(Math.abs(d[0] + d[1] + d[4] + d[5])).toBeLessThan(1e-5);
    for (const t of [x, y]) t.dispose();
  });

  it('rejects inputs of the wrong rank or channel count, naming the layer', () => {
    const bn = new nn.BatchNorm2d(4);
    const x = wg.zeros([2, 3, 2, 2]);
    const v = wg.zeros([2, 4]);
    expect(() => bn.forward(x)).toThrow(/BatchNorm2d\(4\): input \[2, 3, 2, 2\] has 3 channels/);
    expect(() => bn.forward(v)).toThrow(/expected 4D input/);
    for (const t of [x, v]) t.dispose();
    bn.dispose();
  });
});

describe('pooling layers wrap the functional ops', () => {
  it('MaxPool2d, AvgPool2d, AdaptiveAvgPool2d', async () => {
    const x = wg.tensor(hostRandom(2 * 3 * 6 * 6, 3), [2, 3, 6, 6]);
    const pairs: [wg.nn.Module, () => wg.Tensor][] = [
      [new nn.MaxPool2d(3, { stride: 2, padding: 1 }), () => wg.F.maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 })],
      [new nn.AvgPool2d(2), () => wg.F.avgPool2d(x, { kernelSize: 2 })],
      [new nn.AdaptiveAvgPool2d(1), () => wg.F.adaptiveAvgPool2d(x, [1, 1])],
    ];
    for (const [layer, fn] of pairs) {
      const a = layer.forward(x);
      const b = fn();
      expect(a.shape).toEqual(b.shape);
      expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
      a.dispose();
      b.dispose();
    }
    x.dispose();
  });
});

describe('CIFAR option-A shortcut', () => {
  // fused: one-pass kernels (shortcut_a_forward/backward.wgsl; 4 values per invocation where
  // W % 8 == 0 forward, W % 4 == 0 backward); unfused: views + cat. Odd and even heights.
  const cases: [boolean, number[]][] = [true, false].flatMap((fused) => [[2, 4, 4, 3], [2, 4, 5, 8], [1, 4, 6, 4], [1, 4, 3, 16]].map((s) => [fused, s] as [boolean, number[]]));
  it.each(cases)('subsamples by 2 and zero-pads planes/4 channels on each side; gradient flows to the kept pixels (fused %s, x %j)', async (fused, shape) => {
    const old = wg.models.setFusion(fused);
    onTestFinished(() => { wg.models.setFusion(old); });
    const [N, C, H, W] = shape;
    const planes = 8;
    const xd = hostRandom(N * C * H * W, 11);
    const x = wg.tensor(xd, [N, C, H, W], { requiresGrad: true });
    const sc = new wg.models.ShortcutA(planes);
    const y = sc.forward(x);
    const Ho = Math.ceil(H / 2), Wo = Math.ceil(W / 2), Co = C + 2 * (planes / 4);
    expect(y.shape).toEqual([N, Co, Ho, Wo]);
    const want: number[] = [];
    const source: number[] = [];   // the y index each x element feeds, or -1
    for (let i = 0; i < xd.length; i++) source.push(-1);
    for (let n = 0; n < N; n++) for (let c = 0; c < Co; c++) for (let h = 0; h < Ho; h++) for (let w = 0; w < Wo; w++) {
      const ci = c - planes / 4;
      const inside = ci >= 0 && ci < C;
      const at = ((n * C + ci) * H + 2 * h) * W + 2 * w;
      if (inside) source[at] = want.length;
      want.push(inside ? xd[at] : 0);
    }
    expect(Array.from(await y.data())).toEqual(want.map(Math.fround));
    const r = hostRandom(want.length, 12);
    wg.scope(() => y.mul(wg.tensor(r, y.shape)).sum().backward());
    const g = await x.grad!.data();
    expect(Array.from(g)).toEqual(source.map((o) => (o < 0 ? 0 : Math.fround(r[o]))));
    for (const t of [x, y]) t.dispose();
  });
});

describe('Conv2d and residual blocks', () => {
  it('Conv2d forwards to F.conv2d with its stored options', async () => {
    const conv = new nn.Conv2d(4, 6, 3, { stride: 2, padding: 1, groups: 2 });
    const x = wg.tensor(hostRandom(2 * 4 * 7 * 7, 5), [2, 4, 7, 7]);
    const a = conv.forward(x);
    const b = wg.F.conv2d(x, conv.weight, conv.bias!, { stride: 2, padding: 1, groups: 2 });
    expect(a.shape).toEqual([2, 6, 4, 4]);
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    for (const t of [x, a, b]) t.dispose();
    conv.dispose();
  });

  it('a BasicBlock forward frees its intermediates; training keeps only the graph alive', async () => {
    const block = new wg.models.BasicBlock(8, 16, 2, new nn.Sequential(wg.models.conv1x1(8, 16, 2), new nn.BatchNorm2d(16)));
    const x = wg.tensor(hostRandom(2 * 8 * 6 * 6, 9), [2, 8, 6, 6]);
    block.eval();
    const before = wg.memory().liveTensors;
    const y = wg.noGrad(() => block.forward(x));
    expect(y.shape).toEqual([2, 16, 3, 3]);
    // y, plus for each of the three convs, kept for the next inference pass: its weights and bias
    // with the batch norm folded in (src/nn/fold-batch-norm.ts) and their packed copy
    // (test/kernels/conv2d.test.ts). A second pass adds only its output; wg.emptyCache() drops them.
    expect(wg.memory().liveTensors).toBe(before + 10);
    wg.noGrad(() => block.forward(x)).dispose();
    expect(wg.memory().liveTensors).toBe(before + 10);
    wg.emptyCache();
    expect(wg.memory().liveTensors).toBe(before + 1);
    y.dispose();
    block.train();
    const out = block.forward(x);
    const loss = out.sum();
    loss.backward();
    expect(block.parameters().every((p) => p.grad !== null)).toBe(true);
    out.dispose();
    loss.dispose();
    block.zeroGrad();
    expect(wg.memory().liveTensors).toBe(before);
    x.dispose();
    block.dispose();
  });
});
