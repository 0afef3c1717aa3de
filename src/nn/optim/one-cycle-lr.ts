// SPDX-License-Identifier: MIT
// OneCycleLR (torch.optim.lr_scheduler.OneCycleLR, Smith & Topin's 1cycle policy): the lr warms
// up from maxLr/divFactor to maxLr over the first pctStart of the steps, then anneals to
// maxLr/divFactor/finalDivFactor; optionally a third phase (threePhase). Momentum (SGD's
// `momentum`, Adam's beta1) cycles inversely between maxMomentum and baseMomentum, as in torch
// (cycleMomentum, on by default: note it sets the momentum of an SGD created with momentum 0).
// Call step() once per batch; stepping past totalSteps throws, as in torch.

import { OpArgumentError, check } from '../../tensor/errors.js';
import type { GroupBase, Optimizer } from './optimizer.js';
import { LRScheduler } from './scheduler-base.js';
import { checkOptions, checkNumber, checkInteger } from './validate.js';

export interface OneCycleLROptions {
  /** Peak lr, one for all groups or one per group. */
  maxLr: number | number[];
  /** Number of steps in the cycle; or give epochs and stepsPerEpoch. */
  totalSteps?: number;
  epochs?: number;
  stepsPerEpoch?: number;
  /** Fraction of the cycle spent increasing the lr (default 0.3). */
  pctStart?: number;
  /** 'cos' (default) or 'linear'. */
  annealStrategy?: 'cos' | 'linear';
  /** Cycle momentum / beta1 inversely to the lr (default true). */
  cycleMomentum?: boolean;
  baseMomentum?: number | number[];
  maxMomentum?: number | number[];
  /** Initial lr = maxLr / divFactor (default 25). */
  divFactor?: number;
  /** Minimum lr = initial lr / finalDivFactor (default 1e4). */
  finalDivFactor?: number;
  /** Warm up, come back down to the initial lr, then anneal to the minimum (default false). */
  threePhase?: boolean;
}

type GroupKey = 'initialLr' | 'maxLr' | 'minLr' | 'maxMomentum' | 'baseMomentum';
interface Phase {
  endStep: number;
  startLr: GroupKey;
  endLr: GroupKey;
  startMomentum: GroupKey;
  endMomentum: GroupKey;
}

type MomentumGroup = GroupBase & { momentum?: number; betas?: [number, number] };

export class OneCycleLR extends LRScheduler {
  totalSteps: number;
  annealStrategy: 'cos' | 'linear';
  cycleMomentum: boolean;
  /** The optimizer keeps momentum as betas[0] (Adam) rather than `momentum` (SGD). */
  useBeta1: boolean;
  phases: Phase[];

  constructor(optimizer: Optimizer<GroupBase>, opts: OneCycleLROptions) {
    super('OneCycleLR', optimizer);
    const name = 'OneCycleLR';
    checkOptions(name, opts, [
      'maxLr', 'totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart', 'annealStrategy', 'cycleMomentum',
      'baseMomentum', 'maxMomentum', 'divFactor', 'finalDivFactor', 'threePhase',
    ]);
    if (opts.totalSteps !== undefined) {
      checkInteger(name, 'totalSteps', opts.totalSteps, 1);
      this.totalSteps = opts.totalSteps;
    } else {
      check(opts.epochs !== undefined && opts.stepsPerEpoch !== undefined, name, 'give totalSteps, or epochs and stepsPerEpoch');
      checkInteger(name, 'epochs', opts.epochs, 1);
      checkInteger(name, 'stepsPerEpoch', opts.stepsPerEpoch, 1);
      this.totalSteps = opts.epochs! * opts.stepsPerEpoch!;
    }
    const pct = opts.pctStart ?? 0.3;
    check(typeof pct === 'number' && pct >= 0 && pct <= 1, name, `pctStart should be a number in [0, 1], got ${pct}`);
    this.annealStrategy = opts.annealStrategy ?? 'cos';
    check(this.annealStrategy === 'cos' || this.annealStrategy === 'linear', name, `annealStrategy should be 'cos' or 'linear', got '${this.annealStrategy}'`);
    const divFactor = opts.divFactor ?? 25;
    const finalDivFactor = opts.finalDivFactor ?? 1e4;
    checkNumber(name, 'options', 'divFactor', divFactor, Number.MIN_VALUE);
    checkNumber(name, 'options', 'finalDivFactor', finalDivFactor, Number.MIN_VALUE);

    const T = this.totalSteps;
    this.phases = opts.threePhase
      ? [
          { endStep: pct * T - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
          { endStep: 2 * pct * T - 2, startLr: 'maxLr', endLr: 'initialLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
          { endStep: T - 1, startLr: 'initialLr', endLr: 'minLr', startMomentum: 'maxMomentum', endMomentum: 'maxMomentum' },
        ]
      : [
          { endStep: pct * T - 1, startLr: 'initialLr', endLr: 'maxLr', startMomentum: 'maxMomentum', endMomentum: 'baseMomentum' },
          { endStep: T - 1, startLr: 'maxLr', endLr: 'minLr', startMomentum: 'baseMomentum', endMomentum: 'maxMomentum' },
        ];

    const groups = optimizer.paramGroups as MomentumGroup[];
    const maxLrs = perGroup(name, 'maxLr', opts.maxLr, groups.length);
    groups.forEach((g, i) => {
      g.initialLr = maxLrs[i] / divFactor;
      g.maxLr = maxLrs[i];
      g.minLr = g.initialLr / finalDivFactor;
    });

    this.cycleMomentum = opts.cycleMomentum ?? true;
    this.useBeta1 = 'betas' in optimizer.defaults;
    if (this.cycleMomentum) {
      if (!('momentum' in optimizer.defaults) && !this.useBeta1) {
        throw new OpArgumentError(`${name}: ${optimizer.name} has no momentum or betas to cycle; pass cycleMomentum: false`);
      }
      const maxM = perGroup(name, 'maxMomentum', opts.maxMomentum ?? 0.95, groups.length);
      const baseM = perGroup(name, 'baseMomentum', opts.baseMomentum ?? 0.85, groups.length);
      groups.forEach((g, i) => {
        this.setMomentum(g, maxM[i]);
        g.maxMomentum = maxM[i];
        g.baseMomentum = baseM[i];
      });
    }
    // torch sets initial_lr before its base constructor runs: base lrs are the new initial lrs.
    this.baseLrs = groups.map((g) => g.initialLr!);
    this.initialStep();
  }

  private setMomentum(g: MomentumGroup, m: number): void {
    if (this.useBeta1) g.betas = [m, g.betas![1]];
    else g.momentum = m;
  }

  private anneal(start: number, end: number, pct: number): number {
    if (this.annealStrategy === 'linear') return (end - start) * pct + start;
    return end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
  }

  protected getLr(): number[] {
    const stepNum = this.lastEpoch;
    if (stepNum > this.totalSteps) {
      throw new OpArgumentError(`OneCycleLR: tried to step ${stepNum + 1} times; the schedule has totalSteps = ${this.totalSteps}`);
    }
    return (this.optimizer.paramGroups as MomentumGroup[]).map((g) => {
      let start = 0;
      for (let i = 0; i < this.phases.length; i++) {
        const phase = this.phases[i];
        if (stepNum <= phase.endStep || i === this.phases.length - 1) {
          const pct = (stepNum - start) / (phase.endStep - start);
          if (this.cycleMomentum) this.setMomentum(g, this.anneal(g[phase.startMomentum]!, g[phase.endMomentum]!, pct));
          return this.anneal(g[phase.startLr]!, g[phase.endLr]!, pct);
        }
        start = phase.endStep;
      }
      throw new Error('unreachable');
    });
  }
}

function perGroup(name: string, key: string, v: number | number[], groups: number): number[] {
  const list = Array.isArray(v) ? v : Array.from({ length: groups }, () => v);
  if (list.length !== groups) throw new OpArgumentError(`${name}: expected ${groups} values for ${key} (one per group), got ${list.length}`);
  list.forEach((x) => checkNumber(name, 'options', key, x, 0));
  return list;
}
