// SPDX-License-Identifier: MIT
// wg.optim.lrScheduler: learning-rate schedules with torch.optim.lr_scheduler's semantics
// (torch 1.13; checked against it by test/nn/lr-scheduler.test.ts). Each one is constructed on
// an optimizer, takes its first step in the constructor, and offers step(), getLastLr(),
// stateDict() and loadStateDict().

import { OpArgumentError, check } from '../../tensor/errors.js';
import type { GroupBase, Optimizer } from './optimizer.js';
import { LRScheduler, type SchedulerStateDict } from './scheduler-base.js';
import { checkOptions, checkNumber, checkInteger } from './validate.js';

export { LRScheduler, type SchedulerStateDict } from './scheduler-base.js';
export { OneCycleLR, type OneCycleLROptions } from './one-cycle-lr.js';

type AnyOptimizer = Optimizer<GroupBase>;

function currentLrs(opt: AnyOptimizer): number[] {
  return opt.paramGroups.map((g) => g.lr);
}

/** Number of entries of the sorted array `a` that are <= x (Python's bisect_right). */
function bisectRight(a: readonly number[], x: number): number {
  let i = 0;
  while (i < a.length && a[i] <= x) i++;
  return i;
}

/** lr *= gamma every `stepSize` steps. */
export class StepLR extends LRScheduler {
  stepSize: number;
  gamma: number;

  constructor(optimizer: AnyOptimizer, opts: { stepSize: number; gamma?: number }) {
    super('StepLR', optimizer);
    checkOptions('StepLR', opts, ['stepSize', 'gamma']);
    checkInteger('StepLR', 'stepSize', opts.stepSize, 1);
    this.stepSize = opts.stepSize;
    this.gamma = opts.gamma ?? 0.1;
    checkNumber('StepLR', 'options', 'gamma', this.gamma, 0);
    this.initialStep();
  }

  protected getLr(): number[] {
    const lrs = currentLrs(this.optimizer);
    if (this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0) return lrs;
    return lrs.map((lr) => lr * this.gamma);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** Math.floor(this.lastEpoch / this.stepSize));
  }
}

/** lr *= gamma at each milestone (a milestone listed twice applies gamma twice, as in torch). */
export class MultiStepLR extends LRScheduler {
  /** Sorted, with repeats. */
  milestones: number[];
  gamma: number;

  constructor(optimizer: AnyOptimizer, opts: { milestones: number[]; gamma?: number }) {
    super('MultiStepLR', optimizer);
    checkOptions('MultiStepLR', opts, ['milestones', 'gamma']);
    check(Array.isArray(opts.milestones), 'MultiStepLR', `milestones should be an array of step indices, got ${typeof opts.milestones}`);
    opts.milestones.forEach((m) => checkInteger('MultiStepLR', 'each milestone', m, 0));
    this.milestones = [...opts.milestones].sort((a, b) => a - b);
    this.gamma = opts.gamma ?? 0.1;
    checkNumber('MultiStepLR', 'options', 'gamma', this.gamma, 0);
    this.initialStep();
  }

  protected getLr(): number[] {
    const count = this.milestones.filter((m) => m === this.lastEpoch).length;
    const lrs = currentLrs(this.optimizer);
    return count === 0 ? lrs : lrs.map((lr) => lr * this.gamma ** count);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** bisectRight(this.milestones, this.lastEpoch));
  }
}

/** lr *= gamma every step. */
export class ExponentialLR extends LRScheduler {
  gamma: number;

  constructor(optimizer: AnyOptimizer, opts: { gamma: number }) {
    super('ExponentialLR', optimizer);
    checkOptions('ExponentialLR', opts, ['gamma']);
    checkNumber('ExponentialLR', 'options', 'gamma', opts.gamma, 0);
    this.gamma = opts.gamma;
    this.initialStep();
  }

  protected getLr(): number[] {
    const lrs = currentLrs(this.optimizer);
    return this.lastEpoch === 0 ? lrs : lrs.map((lr) => lr * this.gamma);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => b * this.gamma ** this.lastEpoch);
  }
}

/**
 * Linear warm-up (or decay): the lr factor moves linearly from startFactor to endFactor over
 * totalIters steps, then stays (defaults 1/3, 1, 5).
 */
export class LinearLR extends LRScheduler {
  startFactor: number;
  endFactor: number;
  totalIters: number;

  constructor(optimizer: AnyOptimizer, opts: { startFactor?: number; endFactor?: number; totalIters?: number } = {}) {
    super('LinearLR', optimizer);
    checkOptions('LinearLR', opts, ['startFactor', 'endFactor', 'totalIters']);
    this.startFactor = opts.startFactor ?? 1 / 3;
    this.endFactor = opts.endFactor ?? 1;
    this.totalIters = opts.totalIters ?? 5;
    check(typeof this.startFactor === 'number' && this.startFactor > 0 && this.startFactor <= 1, 'LinearLR', `startFactor should be in (0, 1], got ${this.startFactor}`);
    check(typeof this.endFactor === 'number' && this.endFactor >= 0 && this.endFactor <= 1, 'LinearLR', `endFactor should be in [0, 1], got ${this.endFactor}`);
    checkInteger('LinearLR', 'totalIters', this.totalIters, 1);
    this.initialStep();
  }

  protected getLr(): number[] {
    const lrs = currentLrs(this.optimizer);
    if (this.lastEpoch === 0) return lrs.map((lr) => lr * this.startFactor);
    if (this.lastEpoch > this.totalIters) return lrs;
    const d = this.endFactor - this.startFactor;
    const factor = 1 + d / (this.totalIters * this.startFactor + (this.lastEpoch - 1) * d);
    return lrs.map((lr) => lr * factor);
  }

  protected override closedFormLr(): number[] {
    const t = Math.min(this.totalIters, this.lastEpoch) / this.totalIters;
    return this.baseLrs.map((b) => b * (this.startFactor + (this.endFactor - this.startFactor) * t));
  }
}

/**
 * Cosine annealing from the initial lr down to etaMin over tMax steps (then back up: the
 * cosine is periodic, as in torch, which has no restarts here).
 *   lr_t = etaMin + (lr_0 - etaMin) * (1 + cos(pi * t / tMax)) / 2
 */
export class CosineAnnealingLR extends LRScheduler {
  tMax: number;
  etaMin: number;

  constructor(optimizer: AnyOptimizer, opts: { tMax: number; etaMin?: number }) {
    super('CosineAnnealingLR', optimizer);
    checkOptions('CosineAnnealingLR', opts, ['tMax', 'etaMin']);
    checkInteger('CosineAnnealingLR', 'tMax', opts.tMax, 1);
    this.tMax = opts.tMax;
    this.etaMin = opts.etaMin ?? 0;
    checkNumber('CosineAnnealingLR', 'options', 'etaMin', this.etaMin, 0);
    this.initialStep();
  }

  protected getLr(): number[] {
    const { lastEpoch: t, tMax, etaMin } = this;
    const lrs = currentLrs(this.optimizer);
    if (t === 0) return lrs;
    if (this.stepCount === 1 && t > 0) return this.closedFormLr();
    if ((t - 1 - tMax) % (2 * tMax) === 0) {
      // The previous lr was the minimum, where the ratio below would divide by zero.
      return lrs.map((lr, i) => lr + ((this.baseLrs[i] - etaMin) * (1 - Math.cos(Math.PI / tMax))) / 2);
    }
    const ratio = (1 + Math.cos((Math.PI * t) / tMax)) / (1 + Math.cos((Math.PI * (t - 1)) / tMax));
    return lrs.map((lr) => ratio * (lr - etaMin) + etaMin);
  }

  protected override closedFormLr(): number[] {
    return this.baseLrs.map((b) => this.etaMin + ((b - this.etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / this.tMax))) / 2);
  }
}

/** lr = initialLr * lrLambda(step), one function per group or one for all (not saved by stateDict). */
export class LambdaLR extends LRScheduler {
  private lrLambdas: Array<(epoch: number) => number>;

  constructor(optimizer: AnyOptimizer, opts: { lrLambda: ((epoch: number) => number) | Array<(epoch: number) => number> }) {
    super('LambdaLR', optimizer);
    checkOptions('LambdaLR', opts, ['lrLambda']);
    const n = optimizer.paramGroups.length;
    const fns = Array.isArray(opts.lrLambda) ? opts.lrLambda : Array.from({ length: n }, () => opts.lrLambda as (e: number) => number);
    check(fns.length === n && fns.every((f) => typeof f === 'function'), 'LambdaLR', `lrLambda should be a function or ${n} functions (one per group)`);
    this.lrLambdas = fns;
    this.initialStep();
  }

  protected getLr(): number[] {
    return this.baseLrs.map((b, i) => b * this.lrLambdas[i](this.lastEpoch));
  }

  protected override unsavedKeys(): string[] {
    return ['lrLambdas'];
  }
}

/**
 * Run schedulers one after another: schedulers[i] drives the lr from milestones[i-1] on, and is
 * restarted at its own step 0 there. E.g. a linear warm-up then cosine annealing:
 *   new SequentialLR(opt, { schedulers: [new LinearLR(opt, {...}), new CosineAnnealingLR(opt, {...})], milestones: [5] })
 */
export class SequentialLR extends LRScheduler {
  milestones: number[];
  private schedulers: LRScheduler[];

  constructor(optimizer: AnyOptimizer, opts: { schedulers: LRScheduler[]; milestones: number[] }) {
    super('SequentialLR', optimizer);
    checkOptions('SequentialLR', opts, ['schedulers', 'milestones']);
    const { schedulers, milestones } = opts;
    check(Array.isArray(schedulers) && schedulers.length > 0, 'SequentialLR', 'schedulers should be a non-empty array');
    schedulers.forEach((s, i) => {
      check(s instanceof LRScheduler, 'SequentialLR', `schedulers[${i}] is not an LR scheduler`);
      check(s.optimizer === optimizer, 'SequentialLR', `schedulers[${i}] belongs to a different optimizer than the one passed in`);
    });
    check(
      Array.isArray(milestones) && milestones.length === schedulers.length - 1,
      'SequentialLR',
      `expects one milestone fewer than schedulers, got ${schedulers.length} scheduler(s) and ${Array.isArray(milestones) ? milestones.length : 'no'} milestone(s)`,
    );
    milestones.forEach((m, i) => {
      checkInteger('SequentialLR', 'each milestone', m, 1);
      check(i === 0 || m > milestones[i - 1], 'SequentialLR', `milestones should increase, got ${JSON.stringify(milestones)}`);
    });
    this.schedulers = [...schedulers];
    this.milestones = [...milestones];
    this.lastEpoch = 0;
    // As torch: reset the lrs, undo the first step the schedulers took, then restart the first.
    for (const g of optimizer.paramGroups) g.lr = g.initialLr!;
    for (const s of this.schedulers) s.lastEpoch -= 1;
    this.schedulers[0].initialStep();
    this.lastLr = this.schedulers[0].getLastLr();
  }

  protected getLr(): number[] {
    return currentLrs(this.optimizer);
  }

  override step(): void {
    this.lastEpoch++;
    const idx = bisectRight(this.milestones, this.lastEpoch);
    const s = this.schedulers[idx];
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) s.stepTo(0);
    else s.step();
    this.lastLr = s.getLastLr();
  }

  protected override unsavedKeys(): string[] {
    return ['schedulers'];
  }

  override stateDict(): SchedulerStateDict {
    return { ...super.stateDict(), schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  override loadStateDict(sd: SchedulerStateDict): void {
    const { schedulers, ...own } = sd;
    if (!Array.isArray(schedulers) || schedulers.length !== this.schedulers.length) {
      throw new OpArgumentError(`SequentialLR.loadStateDict: expected the states of ${this.schedulers.length} schedulers`);
    }
    super.loadStateDict(own);
    schedulers.forEach((s, i) => this.schedulers[i].loadStateDict(s as SchedulerStateDict));
  }
}
