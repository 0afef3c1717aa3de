// wg.warmup(fn): fn runs once in record-only mode (nothing dispatched), the pipelines it would
// need are built in parallel, and afterwards fn builds no pipeline, computes exactly what it
// would have without warm-up, and nothing of the warm-up is left in memory or in .grad.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';
import { defineKernel, launch } from '../../src/kernels/launch.js';
import { emptyTensor } from '../../src/tensor/tensor.js';

useDevice();

/** A CIFAR ResNet-8 training setup, identical for the same seed. */
function setup(seed: number) {
  wg.manualSeed(seed);
  const model = wg.models.cifarResnet(8, { shortcut: 'A' });
  model.train();
  const opt = new wg.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
  const x = wg.randn([4, 3, 16, 16], { seed: seed + 1 }).keep();
  const y = wg.tensor(Int32Array.from([0, 3, 7, 9])).keep();
  // forward + loss + backward, with a random op so the RNG state matters too
  const forwardBackward = () => {
    const noise = wg.mul(wg.rand([4, 3, 16, 16]), 0.01);
    const loss = wg.F.crossEntropy(model.forward(wg.add(x, noise)) as wg.Tensor, y);
    loss.backward();
    return loss;
  };
  const train = async (steps: number) => {
    const losses: number[] = [];
    for (let i = 0; i < steps; i++) {
      const loss = wg.scope(() => {
        opt.zeroGrad();
        const l = forwardBackward().keep();
        opt.step();
        return l;
      });
      losses.push((await loss.data())[0]);
      loss.dispose();
    }
    const params = await Promise.all([...model.parameters(), ...model.buffers()].map((p) => p.data()));
    return { losses, params };
  };
  const dispose = () => {
    opt.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  };
  return { model, forwardBackward, train, dispose };
}

describe('wg.warmup', () => {
  // First in the file: the pipeline cache is still cold for the ResNet kernels.
  it('builds every pipeline of the step up front; the step then builds none and gives bit-identical losses', async () => {
    const labels = wg.tensor(Int32Array.from([0, 1])); // labels out of range would fail if checked
    const warmed = setup(5);
    await wg.sync();
    const memBefore = wg.memory();
    const createdBefore = wg.pipelineStats().created;
    // Garbage logits and out-of-range labels: no label check may fire, nothing is read.
    const built = await wg.warmup(() => {
      warmed.forwardBackward();
      wg.F.crossEntropy(wg.zeros([2, 1]), labels);
    });
    await wg.sync();
    expect(built).toBeGreaterThan(20);
    expect(wg.pipelineStats().created).toBe(createdBefore + built);
    expect(wg.memory().liveTensors).toBe(memBefore.liveTensors);
    expect(wg.memory().liveBytes).toBe(memBefore.liveBytes);
    expect(warmed.model.parameters().every((p) => p.grad == null)).toBe(true);
    expect(await wg.warmup(() => warmed.forwardBackward())).toBe(0); // everything is cached now

    const created = wg.pipelineStats().created;
    wg.scope(() => void warmed.forwardBackward());
    await wg.sync();
    expect(wg.pipelineStats().created).toBe(created);
    warmed.model.zeroGrad();

    const { losses } = await warmed.train(2); // the optimizer's kernels are built here
    expect(losses.every(Number.isFinite)).toBe(true);
    warmed.dispose();
    labels.dispose();
  });

  it('warm-up changes nothing: the same seed trains to bit-identical losses, parameters and BN statistics', async () => {
    const warmed = setup(11);
    await wg.warmup(() => warmed.forwardBackward());
    const a = await warmed.train(3);
    const plain = setup(11);
    const b = await plain.train(3);
    expect(a.losses).toEqual(b.losses);
    for (let i = 0; i < a.params.length; i++) expect(Array.from(a.params[i])).toEqual(Array.from(b.params[i]));
    warmed.dispose();
    plain.dispose();
  });

  it('inference after warm-up: the record-only pass leaves no packed weights behind, results are exact', async () => {
    // A forward under noGrad keeps its packed conv weights; in the record-only pass nothing is
    // packed for real, so nothing may be kept there.
    const model = wg.models.cifarResnet(8, { shortcut: 'A' }).eval();
    const x = wg.randn([2, 3, 16, 16], { seed: 5 });
    const infer = () => wg.noGrad(() => wg.scope(() => model.forward(x).keep()));
    const before = wg.memory().liveTensors;
    await wg.warmup(() => { infer().dispose(); });
    expect(wg.memory().liveTensors).toBe(before);
    const warmed = await infer().data();
    wg.emptyCache();
    const fresh = await infer().data();
    expect(Array.from(warmed)).toEqual(Array.from(fresh));
    wg.emptyCache();
    model.dispose();
    x.dispose();
  });

  it('a shader that does not compile surfaces as ShaderCompilationError from warmup', async () => {
    const broken = defineKernel('broken_warmup_test', [
      '@group(0) @binding(0) var<storage, read_write> y: array<f32>;',
      '@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {',
      '  y[gid.x] = vec2<f32>(1.0, 2.0);',
      '}',
    ].join('\n'), ['read_write']);
    const err = await wg.warmup(() => {
      const out = emptyTensor([64], 'float32', 'broken_warmup_test');
      launch(broken, { buffers: [out.buffer], workgroups: [1] });
    }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(wg.ShaderCompilationError);
    expect((err as Error).message).toMatch(/broken_warmup_test\.wgsl/);
    await wg.sync().catch(() => undefined); // the module's own validation error, reported once
    expect(Array.from(await wg.ones([2]).add(1).data())).toEqual([2, 2]);
  });
});
