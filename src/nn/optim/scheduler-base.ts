// SPDX-License-Identifier: MIT
// LRScheduler: the base of every learning-rate schedule (torch.optim.lr_scheduler._LRScheduler).
//
// A scheduler rewrites `lr` in each of its optimizer's parameter groups; the optimizer's fused
// kernels read lr from their uniform struct at the next step(), so no pipeline is rebuilt.
// As in torch, construction performs the first step (lastEpoch goes from -1 to 0), so the group
// lrs hold epoch 0's values right away; call `scheduler.step()` after each `optimizer.step()`.
// Most schedules are *chainable* (torch's get_lr): the next lr is computed from the current one,
// so several schedulers can act on one optimizer, and SequentialLR can switch between them.

import { OpArgumentError } from '../../tensor/errors.js';
import { Optimizer, type GroupBase } from './optimizer.js';

/** Plain JSON: the scheduler's counters and settings (functions such as LambdaLR's are not saved). */
export type SchedulerStateDict = Record<string, unknown>;

export abstract class LRScheduler {
  /** Index of the last step taken (torch's last_epoch); -1 before construction ends. */
  lastEpoch = -1;
  /** Each group's initialLr when the scheduler was created. */
  baseLrs: number[];
  protected lastLr: number[] = [];
  protected stepCount = 0;

  protected constructor(
    /** The class name, used in error messages. */
    readonly name: string,
    readonly optimizer: Optimizer<GroupBase>,
  ) {
    if (!(optimizer instanceof Optimizer)) {
      throw new OpArgumentError(`${name}: expected an optimizer (wg.optim.SGD, Adam, ...), got ${optimizer === null ? 'null' : typeof optimizer}`);
    }
    for (const g of optimizer.paramGroups) g.initialLr ??= g.lr;
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr!);
  }

  /** The lrs for `lastEpoch`, computed from the groups' current lrs (torch's chainable get_lr). */
  protected abstract getLr(): number[];
  /** The lrs for `lastEpoch` from baseLrs alone, for schedules that have a closed form. */
  protected closedFormLr?(): number[];

  /**
   * Reset the step counter and take the first step (torch's _initial_step). Each subclass calls
   * it at the end of its constructor, once its own settings exist; SequentialLR calls it again.
   */
  initialStep(): void {
    this.stepCount = 0;
    this.step();
  }

  /** Advance one step (call after optimizer.step()) and write the new lrs into the groups. */
  step(): void {
    this.stepCount++;
    this.lastEpoch++;
    this.apply(this.getLr());
  }

  /**
   * Jump to `epoch` (torch's deprecated step(epoch)): uses the closed form when the schedule
   * has one, else the chainable form. SequentialLR uses it to restart a schedule at 0.
   */
  stepTo(epoch: number): void {
    this.stepCount++;
    this.lastEpoch = epoch;
    this.apply(this.closedFormLr ? this.closedFormLr() : this.getLr());
  }

  protected apply(lrs: number[]): void {
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = lrs[i]));
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The lr of each group as this scheduler last set it. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** Fields that stateDict() leaves out (functions, other schedulers). */
  protected unsavedKeys(): string[] {
    return [];
  }

  /** Every field except the optimizer, as plain JSON (torch: everything in __dict__ but the optimizer). */
  stateDict(): SchedulerStateDict {
    const out: SchedulerStateDict = {};
    for (const [k, v] of Object.entries(this)) {
      if (k === 'optimizer' || k === 'name' || this.unsavedKeys().includes(k)) continue;
      out[k] = JSON.parse(JSON.stringify(v));
    }
    return out;
  }

  /** Restore fields saved by stateDict() of a scheduler of the same class. */
  loadStateDict(sd: SchedulerStateDict): void {
    if (sd === null || typeof sd !== 'object') throw new OpArgumentError(`${this.name}.loadStateDict: expected an object from stateDict()`);
    for (const [k, v] of Object.entries(sd)) {
      if (k === 'optimizer' || k === 'name' || this.unsavedKeys().includes(k)) continue;
      if (!(k in this)) throw new OpArgumentError(`${this.name}.loadStateDict: unknown field '${k}'`);
      (this as unknown as Record<string, unknown>)[k] = JSON.parse(JSON.stringify(v));
    }
  }
}
