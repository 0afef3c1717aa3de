// Whole networks against PyTorch (test/fixtures/resnet.json, float64 reference):
//   - CIFAR ResNet-20 (shortcut A and B) eval logits, weights from the PyTorch-written
//     safetensors files: within 1e-3 of the largest |logit|;
//   - one training step: train-mode logits, mean cross-entropy loss, parameter gradients, BN
//     running statistics, parameters after torch.optim.SGD (lr 0.1, momentum 0.9, wd 5e-4):
//     within 2e-3 of each tensor's largest magnitude;
//   - torchvision resnet18 with weights from the documented sin formula (reproduced here in
//     float64 and rounded with Math.fround; per-tensor sums checked first): logits and features.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice, loadFixtures, fromFixture, expectTensorClose, fixturePath, type FixtureCase } from '../helpers.js';

useDevice();

const EVAL_TOL = 1e-3;
const TRAIN_TOL = 2e-3;
const cases = loadFixtures('resnet');
const O = (c: FixtureCase) => c.options as Record<string, any>;

async function cifarModel(c: FixtureCase): Promise<wg.models.CifarResNet> {
  const model = wg.models.cifarResnet(O(c).depth, { shortcut: O(c).shortcut });
  const weights = await wg.io.loadSafetensors(fixturePath(O(c).weights));
  model.loadStateDict(weights);
  for (const t of weights.values()) t.dispose();
  return model;
}

describe('CIFAR ResNet-20 vs PyTorch', () => {
  for (const c of cases.filter((k) => k.op === 'cifarResnetEval')) {
    it(c.name, async () => {
      const model = (await cifarModel(c)).eval();
      const x = fromFixture(c.inputs.x);
      const logits = wg.noGrad(() => model.forward(x));
      await expectTensorClose(logits, c.outputs.logits, EVAL_TOL, `${c.name} logits`);
      // Eval mode leaves the BatchNorm counters alone.
      expect(await model.bn1.numBatchesTracked!.item()).toBe(7);
      for (const t of [x, logits]) t.dispose();
      model.dispose();
    });
  }

  for (const c of cases.filter((k) => k.op === 'cifarResnetTrainStep')) {
    it(c.name, async () => {
      const o = O(c);
      const model = (await cifarModel(c)).train();
      const before = wg.memory().liveTensors;
      const x = fromFixture(c.inputs.x);
      const labels = fromFixture(c.inputs.labels);
      const opt = new wg.optim.SGD(model.parameters(), { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay, dampening: o.dampening, nesterov: o.nesterov });
      opt.zeroGrad();
      const { logits, loss } = wg.scope(() => {
        const logits = model.forward(x);
        const loss = wg.F.crossEntropy(logits, labels);
        loss.backward();
        return { logits, loss };
      });
      await expectTensorClose(loss, c.outputs.loss, TRAIN_TOL, `${c.name} loss`);
      await expectTensorClose(logits, c.outputs.logits, TRAIN_TOL, `${c.name} train-mode logits`);
      const params = new Map(model.namedParameters());
      for (const [name, g] of Object.entries(c.grads)) {
        await expectTensorClose(params.get(name)!.grad!, g, TRAIN_TOL, `${c.name} grad ${name}`);
      }
      opt.step();
      for (const [key, want] of Object.entries(c.outputs)) {
        if (key.startsWith('param:')) await expectTensorClose(params.get(key.slice(6))!, want, TRAIN_TOL, `${c.name} ${key}`);
      }
      const state = model.stateDict();
      await expectTensorClose(state.get('bn1.running_mean')!, c.outputs['buffer:bn1.running_mean'], TRAIN_TOL, 'bn1.running_mean');
      await expectTensorClose(state.get('bn1.running_var')!, c.outputs['buffer:bn1.running_var'], TRAIN_TOL, 'bn1.running_var');
      // torch increments num_batches_tracked once per training forward (7 in the file).
      expect(await state.get('layer3.2.bn2.num_batches_tracked')!.item()).toBe(8);
      // Nothing from the step outlives it but what we hold: logits, loss, inputs.
      for (const t of [x, labels, logits, loss]) t.dispose();
      model.zeroGrad();
      opt.dispose();
      expect(wg.memory().liveTensors).toBeLessThanOrEqual(before);
      model.dispose();
    });
  }
});

/** The fixture's weight formula (see options.weightFormula), float64 then Math.fround. */
function formulaStateDict(entries: { name: string; shape: number[]; dtype: string }[]): Map<string, Float32Array | Int32Array> {
  const out = new Map<string, Float32Array | Int32Array>();
  entries.forEach(({ name, shape }, k) => {
    const n = shape.reduce((a, d) => a * d, 1);
    if (name.endsWith('num_batches_tracked')) {
      out.set(name, new Int32Array(Math.max(n, 1)));
      return;
    }
    const v = new Float32Array(n);
    let f: (i: number) => number;
    if (shape.length >= 2) {
      const fanIn = n / shape[0];
      const scale = Math.sqrt(2.0 / fanIn) / 0.0141;
      f = (i) => (0.02 * Math.sin(i + 0.7 * k + 0.3)) * scale;
    } else if (name === 'fc.bias') f = (i) => 0.02 * Math.sin(i + 0.7 * k + 0.3);
    else if (name.endsWith('.weight')) f = (i) => 1 + 0.1 * Math.sin(i + k);
    else if (name.endsWith('.bias')) f = (i) => 0.05 * Math.cos(i + k);
    else if (name.endsWith('running_mean')) f = (i) => 0.05 * Math.sin(2 * i + k);
    else if (name.endsWith('running_var')) f = (i) => 1 + 0.2 * Math.abs(Math.sin(3 * i + k));
    else throw new Error(`no formula for ${name}`);
    for (let i = 0; i < n; i++) v[i] = Math.fround(f(i));
    out.set(name, v);
  });
  return out;
}

describe('torchvision resnet18 vs PyTorch (formula weights)', () => {
  const c = cases.find((k) => k.op === 'resnet18Eval')!;
  it(c.name, async () => {
    const entries = O(c).stateDict as { name: string; shape: number[]; dtype: string; sum: number }[];
    const host = formulaStateDict(entries);
    // Our reproduction of the formula must give the generator's values: compare float64 sums.
    for (const e of entries) {
      let sum = 0;
      for (const v of host.get(e.name)!) sum += v;
      expect(Math.abs(sum - e.sum), `${e.name}: sum ${sum} vs ${e.sum}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(e.sum)) * Math.sqrt(host.get(e.name)!.length));
    }
    const xData = Float32Array.from({ length: 3 * 64 * 64 }, (_, i) => Math.fround(Math.sin(0.01 * i)));
    expect(Array.from(xData)).toEqual(Array.from(Float32Array.from(c.inputs.x.data)));

    const model = wg.models.resnet18({ numClasses: O(c).numClasses }).eval();
    const state = new Map<string, wg.Tensor>();
    for (const e of entries) state.set(e.name, wg.tensor(host.get(e.name)!, e.shape));
    model.loadStateDict(state);
    for (const t of state.values()) t.dispose();
    const x = wg.tensor(xData, [1, 3, 64, 64]);
    const { features, logits } = wg.noGrad(() => {
      const features = model.features(x);
      return { features, logits: model.fc.forward(features) };
    });
    await expectTensorClose(features, c.outputs.features, EVAL_TOL, 'resnet18 features');
    await expectTensorClose(logits, c.outputs.logits, EVAL_TOL, 'resnet18 logits');
    const direct = wg.noGrad(() => model.forward(x));
    expect(Array.from(await direct.data())).toEqual(Array.from(await logits.data()));
    for (const t of [x, features, logits, direct]) t.dispose();
    model.dispose();
  });
});
