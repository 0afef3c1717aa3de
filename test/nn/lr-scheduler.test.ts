// LR schedulers: lr (and cycled momentum) sequences against torch 1.13 (test/fixtures/
// lr_scheduler.json, 1e-6 relative per value: the fixtures are float64 results rounded to
// float32), state save/load, and argument errors.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice, loadFixtures } from '../helpers.js';

useDevice();
const { lrScheduler: S } = wg.optim;
type Spec = { scheduler: string; args: Record<string, any> };

function makeOptimizer(kind: string, groups: Array<Record<string, number>>): { opt: wg.optim.Optimizer<any>; params: wg.Tensor[] } {
  const params = groups.map(() => wg.zeros([1], { requiresGrad: true }));
  const input = groups.map((g, i) => ({ params: [params[i]], ...g }));
  const opt = kind === 'sgd' ? new wg.optim.SGD(input, { lr: 0.1 }) : new wg.optim.Adam(input);
  return { opt, params };
}

function makeScheduler(opt: wg.optim.Optimizer<any>, spec: Spec): wg.optim.lrScheduler.LRScheduler {
  const { scheduler, args } = spec;
  switch (scheduler) {
    case 'StepLR': return new S.StepLR(opt, args as any);
    case 'MultiStepLR': return new S.MultiStepLR(opt, args as any);
    case 'ExponentialLR': return new S.ExponentialLR(opt, args as any);
    case 'LinearLR': return new S.LinearLR(opt, args);
    case 'CosineAnnealingLR': return new S.CosineAnnealingLR(opt, args as any);
    case 'OneCycleLR': return new S.OneCycleLR(opt, args as any);
    case 'SequentialLR':
      return new S.SequentialLR(opt, { schedulers: args.schedulers.map((s: Spec) => makeScheduler(opt, s)), milestones: args.milestones });
    default: throw new Error(`no mapping for ${scheduler}`);
  }
}

function momentumOf(opt: wg.optim.Optimizer<any>): number[] {
  return opt.paramGroups.map((g: any) => (g.betas ? g.betas[0] : g.momentum));
}

function expectSeq(got: number[][], want: { shape: number[]; data: number[] }, what: string): void {
  expect([got.length, got[0].length], `${what}: shape`).toEqual(want.shape);
  got.flat().forEach((v, i) => {
    const e = want.data[i];
    if (Math.abs(v - e) > 1e-6 * Math.abs(e) + 1e-12) {
      expect.fail(`${what}: entry ${i} (step ${Math.floor(i / want.shape[1])}, group ${i % want.shape[1]}) is ${v}, torch gives ${e}`);
    }
  });
}

describe('lr schedulers vs PyTorch', () => {
  for (const c of loadFixtures('lr_scheduler')) {
    it(c.name, () => {
      const o = c.options as any;
      const { opt, params } = makeOptimizer(o.optimizer, o.groups);
      const s = makeScheduler(opt, { scheduler: o.scheduler, args: o.args });
      const lrs = [s.getLastLr()];
      const moms = [momentumOf(opt)];
      for (let i = 0; i < o.steps; i++) {
        s.step();
        lrs.push(s.getLastLr());
        moms.push(momentumOf(opt));
      }
      expectSeq(lrs, c.outputs.lr, 'lr');
      expect(opt.paramGroups.map((g) => g.lr)).toEqual(lrs[lrs.length - 1]);
      if (c.outputs.momentum) expectSeq(moms, c.outputs.momentum, 'momentum');
      params.forEach((p) => p.dispose());
    });
  }
});

describe('lr scheduler state and errors', () => {
  const specs: Spec[] = [
    { scheduler: 'CosineAnnealingLR', args: { tMax: 6, etaMin: 0.01 } },
    { scheduler: 'MultiStepLR', args: { milestones: [2, 4], gamma: 0.5 } },
    { scheduler: 'OneCycleLR', args: { maxLr: 1, totalSteps: 12, threePhase: true } },
    {
      scheduler: 'SequentialLR',
      args: { schedulers: [{ scheduler: 'LinearLR', args: { startFactor: 0.2, totalIters: 3 } }, { scheduler: 'StepLR', args: { stepSize: 2 } }], milestones: [3] },
    },
  ];
  for (const spec of specs) {
    it(`${spec.scheduler}: optimizer + scheduler stateDict resume the same sequence`, () => {
      const a = makeOptimizer('sgd', [{ lr: 0.1, momentum: 0.9 }]);
      const sa = makeScheduler(a.opt, spec);
      for (let i = 0; i < 4; i++) sa.step();
      const saved = JSON.parse(JSON.stringify({ sched: sa.stateDict(), groups: a.opt.stateDict().groups }));
      const b = makeOptimizer('sgd', [{ lr: 0.1, momentum: 0.9 }]);
      const sb = makeScheduler(b.opt, spec);
      b.opt.loadStateDict({ state: new Map(), groups: saved.groups });
      sb.loadStateDict(saved.sched);
      expect(sb.getLastLr()).toEqual(sa.getLastLr());
      for (let i = 0; i < 6; i++) {
        sa.step();
        sb.step();
        expect(sb.getLastLr()).toEqual(sa.getLastLr());
        expect(momentumOf(b.opt)).toEqual(momentumOf(a.opt));
      }
      [...a.params, ...b.params].forEach((p) => p.dispose());
    });
  }

  it('a scheduled lr reaches the fused update', async () => {
    const p = wg.tensor([1, 1, 1, 1], [4], { requiresGrad: true });
    const opt = new wg.optim.SGD([p], { lr: 1 });
    const s = new S.StepLR(opt, { stepSize: 1, gamma: 0.5 });
    for (let i = 0; i < 3; i++) {
      p.grad = wg.ones([4]);
      opt.step();
      opt.zeroGrad();
      s.step();
    }
    expect(Array.from(await p.data())).toEqual([-0.75, -0.75, -0.75, -0.75]); // 1 - (1 + 0.5 + 0.25)
    p.dispose();
  });

  it('bad options raise OpArgumentError naming the scheduler', () => {
    const { opt, params } = makeOptimizer('sgd', [{ lr: 0.1 }]);
    const cases: Array<[() => unknown, RegExp]> = [
      [() => new S.StepLR(opt, { stepSize: 0 }), /^StepLR: stepSize should be an integer >= 1, got 0/],
      [() => new S.StepLR({} as any, { stepSize: 1 }), /^StepLR: expected an optimizer/],
      [() => new S.MultiStepLR(opt, { milestones: 3 as any }), /^MultiStepLR: milestones should be an array/],
      [() => new S.LinearLR(opt, { startFactor: 0 }), /^LinearLR: startFactor should be in \(0, 1\]/],
      [() => new S.CosineAnnealingLR(opt, { tMax: 10, eta_min: 0 } as any), /^CosineAnnealingLR: unknown option 'eta_min'/],
      [() => new S.OneCycleLR(opt, { maxLr: 0.1 }), /^OneCycleLR: give totalSteps, or epochs and stepsPerEpoch/],
      [() => new S.OneCycleLR(opt, { maxLr: [0.1, 0.2], totalSteps: 5 }), /^OneCycleLR: expected 1 values for maxLr/],
      [() => new S.OneCycleLR(opt, { maxLr: 0.1, totalSteps: 5, annealStrategy: 'exp' as any }), /^OneCycleLR: annealStrategy/],
      [() => new S.SequentialLR(opt, { schedulers: [new S.ExponentialLR(opt, { gamma: 0.9 })], milestones: [2] }), /^SequentialLR: expects one milestone fewer/],
    ];
    for (const [fn, msg] of cases) {
      expect(fn).toThrow(wg.OpArgumentError);
      expect(fn).toThrow(msg);
    }
    const oc = new S.OneCycleLR(opt, { maxLr: 0.1, totalSteps: 3 });
    for (let i = 0; i < 3; i++) oc.step();
    expect(() => oc.step()).toThrow(/^OneCycleLR: tried to step 5 times; the schedule has totalSteps = 3/);
    params.forEach((p) => p.dispose());
  });
});
