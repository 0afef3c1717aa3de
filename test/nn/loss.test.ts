// softmax, logSoftmax, crossEntropy, linear, relu: PyTorch fixtures (forward 1e-4, grads 1e-3 of
// the largest magnitude), the float64 references on larger and wide shapes, finite differences
// of the references (gradcheck), label checks (dtype/shape before dispatch, range at the next
// sync), ignoreIndex, and memory.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice, loadFixtures, fromFixture, expectTensorClose, expectClose, FORWARD_TOL, GRAD_TOL, type FixtureCase } from '../helpers.js';
import { gradcheck, hostRandom, randomArray } from '../gradcheck.js';
import { softmaxRef, softmaxBackwardRef } from '../../src/kernels/reference/softmax.js';
import { crossEntropyRef, crossEntropyBackwardRef } from '../../src/kernels/reference/cross-entropy.js';
import { numel } from '../../src/tensor/shape.js';
import { commands } from '../../src/tensor/queue.js';

useDevice();
const F = wg.nn.functional;
const rnd = hostRandom(2024);
type Inputs = Record<string, wg.Tensor>;
const O = (c: FixtureCase) => c.options as Record<string, any>;

const ops: Record<string, (i: Inputs, c: FixtureCase) => wg.Tensor> = {
  softmax: (i, c) => F.softmax(i.x, O(c).dim),
  logSoftmax: (i, c) => F.logSoftmax(i.x, O(c).dim),
  crossEntropy: (i, c) => F.crossEntropy(i.logits, i.labels, { labelSmoothing: O(c).labelSmoothing, reduction: O(c).reduction }),
  linear: (i) => F.linear(i.x, i.w, i.b),
};

describe('loss-group ops vs PyTorch fixtures', () => {
  for (const c of loadFixtures('loss')) {
    it(c.name, async () => {
      const inputs: Inputs = {};
      for (const [k, v] of Object.entries(c.inputs)) inputs[k] = fromFixture(v, k in c.grads);
      const y = ops[c.op](inputs, c);
      await expectTensorClose(y, c.outputs.y, FORWARD_TOL, `${c.name} forward`);
      const gy = fromFixture(c.gradOutput!);
      y.backward(gy);
      for (const [k, g] of Object.entries(c.grads)) await expectTensorClose(inputs[k].grad!, g, GRAD_TOL, `${c.name} grad ${k}`);
      for (const t of [...Object.values(inputs), y, gy]) t.dispose();
    });
  }
});

describe('softmax / logSoftmax vs the float64 reference', () => {
  // [shape, dim]: last dim, middle dim (4 lines per lane: inner % 4 == 0), first dim (likewise),
  // wide lines (one workgroup per line), middle dim with inner 3, 1-D, rows of whole vec4s (vec4
  // loads along the line).
  const cases: [number[], number][] = [[[7, 33], 1], [[3, 5, 4, 2], 1], [[6, 4], 0], [[3, 1000], -1], [[2, 300, 3], 1], [[17], 0], [[5, 12], -1], [[4, 8, 16], 2]];
  for (const log of [false, true]) {
    for (const [shape, dim] of cases) {
      it(`${log ? 'logSoftmax' : 'softmax'} ${JSON.stringify(shape)} dim ${dim}`, async () => {
        const data = randomArray(numel(shape), rnd, -8, 8);
        const x = wg.tensor(data, shape, { requiresGrad: true });
        const y = log ? F.logSoftmax(x, dim) : F.softmax(x, dim);
        const d = dim < 0 ? dim + shape.length : dim;
        const yRef = softmaxRef(data, shape, d, log);
        expectClose(await y.data(), yRef, FORWARD_TOL, 'y');
        const gyData = randomArray(y.size, rnd);
        const gy = wg.tensor(gyData, shape);
        y.backward(gy);
        expectClose(await x.grad!.data(), softmaxBackwardRef(gyData, yRef, shape, d, log), GRAD_TOL, 'dx');
        for (const t of [x, y, gy]) t.dispose();
      });
    }
  }

  it('handles -inf entries (masks) and huge logits without NaN', async () => {
    const I = -Infinity;
    const x = wg.tensor([I, 0, 1, I, 1e30, 1e30, -1e30, 0], [2, 4]);
    const y = F.softmax(x, 1);
    const l = F.logSoftmax(x, 1);
    expectClose(await y.data(), softmaxRef([I, 0, 1, I, 1e30, 1e30, -1e30, 0], [2, 4], 1), 1e-6, 'softmax');
    const lv = await l.data();
    expect(lv[0]).toBe(-Infinity);
    expect(Array.from(lv).slice(4, 6).map((v) => Math.abs(v - -Math.LN2) < 1e-6)).toEqual([true, true]);
    for (const t of [x, y, l]) t.dispose();
    // The same along a first axis with 4 values per line (four lines per lane) and in rows of 8
    // (vec4 loads along the line).
    const xt = wg.tensor([I, 1e30, 0, 1e30, 1, -1e30, I, 0], [2, 4]);
    const yt = F.softmax(xt, 0);
    expectClose(await yt.data(), softmaxRef([I, 1e30, 0, 1e30, 1, -1e30, I, 0], [2, 4], 0), 1e-6, 'softmax, dim 0');
    const x8 = wg.tensor([I, 0, 1, I, 1e30, 1e30, -1e30, 0], [1, 8]);
    const y8 = F.softmax(x8, 1);
    expectClose(await y8.data(), softmaxRef([I, 0, 1, I, 1e30, 1e30, -1e30, 0], [1, 8], 1), 1e-6, 'softmax, rows of 8');
    for (const t of [xt, yt, x8, y8]) t.dispose();
  });
});

describe('crossEntropy vs the float64 reference', () => {
  const configs: [number, number, wg.F.CrossEntropyOptions][] = [
    [37, 10, { reduction: 'mean' }],
    [37, 10, { reduction: 'sum', labelSmoothing: 0.2 }],
    [300, 7, { reduction: 'none', labelSmoothing: 0.05 }],
    [8, 1000, { reduction: 'mean', labelSmoothing: 0.1 }],
    [20, 6, { reduction: 'mean', labelSmoothing: 0.1, ignoreIndex: -100 }],
    [20, 6, { reduction: 'sum', ignoreIndex: 2 }],
    [20, 6, { reduction: 'none', ignoreIndex: 2 }],
  ];
  for (const [N, C, o] of configs) {
    it(`[${N}, ${C}] ${JSON.stringify(o)}`, async () => {
      const data = randomArray(N * C, rnd, -6, 6);
      const labels = Array.from({ length: N }, (_, n) => (o.ignoreIndex !== undefined && n % 4 === 1 ? o.ignoreIndex : Math.floor(rnd() * C)));
      const x = wg.tensor(data, [N, C], { requiresGrad: true });
      const t = wg.tensor(Int32Array.from(labels), [N]);
      const y = F.crossEntropy(x, t, o);
      expectClose(await y.data(), crossEntropyRef(data, labels, N, C, o), FORWARD_TOL, 'loss');
      const gyData = o.reduction === 'none' ? randomArray(N, rnd) : [0.7];
      const gy = wg.tensor(gyData, [...y.shape]);
      y.backward(gy);
      expectClose(await x.grad!.data(), crossEntropyBackwardRef(gyData, data, labels, N, C, o), GRAD_TOL, 'dlogits');
      for (const v of [x, t, y, gy]) v.dispose();
    });
  }

  it('matches PyTorch 1.13 for labelSmoothing with ignored rows (mean over rows not ignored)', async () => {
    // Expected value from torch 1.13 in float64 on these float32 inputs:
    //   F.cross_entropy(x.view(3, 5), torch.tensor([0, 3, 1]), ignore_index=0, label_smoothing=0.1)
    const x = [0.5, -1.2, 0.3, 2.0, -0.7, 1.1, 0.0, -0.4, 0.9, 0.2, -2.0, 1.5, 0.6, -0.1, 0.8];
    const labels = [0, 3, 1];
    const ref = crossEntropyRef(x.map(Math.fround), labels, 3, 5, { ignoreIndex: 0, labelSmoothing: 0.1 });
    const y = F.crossEntropy(wg.tensor(x, [3, 5]), wg.tensor(Int32Array.from(labels), [3]), { ignoreIndex: 0, labelSmoothing: 0.1 });
    expectClose(await y.data(), ref, 1e-6, 'loss');
    expect(ref[0]).toBeCloseTo(1.0847511368618274, 12);
    expectClose(await y.data(), [1.0847511368618274], 1e-6, 'loss vs torch');
    y.dispose();
  });
});

describe('gradients vs finite differences of the float64 references', () => {
  // Central differences (eps 1e-6) of the float64 reference forward; GPU grads within 1e-3.
  for (const [shape, dim] of [[[3, 5], 1], [[2, 3, 4], 1], [[4, 3], 0]] as [number[], number][]) {
    for (const log of [false, true]) {
      it(`${log ? 'logSoftmax' : 'softmax'} ${JSON.stringify(shape)} dim ${dim}`, () =>
        gradcheck({
          name: log ? 'logSoftmax' : 'softmax',
          inputs: [{ shape, data: randomArray(numel(shape), rnd, -2, 2) }],
          gpu: ([x]) => (log ? F.logSoftmax(x, dim) : F.softmax(x, dim)),
          ref: ([x]) => softmaxRef(x, shape, dim, log),
        }));
    }
  }
  for (const o of [{ reduction: 'mean' }, { reduction: 'sum', labelSmoothing: 0.3 }, { reduction: 'none', labelSmoothing: 0.1, ignoreIndex: 1 }] as wg.F.CrossEntropyOptions[]) {
    it(`crossEntropy ${JSON.stringify(o)}`, () => {
      const labels = [2, 1, 0, 4, 1];
      return gradcheck({
        name: 'crossEntropy',
        inputs: [{ shape: [5, 5], data: randomArray(25, rnd, -2, 2) }],
        gpu: ([x]) => {
          const t = wg.tensor(Int32Array.from(labels), [5]);
          const y = F.crossEntropy(x, t, o);
          t.dispose();
          return y;
        },
        ref: ([x]) => crossEntropyRef(x, labels, 5, 5, o),
      });
    });
  }
  it('linear x[2,3,4] w[5,4] b[5]', () =>
    gradcheck({
      name: 'linear',
      inputs: [{ shape: [2, 3, 4], data: randomArray(24, rnd) }, { shape: [5, 4], data: randomArray(20, rnd) }, { shape: [5], data: randomArray(5, rnd) }],
      gpu: ([x, w, b]) => F.linear(x, w, b),
      ref: ([x, w, b]) => {
        const y = new Float64Array(6 * 5);
        for (let r = 0; r < 6; r++) for (let o = 0; o < 5; o++) {
          let s = b[o];
          for (let i = 0; i < 4; i++) s += x[r * 4 + i] * w[o * 4 + i];
          y[r * 5 + o] = s;
        }
        return y;
      },
    }));
  it('relu', () =>
    gradcheck({
      name: 'relu',
      inputs: [{ shape: [4, 5], data: randomArray(20, rnd).map((v) => (Math.abs(v) < 0.05 ? 0.5 : v)) }],
      gpu: ([x]) => F.relu(x),
      ref: ([x]) => x.map((v) => Math.max(v, 0)),
    }));
});

describe('argument checks', () => {
  it('crossEntropy rejects float labels and shape mismatches before dispatch', async () => {
    const logits = wg.zeros([4, 3]);
    const floatLabels = wg.zeros([4]);
    const labels = wg.zeros([4], { dtype: 'int32' });
    const labels5 = wg.zeros([5], { dtype: 'int32' });
    const labels41 = wg.zeros([4, 1], { dtype: 'int32' });
    const logits3d = wg.zeros([4, 3, 2]);
    await wg.sync();
    const cases: [() => unknown, RegExp][] = [
      [() => F.crossEntropy(logits, floatLabels), /crossEntropy: labels must be int32 .*float32.*logits \[4, 3\] and labels \[4\]/],
      [() => F.crossEntropy(logits, labels5), /crossEntropy: expected labels of shape \[4\].*labels \[5\]/],
      [() => F.crossEntropy(logits, labels41), /crossEntropy: expected labels of shape \[4\]/],
      [() => F.crossEntropy(logits3d, labels), /crossEntropy: expected logits of shape \[N, C\].*\[4, 3, 2\]/],
      [() => F.crossEntropy(logits, labels, { labelSmoothing: 1.5 }), /crossEntropy: labelSmoothing/],
      [() => F.crossEntropy(logits, labels, { reduction: 'avg' as any }), /crossEntropy: reduction/],
      [() => F.crossEntropy(logits, labels, { ignoreIndex: 0.5 }), /crossEntropy: ignoreIndex/],
      [() => F.crossEntropy(logits, labels, { weight: logits } as any), /crossEntropy: unknown or unsupported option 'weight'/],
    ];
    for (const [f, re] of cases) {
      expect(f).toThrow(wg.OpArgumentError);
      expect(f).toThrow(re);
    }
    expect(commands().pending, 'nothing was dispatched').toBe(false);
    for (const t of [logits, floatLabels, labels, labels5, labels41, logits3d]) t.dispose();
  });

  it('crossEntropy reports out-of-range labels at the next sync, naming the shapes and the first bad row', async () => {
    const logits = wg.randn([6, 5], { seed: 2 });
    const labels = wg.tensor(Int32Array.from([0, 4, 7, 1, -1, 2]), [6]);
    const y = F.crossEntropy(logits, labels);
    await expect(y.data()).rejects.toThrow(wg.OpArgumentError);
    // Reported once; the device keeps working.
    const ok = F.crossEntropy(logits, wg.tensor(Int32Array.from([0, 4, 3, 1, 0, 2]), [6]));
    expect(Number.isFinite(await ok.item())).toBe(true);
    const again = F.crossEntropy(logits, labels, { reduction: 'none' });
    await expect(wg.sync()).rejects.toThrow(/crossEntropy: 2 label\(s\) outside \[0, 5\) for logits \[6, 5\] and labels \[6\]; the first is 7 at row 2/);
    for (const t of [logits, labels, y, ok, again]) t.dispose();
  });

  it('a crossEntropy recorded while a read is in flight is checked without GPU errors', async () => {
    const logits = wg.randn([4, 3], { seed: 9 });
    const good = wg.tensor(Int32Array.from([0, 1, 2, 1]), [4]);
    const bad = wg.tensor(Int32Array.from([0, 3, 2, 1]), [4]);
    const y1 = F.crossEntropy(logits, bad);
    const pending = y1.data(); // submits y1's batch, then waits for the GPU
    const y2 = F.crossEntropy(logits, good); // recorded into the next, unsubmitted batch
    await expect(pending).rejects.toThrow(/crossEntropy: 1 label\(s\) outside \[0, 3\).*the first is 3 at row 1/);
    expect(Number.isFinite(await y2.item())).toBe(true);
    await wg.sync();
    for (const t of [logits, good, bad, y1, y2]) t.dispose();
  });

  it('softmax, linear and dropout reject bad arguments before dispatch', async () => {
    const x = wg.zeros([2, 3]);
    const w42 = wg.zeros([4, 2]);
    const w3 = wg.zeros([3]);
    const w43 = wg.zeros([4, 3]);
    await wg.sync();
    const cases: [() => unknown, RegExp][] = [
      [() => F.softmax(x, 2), /softmax: dim 2 is out of range for input \[2, 3\]/],
      [() => F.logSoftmax(x, -3), /logSoftmax: dim -3 is out of range/],
      [() => F.linear(x, w42), /linear: the last dimension of x must equal in = 2.*x \[2, 3\], w \[4, 2\]/],
      [() => F.linear(x, w3), /linear: expected a weight of shape \[out, in\]/],
      [() => F.linear(x, w43, w3), /linear: expected a bias of shape \[4\]/],
      [() => F.dropout(x, 1.5, true), /dropout: p must be a probability in \[0, 1\], got 1.5 \(input \[2, 3\]\)/],
    ];
    for (const [f, re] of cases) {
      expect(f).toThrow(wg.OpArgumentError);
      expect(f).toThrow(re);
    }
    expect(commands().pending, 'nothing was dispatched').toBe(false);
    for (const t of [x, w42, w3, w43]) t.dispose();
  });
});

describe('memory', () => {
  it('softmax, crossEntropy and linear leave no tensors or buffers behind', async () => {
    const x = wg.randn([8, 10], { seed: 4 });
    x.requiresGrad = true;
    const w = wg.randn([6, 10], { seed: 5 });
    w.requiresGrad = true;
    const labels = wg.tensor(Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), [8]);
    await wg.sync();
    const before = wg.memory();
    const runs = [
      () => F.softmax(x, 0).sum(),
      () => F.logSoftmax(x, 1).sum(),
      () => F.crossEntropy(x, labels, { labelSmoothing: 0.1 }),
      () => F.crossEntropy(x, labels, { reduction: 'none' }).sum(),
      () => F.linear(x, w).sum(),
    ];
    for (const run of runs) {
      const s = wg.scope(run);
      s.backward();
      await x.grad!.data();
      for (const t of [x, w]) {
        t.grad?.dispose();
        t.grad = null;
      }
      s.dispose();
    }
    const after = wg.memory();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
    for (const t of [x, w, labels]) t.dispose();
  });
});
