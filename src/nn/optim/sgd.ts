// SPDX-License-Identifier: MIT
// SGD with momentum, dampening, Nesterov and L2 weight decay: torch.optim.SGD, one fused
// sgd_update.wgsl dispatch per parameter (up to four per dispatch), or with `fused: true` one
// dispatch for the whole group.

import { Tensor } from '../../tensor/tensor.js';
import { check } from '../../tensor/errors.js';
import { sgdUpdate, sgdUpdateMany, flatUpdateLaunch, type SgdHyper, type SgdItem } from '../../kernels/optim.js';
import { Optimizer, type GroupBase, type ParamGroup, type ParamState, type Params } from './optimizer.js';
import { checkOptions, checkNumber } from './validate.js';

export interface SGDOptions {
  /** Learning rate (required, >= 0). */
  lr: number;
  /** Momentum factor (default 0: plain SGD, no state). */
  momentum?: number;
  /** Dampening for momentum (default 0). */
  dampening?: number;
  /** L2 penalty added to the gradient: g += weightDecay * p (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false; needs momentum > 0 and dampening 0). */
  nesterov?: boolean;
  /** Maximize the objective instead of minimizing it (default false). */
  maximize?: boolean;
  /**
   * One dispatch for each group's whole update, its tensors kept side by side in arenas (default
   * false). The parameters' storage moves into the arena at the first step(): views of a
   * parameter taken before then stop following it.
   */
  fused?: boolean;
}

/** A group's resolved hyperparameters: the update kernel's, less its per-step `firstStep` flag. */
export interface SGDHyper extends GroupBase, Omit<SgdHyper, 'firstStep'> {}

/**
 * Stochastic gradient descent, with torch's update rule:
 *   g = g + weightDecay * p;  buf = momentum * buf + (1 - dampening) * g  (buf = g on the first step);
 *   g = nesterov ? g + momentum * buf : buf;  p = p - lr * g.
 * State per parameter (momentum > 0 only): `momentum_buffer`.
 */
export class SGD extends Optimizer<SGDHyper> {
  /** The current group's updates, launched together by finishGroup. */
  private pending: SgdItem[] = [];

  constructor(params: Params<SGDHyper>, opts: SGDOptions) {
    checkOptions('SGD', opts, ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'maximize', 'fused']);
    check(opts.lr !== undefined, 'SGD', 'the learning rate `lr` is required');
    super('SGD', params, {
      lr: opts.lr,
      momentum: opts.momentum ?? 0,
      dampening: opts.dampening ?? 0,
      weightDecay: opts.weightDecay ?? 0,
      nesterov: opts.nesterov ?? false,
      maximize: opts.maximize ?? false,
      fused: opts.fused ?? false,
    });
  }

  protected validateGroup(g: Readonly<SGDHyper>, where: string): void {
    checkNumber('SGD', where, 'lr', g.lr, 0);
    checkNumber('SGD', where, 'momentum', g.momentum, 0);
    checkNumber('SGD', where, 'dampening', g.dampening);
    checkNumber('SGD', where, 'weightDecay', g.weightDecay, 0);
    check(typeof g.nesterov === 'boolean' && typeof g.maximize === 'boolean' && typeof g.fused === 'boolean', 'SGD', `${where}: nesterov, maximize and fused must be booleans`);
    check(
      !g.nesterov || (g.momentum > 0 && g.dampening === 0),
      'SGD',
      `${where}: Nesterov momentum requires momentum > 0 and dampening 0 (got momentum ${g.momentum}, dampening ${g.dampening})`,
    );
  }

  protected stateNames(g: Readonly<SGDHyper>): { allowed: string[]; required: string[] } {
    // A missing buffer is legal even after steps (momentum switched on later): it restarts as g.
    return { allowed: g.momentum !== 0 ? ['momentum_buffer'] : [], required: [] };
  }

  protected updateParam(group: ParamGroup<SGDHyper>, param: Tensor, grad: Tensor, state: ParamState): void {
    const useMomentum = group.momentum !== 0;
    let buf = state.tensors.get('momentum_buffer') ?? null;
    const firstStep = useMomentum && buf === null;
    if (useMomentum && buf === null) {
      // Uninitialised: the first-step kernel writes buf = g into every element.
      buf = this.newState(group, param, 'momentum_buffer', false);
      state.tensors.set('momentum_buffer', buf);
    }
    this.pending.push({ param, grad, momentumBuffer: useMomentum ? buf : null, firstStep });
    state.step++;
  }

  /** The group's updates, several parameters per dispatch where the device allows (sgdUpdateMany). */
  protected override finishGroup(group: ParamGroup<SGDHyper>): void {
    const items = this.pending;
    this.pending = [];
    const h = {
      lr: group.lr,
      momentum: group.momentum,
      dampening: group.dampening,
      weightDecay: group.weightDecay,
      nesterov: group.nesterov,
      maximize: group.maximize,
    };
    // Fused: one dispatch over the arenas when every parameter takes this step alike (all have
    // gradients, and all or none have momentum buffers yet); otherwise the update per slot.
    const flat = this.flatGroup(group);
    if (flat && items.length === group.params.length && items.every((it) => it.firstStep === items[0].firstStep)) {
      const momentum = group.momentum !== 0 ? flat.stateArena('momentum_buffer') : null;
      sgdUpdate(flat.params, flat.grads, momentum, { ...h, firstStep: items[0].firstStep }, flatUpdateLaunch('sgd'));
      return;
    }
    sgdUpdateMany(items, h);
  }
}
