// Optimizers: the fused WGSL updates against PyTorch fixtures (three successive steps, 1e-5 of
// the largest magnitude) and against the float64 reference (odd sizes, views, groups); state
// save/load; steady-state memory; argument errors.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { gpu } from '../../src/tensor/device.js';
import { useDevice, loadFixtures, fromFixture, expectClose, type FixtureCase } from '../helpers.js';
import { sgdUpdate, adamUpdate, setMultiTensorUpdates } from '../../src/kernels/optim.js';
import { sgdStepRef, adamStepRef, adamStateRef, type SgdRefState, type AdamRefState, type AdamRefOptions, type SgdRefOptions } from '../../src/kernels/reference/optim.js';

useDevice();

const OPTIM_TOL = 1e-5;
type Opts = Record<string, any>;

function makeOptimizer(kind: string, params: wg.Tensor[], o: Opts): wg.optim.Optimizer<any> {
  if (kind === 'sgd') {
    return new wg.optim.SGD(params, { lr: o.lr, momentum: o.momentum, dampening: o.dampening, nesterov: o.nesterov, weightDecay: o.weightDecay, maximize: o.maximize });
  }
  const Cls = kind === 'adam' ? wg.optim.Adam : wg.optim.AdamW;
  return new Cls(params, { lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weightDecay, amsgrad: o.amsgrad, maximize: o.maximize });
}

/** One float64 reference stepper per optimizer kind. */
function refStepper(kind: string, o: Opts, n: number): (p: Float64Array, g: ArrayLike<number>) => void {
  if (kind === 'sgd') {
    const st: SgdRefState = { momentumBuffer: null };
    return (p, g) => sgdStepRef(p, g, st, o as SgdRefOptions);
  }
  const st: AdamRefState = adamStateRef(n);
  return (p, g) => adamStepRef(p, g, st, { ...(o as AdamRefOptions), decoupled: kind === 'adamw' });
}

/** A deterministic pseudo-normal stream (sum of uniforms) for reference tests. */
function stream(seed: number): () => number {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  return () => (u() + u() + u() + u() - 2) * 1.7;
}

describe('optimizers vs PyTorch', () => {
  for (const c of loadFixtures('optim')) {
    it(`${c.name}: reference`, () => {
      const p = Float64Array.from(c.inputs.param.data);
      const step = refStepper(c.op, c.options, p.length);
      for (let j = 0; j < 3; j++) {
        step(p, c.inputs[`grad${j}`].data);
        expectClose(p, c.outputs[`param:${j + 1}`].data, 1e-6, `${c.name} reference step ${j + 1}`);
      }
    });

    it(`${c.name}: GPU`, async () => {
      const p = fromFixture(c.inputs.param, true);
      const buffer = p.buffer;
      const opt = makeOptimizer(c.op, [p], c.options);
      for (let j = 0; j < 3; j++) {
        p.grad = fromFixture(c.inputs[`grad${j}`]);
        opt.step();
        opt.zeroGrad();
        expectClose(await p.data(), c.outputs[`param:${j + 1}`].data, OPTIM_TOL, `${c.name} step ${j + 1}`);
      }
      expect(p.buffer, 'updated in place').toBe(buffer);
      opt.dispose();
      p.dispose();
    });
  }
});

/** Every optimizer and its options that change the arithmetic (momentum forms, amsgrad, AdamW, maximize). */
const configs: Array<[string, Opts]> = [
  ['sgd', { lr: 0.1 }],
  ['sgd', { lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0.01 }],
  ['sgd', { lr: 0.05, momentum: 0.9, nesterov: true, maximize: true }],
  ['adam', { lr: 0.01, betas: [0.8, 0.95], eps: 1e-6, weightDecay: 0.02, amsgrad: true }],
  ['adamw', { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.05, maximize: true }],
];

describe('optimizers vs float64 reference', () => {
  const shapes = [[1], [7], [3, 5], [4, 4], [1030]];
  for (const [kind, o] of configs) {
    it(`${kind} ${JSON.stringify(o)} on shapes ${JSON.stringify(shapes)}`, async () => {
      const rnd = stream(shapes.length * 7 + kind.length);
      const host = shapes.map((s) => Float64Array.from({ length: s.reduce((a, b) => a * b, 1) }, rnd).map(Math.fround));
      const params = shapes.map((s, i) => wg.tensor(Float32Array.from(host[i]), s, { requiresGrad: true }));
      const opt = makeOptimizer(kind, params, o);
      const steppers = host.map((h) => refStepper(kind, o, h.length));
      for (let step = 0; step < 3; step++) {
        params.forEach((p, i) => {
          const g = Float32Array.from({ length: host[i].length }, rnd);
          p.grad = wg.tensor(g, p.shape);
          steppers[i](host[i], g);
        });
        opt.step();
        opt.zeroGrad();
      }
      for (let i = 0; i < params.length; i++) expectClose(await params[i].data(), host[i], OPTIM_TOL, `${kind} shape ${shapes[i]}`);
      opt.dispose();
      params.forEach((p) => p.dispose());
    });
  }

  it('kernels agree with the reference for other launch settings (several vec4 per invocation)', async () => {
    const rnd = stream(3);
    const n = 2 * 64 * 3 * 4 + 7; // spans several workgroup tiles and ends in a partial vec4
    for (const cfg of [{ wg: 64, vec: 3 }, { wg: 32, vec: 8 }]) {
      const host = Float64Array.from({ length: n }, rnd).map(Math.fround);
      const gHost = Float32Array.from({ length: n }, rnd);
      const p = wg.tensor(Float32Array.from(host), [n]);
      const g = wg.tensor(gHost, [n]);
      const q = wg.tensor(Float32Array.from(host), [n]);
      const buf = wg.zeros([n]);
      const [m, v] = [wg.zeros([n]), wg.zeros([n])];
      sgdUpdate(p, g, buf, { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: false, maximize: false, firstStep: true }, cfg);
      adamUpdate(q, g, m, v, null, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decayFactor: 1, stepSize: 0.01 / 0.1, biasCorrection2Sqrt: Math.sqrt(0.001), amsgrad: false, maximize: false, firstStep: false }, cfg);
      const ps = host.slice();
      sgdStepRef(ps, gHost, { momentumBuffer: null }, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
      const pa = host.slice();
      adamStepRef(pa, gHost, adamStateRef(n), { lr: 0.01 });
      expectClose(await p.data(), ps, OPTIM_TOL, `sgd ${JSON.stringify(cfg)}`);
      expectClose(await q.data(), pa, OPTIM_TOL, `adam ${JSON.stringify(cfg)}`);
      [p, g, q, buf, m, v].forEach((t) => t.dispose());
    }
  });

  it('gradient views: transposed, at offsets that are and are not multiples of 4', async () => {
    const rnd = stream(11);
    const host = Float64Array.from({ length: 15 }, rnd).map(Math.fround);
    const p = wg.tensor(Float32Array.from(host), [3, 5], { requiresGrad: true });
    const opt = new wg.optim.SGD([p], { lr: 0.1, momentum: 0.5 });
    const ref = refStepper('sgd', { lr: 0.1, momentum: 0.5 }, 15);
    for (const kind of ['transposed', 'offset4', 'offset3']) {
      const base = Float32Array.from({ length: 20 }, rnd);
      const big = wg.tensor(base, [20]);
      let g: wg.Tensor;
      let gHost: Float32Array;
      if (kind === 'transposed') {
        g = wg.reshape(big.slice(0, 0, 15), [5, 3]).transpose(0, 1);
        gHost = Float32Array.from({ length: 15 }, (_, i) => base[(i % 5) * 3 + Math.floor(i / 5)]);
      } else {
        const off = kind === 'offset4' ? 4 : 3;
        g = wg.reshape(big.slice(0, off, off + 15), [3, 5]);
        gHost = base.slice(off, off + 15);
      }
      expect(g.isContiguous && g.offset === 0).toBe(false);
      p.grad = g;
      opt.step();
      ref(host, gHost);
      expectClose(await p.data(), host, OPTIM_TOL, kind);
      opt.zeroGrad();
      big.dispose();
    }
    opt.dispose();
    p.dispose();
  });

  it('groups have their own lr; params without grad are skipped; lr changes take effect without new pipelines', async () => {
    const a = wg.tensor([1, 2, 3, 4], [4], { requiresGrad: true });
    const b = wg.tensor([1, 2, 3], [3], { requiresGrad: true });
    const c = wg.tensor([5, 6], [2], { requiresGrad: true });
    const opt = new wg.optim.SGD([{ params: [a] }, { params: [b, c], lr: 0.5 }], { lr: 0.1 });
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.1, 0.5]);
    a.grad = wg.ones([4]);
    b.grad = wg.ones([3]);
    opt.step();
    const pipelines = wg.pipelineStats().created;
    opt.paramGroups[0].lr = 1;
    opt.step();
    expect(wg.pipelineStats().created).toBe(pipelines);
    expectClose(await a.data(), [1 - 1.1, 2 - 1.1, 3 - 1.1, 4 - 1.1], 1e-6, 'a');
    expectClose(await b.data(), [0, 1, 2], 1e-6, 'b');
    expect(Array.from(await c.data())).toEqual([5, 6]);
    const grads = [a.grad!, b.grad!];
    opt.zeroGrad();
    expect(a.grad).toBeNull();
    expect(grads.every((g) => g.isDisposed)).toBe(true);
    expect(opt.stateDict().groups.map((g) => g.steps)).toEqual([[2], [2, 0]]);
    [a, b, c].forEach((t) => t.dispose());
  });
});

describe('several parameters per dispatch (sgd_update_multi.wgsl, adam_update_multi.wgsl)', () => {
  // Sizes: tails of 1-3 lanes, one vec4, several workgroups (70,000 values); 9 parameters and two
  // views of one buffer, which cannot share a dispatch.
  const sizes = [1, 7, 15, 4, 70000, 1030, 3, 256, 2];

  async function run(kind: string, o: Opts, multi: boolean): Promise<{ values: number[][]; dispatches: number }> {
    const old = setMultiTensorUpdates(multi);
    try {
      const rnd = stream(5);
      const shared = wg.tensor(Float32Array.from({ length: 16 }, rnd));
      const params = [...sizes.map((n) => wg.tensor(Float32Array.from({ length: n }, rnd))), shared.slice(0, 0, 8), shared.slice(0, 8, 16)];
      for (const p of params) p.requiresGrad = true;
      const opt = makeOptimizer(kind, params, o);
      let dispatches = 0;
      for (let step = 0; step < 3; step++) {
        params.forEach((p) => { p.grad = wg.tensor(Float32Array.from({ length: p.size }, rnd), p.shape); });
        const prof = await wg.profile(() => opt.step());
        dispatches = prof.find((r) => r.label === (kind === 'sgd' ? 'sgd_update' : 'adam_update'))!.count;
        opt.zeroGrad();
      }
      const values = await Promise.all(params.map(async (p) => [...(await p.data())]));
      opt.dispose();
      params.forEach((p) => p.dispose());
      shared.dispose();
      return { values, dispatches };
    } finally {
      setMultiTensorUpdates(old);
    }
  }

  for (const [kind, o] of configs) {
    it(`gives bit-identical parameters with fewer dispatches: ${kind} ${JSON.stringify(o)}`, async () => {
      const single = await run(kind, o, false);
      const multi = await run(kind, o, true);
      expect(multi.values).toEqual(single.values);
      expect(single.dispatches).toBe(11);
      // SGD, 4 per dispatch: [4 sizes] [4 sizes] [1 size + 1 view] [the other view];
      // Adam, 3: [3] [3] [3] [the views, one each].
      if (gpuHasMulti(kind === 'sgd' ? 12 : 15)) expect(multi.dispatches).toBe(kind === 'sgd' ? 4 : 5);
    });
  }
});

describe('a step stopped by a bad gradient', () => {
  it('updates the parameters before it, as one dispatch each would, and leaves nothing queued for the next step', async () => {
    const a = wg.tensor([1, 2, 3, 4, 5], undefined, { requiresGrad: true });
    const b = wg.tensor([1, 1, 1], undefined, { requiresGrad: true });
    const opt = new wg.optim.SGD([a, b], { lr: 0.5 });
    a.grad = wg.tensor([2, 2, 2, 2, 2]);
    b.grad = wg.tensor([1, 1]);
    expect(() => opt.step()).toThrow(/does not match its parameter/);
    expect([...(await a.data())]).toEqual([0, 1, 2, 3, 4]);
    b.grad.dispose();
    b.grad = wg.tensor([4, 4, 4]);
    opt.step();
    expect([...(await a.data())]).toEqual([-1, 0, 1, 2, 3]); // once, not twice
    expect([...(await b.data())]).toEqual([-1, -1, -1]);
    opt.zeroGrad();
    opt.dispose();
    a.dispose();
    b.dispose();
  });
});

function gpuHasMulti(bindings: number): boolean {
  const ctx = gpu();
  return ctx.wgslFeatures.has('unrestricted_pointer_parameters') && ctx.device.limits.maxStorageBuffersPerShaderStage >= bindings;
}

describe('optimizer state', () => {
  for (const [kind, o] of [
    ['sgd', { lr: 0.1, momentum: 0.9, nesterov: true }],
    ['adam', { lr: 0.01, amsgrad: true, weightDecay: 0.01 }],
    ['adamw', { lr: 0.01 }],
  ] as Array<[string, Opts]>) {
    it(`${kind}: stateDict -> loadStateDict into a new optimizer gives identical steps`, async () => {
      const rnd = stream(5);
      const init = [Float32Array.from({ length: 12 }, rnd), Float32Array.from({ length: 5 }, rnd)];
      const shapes = [[3, 4], [5]];
      const grads = Array.from({ length: 4 }, () => init.map((x) => Float32Array.from({ length: x.length }, rnd)));
      const pa = init.map((x, i) => wg.tensor(x, shapes[i], { requiresGrad: true }));
      const optA = makeOptimizer(kind, pa, o);
      const stepWith = (opt: wg.optim.Optimizer<any>, ps: wg.Tensor[], gs: Float32Array[]) => {
        ps.forEach((p, i) => (p.grad = wg.tensor(gs[i], shapes[i])));
        opt.step();
        opt.zeroGrad();
      };
      stepWith(optA, pa, grads[0]);
      stepWith(optA, pa, grads[1]);

      const sd = optA.stateDict();
      const json = JSON.parse(JSON.stringify(sd.groups));
      const names = kind === 'sgd' ? ['momentum_buffer'] : kind === 'adam' ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq'];
      expect([...sd.state.keys()].sort()).toEqual([0, 1].flatMap((i) => names.map((n) => `${i}.${n}`)).sort());
      expect(json[0].steps).toEqual([2, 2]);
      expect(json[0].params).toEqual([0, 1]);

      const pb = await Promise.all(pa.map(async (p, i) => wg.tensor(await p.data(), shapes[i], { requiresGrad: true })));
      const optB = makeOptimizer(kind, pb, { ...o, lr: 123 });
      optB.loadStateDict({ state: sd.state, groups: json });
      for (const t of sd.state.values()) t.dispose(); // the optimizer copied them
      expect(optB.paramGroups[0].lr).toBe(o.lr);
      stepWith(optA, pa, grads[2]);
      stepWith(optB, pb, grads[2]);
      stepWith(optA, pa, grads[3]);
      stepWith(optB, pb, grads[3]);
      for (let i = 0; i < 2; i++) expect(Array.from(await pb[i].data())).toEqual(Array.from(await pa[i].data()));
      optA.dispose();
      optB.dispose();
      [...pa, ...pb].forEach((p) => p.dispose());
    });
  }

  it('loadStateDict rejects mismatched dicts before changing anything', () => {
    const p = wg.tensor([1, 2, 3, 4], [4], { requiresGrad: true });
    const q = wg.tensor([1, 2], [2], { requiresGrad: true });
    const opt = new wg.optim.Adam([p], { lr: 0.1 });
    const wrongShape = wg.zeros([3]);
    const good = { params: [0], steps: [1], lr: 0.5, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false };
    const bad: Array<[wg.optim.OptimizerStateDict, RegExp]> = [
      [{ state: new Map(), groups: [] }, /has 0 parameter group\(s\), this optimizer has 1/],
      [{ state: new Map([['0.exp_avg', wrongShape], ['0.exp_avg_sq', wrongShape]]), groups: [good] }, /shape \[4\]/],
      [{ state: new Map([['0.momentum_buffer', wg.zeros([4])]]), groups: [good] }, /unexpected state 'momentum_buffer'/],
      [{ state: new Map(), groups: [good] }, /lacks exp_avg, exp_avg_sq/],
      [{ state: new Map(), groups: [{ ...good, steps: [0], lr: -1 }] }, /Adam.*lr -1/],
    ];
    for (const [sd, msg] of bad) {
      expect(() => opt.loadStateDict(sd)).toThrow(wg.OpArgumentError);
      expect(() => opt.loadStateDict(sd)).toThrow(msg);
    }
    expect(opt.paramGroups[0].lr).toBe(0.1);
    const sgd = new wg.optim.SGD([p, q], { lr: 0.1 });
    expect(() => new wg.optim.SGD([p], { lr: 0.1 }).loadStateDict(sgd.stateDict())).toThrow(/2 parameter/);
    [p, q, wrongShape].forEach((t) => t.dispose());
  });

  it('steady-state step() creates no GPU buffers and no tensors', async () => {
    const shapes = [[64, 3, 3, 3], [64], [64], [10, 64], [10]];
    for (const make of [
      (ps: wg.Tensor[]) => new wg.optim.SGD(ps, { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 }),
      (ps: wg.Tensor[]) => new wg.optim.Adam(ps, { amsgrad: true }),
    ]) {
      const params = shapes.map((s) => wg.randn(s, { seed: 1 }));
      params.forEach((p) => (p.requiresGrad = true));
      params.forEach((p) => (p.grad = wg.randn(p.shape, { seed: 2 })));
      const opt = make(params);
      opt.step();
      opt.step();
      await wg.sync();
      const before = wg.memory();
      for (let i = 0; i < 3; i++) opt.step();
      await wg.sync();
      const after = wg.memory();
      expect(after.created).toBe(before.created);
      expect(after.liveTensors).toBe(before.liveTensors);
      expect(after.liveBytes).toBe(before.liveBytes);
      opt.dispose();
      params.forEach((p) => p.dispose());
    }
  });

  it('state tensors survive the scope the first step ran in', async () => {
    const p = wg.tensor([1, 2, 3], [3], { requiresGrad: true });
    const opt = new wg.optim.SGD([p], { lr: 0.1, momentum: 0.9 });
    wg.scope(() => {
      p.grad = wg.ones([3]).keep();
      opt.step();
    });
    const buf = opt.stateDict().state.get('0.momentum_buffer')!;
    expect(Array.from(await buf.data())).toEqual([1, 1, 1]);
    buf.dispose();
    opt.step();
    expectClose(await p.data(), [1 - 0.1 - 0.19, 2 - 0.1 - 0.19, 3 - 0.1 - 0.19], 1e-6, 'two momentum steps');
    opt.dispose();
    p.dispose();
  });
});

describe('optimizer argument errors', () => {
  it('raise OpArgumentError naming the optimizer', () => {
    const p = wg.tensor([1, 2, 3, 4], [4], { requiresGrad: true });
    const frozen = wg.tensor([1, 2], [2]);
    const nonLeaf = p.mul(2);
    const base = wg.tensor([1, 2, 3, 4, 5, 6], [6]);
    const view = base.slice(0, 1, 4);
    view.requiresGrad = true;
    const cases: Array<[() => unknown, RegExp]> = [
      [() => new wg.optim.SGD([p, 3 as any], { lr: 0.1 }), /^SGD: parameter 1 of group 0 is not a Tensor \(got number 3\)/],
      [() => new wg.optim.SGD(p as any, { lr: 0.1 }), /^SGD: params should be an iterable/],
      [() => new wg.optim.SGD([], { lr: 0.1 }), /^SGD: got an empty parameter list/],
      [() => new wg.optim.Adam([frozen]), /^Adam: parameter 0 of group 0 \[2\] float32 does not require grad/],
      [() => new wg.optim.Adam([nonLeaf]), /^Adam: can't optimize .* not a leaf/],
      [() => new wg.optim.AdamW([view]), /^AdamW: .* is a view/],
      [() => new wg.optim.SGD([p, p], { lr: 0.1 }), /^SGD: .*appears more than once/],
      [() => new wg.optim.SGD([p], { lr: -0.1 }), /^SGD: invalid lr -0.1/],
      [() => new wg.optim.SGD([p], {} as any), /^SGD: the learning rate `lr` is required/],
      [() => new wg.optim.SGD([p], { lr: 0.1, nesterov: true }), /^SGD: .*Nesterov momentum requires momentum > 0/],
      [() => new wg.optim.SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), /^SGD: .*zero|dampening 0/],
      [() => new wg.optim.SGD([p], { lr: 0.1, weight_decay: 1 } as any), /^SGD: unknown option 'weight_decay'/],
      [() => new wg.optim.Adam([p], { betas: [0.9, 1] }), /^Adam: .*beta parameter at index 1: 1/],
      [() => new wg.optim.Adam([p], { betas: [-0.1, 0.9] }), /^Adam: .*beta parameter at index 0/],
      [() => new wg.optim.AdamW([p], { lr: -1 }), /^AdamW: invalid lr -1/],
      [() => new wg.optim.Adam([p], { eps: -1 }), /^Adam: invalid eps -1/],
      [() => new wg.optim.Adam([{ params: [p], lr: -2 }]), /^Adam: invalid lr -2 in parameter group 0/],
      [() => new wg.optim.Adam([{ params: [p], momentum: 0.9 } as any]), /^Adam: unknown option 'momentum' in parameter group 0/],
    ];
    for (const [fn, msg] of cases) {
      expect(fn).toThrow(wg.OpArgumentError);
      expect(fn).toThrow(msg);
    }
    const opt = new wg.optim.SGD([p], { lr: 0.1 });
    opt.paramGroups[0].lr = -1;
    p.grad = wg.ones([4]);
    expect(() => opt.step()).toThrow(/^SGD: invalid lr -1 in parameter group 0/);
    [p, frozen, nonLeaf, view, base].forEach((t) => t.dispose());
  });
});
