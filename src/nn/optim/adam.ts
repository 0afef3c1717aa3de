// SPDX-License-Identifier: MIT
// Adam (L2 weight decay in the gradient) and AdamW (decoupled weight decay): torch.optim.Adam /
// AdamW, one fused adam_update.wgsl dispatch per parameter (up to three per dispatch), or with
// `fused: true` one dispatch for the whole group.

import { Tensor } from '../../tensor/tensor.js';
import { check } from '../../tensor/errors.js';
import { adamUpdate, adamUpdateMany, flatUpdateLaunch, type AdamItem } from '../../kernels/optim.js';
import { Optimizer, type GroupBase, type ParamGroup, type ParamState, type Params } from './optimizer.js';
import { checkOptions, checkNumber } from './validate.js';

export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Decay rates of the first and second moment estimates, each in [0, 1) (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to the denominator (default 1e-8). */
  eps?: number;
  /** Adam: L2 penalty added to the gradient (default 0). AdamW: decoupled decay p *= 1 - lr * wd (default 1e-2). */
  weightDecay?: number;
  /** Use the running maximum of the second moment (AMSGrad, default false). */
  amsgrad?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
  /** One dispatch for each group's whole update (default false; see SGDOptions.fused). */
  fused?: boolean;
}

export interface AdamHyper extends GroupBase {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
  fused: boolean;
}

const OPTIONS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize', 'fused'];

function adamDefaults(name: string, opts: AdamOptions, defaultDecay: number): AdamHyper {
  checkOptions(name, opts, OPTIONS);
  return {
    lr: opts.lr ?? 1e-3,
    betas: (Array.isArray(opts.betas) ? [...opts.betas] : (opts.betas ?? [0.9, 0.999])) as [number, number],
    eps: opts.eps ?? 1e-8,
    weightDecay: opts.weightDecay ?? defaultDecay,
    amsgrad: opts.amsgrad ?? false,
    maximize: opts.maximize ?? false,
    fused: opts.fused ?? false,
  };
}

/** What Adam and AdamW share; they differ only in how weight decay enters the update. */
abstract class AdamBase extends Optimizer<AdamHyper> {
  /** The current group's updates, launched together by finishGroup. */
  private pending: AdamItem[] = [];

  protected constructor(name: string, private readonly decoupled: boolean, params: Params<AdamHyper>, opts: AdamOptions, defaultDecay: number) {
    super(name, params, adamDefaults(name, opts, defaultDecay));
  }

  protected validateGroup(g: Readonly<AdamHyper>, where: string): void {
    checkNumber(this.name, where, 'lr', g.lr, 0);
    checkNumber(this.name, where, 'eps', g.eps, 0);
    checkNumber(this.name, where, 'weightDecay', g.weightDecay, 0);
    check(Array.isArray(g.betas) && g.betas.length === 2, this.name, `${where}: betas should be [beta1, beta2], got ${JSON.stringify(g.betas)}`);
    g.betas.forEach((b, i) => {
      check(typeof b === 'number' && b >= 0 && b < 1, this.name, `${where}: invalid beta parameter at index ${i}: ${b} (expected 0 <= beta < 1)`);
    });
    check(typeof g.amsgrad === 'boolean' && typeof g.maximize === 'boolean' && typeof g.fused === 'boolean', this.name, `${where}: amsgrad, maximize and fused must be booleans`);
  }

  protected stateNames(g: Readonly<AdamHyper>): { allowed: string[]; required: string[] } {
    const moments = ['exp_avg', 'exp_avg_sq'];
    return { allowed: [...moments, 'max_exp_avg_sq'], required: g.amsgrad ? [...moments, 'max_exp_avg_sq'] : moments };
  }

  protected updateParam(group: ParamGroup<AdamHyper>, param: Tensor, grad: Tensor, state: ParamState): void {
    // First step: fresh, uninitialised state that the kernel treats as zeros (no fill pass).
    // Later, a missing tensor (amsgrad switched on mid-run) starts from real zeros.
    const firstStep = !state.tensors.has('exp_avg');
    const stateTensor = (name: string): Tensor => {
      let t = state.tensors.get(name);
      if (!t) {
        t = this.newState(group, param, name, !firstStep);
        state.tensors.set(name, t);
      }
      return t;
    };
    const expAvg = stateTensor('exp_avg');
    const expAvgSq = stateTensor('exp_avg_sq');
    const maxExpAvgSq = group.amsgrad ? stateTensor('max_exp_avg_sq') : null;
    const [beta1, beta2] = group.betas;
    const t = state.step + 1;
    this.pending.push({
      param, grad, expAvg, expAvgSq, maxExpAvgSq, firstStep,
      stepSize: group.lr / (1 - beta1 ** t),
      biasCorrection2Sqrt: Math.sqrt(1 - beta2 ** t),
    });
    state.step = t;
  }

  /** The group's updates, several parameters per dispatch where the device allows (adamUpdateMany). */
  protected override finishGroup(group: ParamGroup<AdamHyper>): void {
    const items = this.pending;
    this.pending = [];
    const [beta1, beta2] = group.betas;
    const h = {
      beta1,
      beta2,
      eps: group.eps,
      weightDecay: this.decoupled ? 0 : group.weightDecay,
      decayFactor: this.decoupled ? 1 - group.lr * group.weightDecay : 1,
      amsgrad: group.amsgrad,
      maximize: group.maximize,
    };
    // Fused: one dispatch over the arenas when every parameter takes this step alike (all have
    // gradients and the same step count, so the same bias corrections); otherwise per slot.
    const flat = this.flatGroup(group);
    const first = items[0];
    const alike = (it: AdamItem) => it.firstStep === first.firstStep && it.stepSize === first.stepSize && it.biasCorrection2Sqrt === first.biasCorrection2Sqrt;
    if (flat && items.length === group.params.length && items.every(alike)) {
      const state = (name: string) => flat.stateArena(name);
      adamUpdate(flat.params, flat.grads, state('exp_avg'), state('exp_avg_sq'), group.amsgrad ? state('max_exp_avg_sq') : null, {
        ...h, stepSize: first.stepSize, biasCorrection2Sqrt: first.biasCorrection2Sqrt, firstStep: first.firstStep,
      }, flatUpdateLaunch('adam'));
      return;
    }
    adamUpdateMany(items, h);
  }
}

/**
 * Adam (torch.optim.Adam): weight decay is an L2 term added to the gradient.
 * State per parameter: `exp_avg`, `exp_avg_sq` (+ `max_exp_avg_sq` with amsgrad) and a step count.
 */
export class Adam extends AdamBase {
  constructor(params: Params<AdamHyper>, opts: AdamOptions = {}) {
    super('Adam', false, params, opts, 0);
  }
}

/**
 * AdamW (torch.optim.AdamW): decoupled weight decay, p *= 1 - lr * weightDecay before the Adam
 * step (default weightDecay 1e-2). Same state as Adam.
 */
export class AdamW extends AdamBase {
  constructor(params: Params<AdamHyper>, opts: AdamOptions = {}) {
    super('AdamW', true, params, opts, 1e-2);
  }
}
