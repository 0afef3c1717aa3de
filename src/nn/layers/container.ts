// SPDX-License-Identifier: MIT
// Sequential: children named '0', '1', ... applied in order, as torch.nn.Sequential.

import { Module } from '../module.js';
import type { Tensor } from '../../tensor/tensor.js';
import { OpArgumentError } from '../../tensor/errors.js';

export class Sequential extends Module {
  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Add a module at the end (its key is its index). Returns this. */
  append(m: Module): this {
    if (!(m instanceof Module)) throw new OpArgumentError(`Sequential: expected a Module, got ${String(m)}`);
    this.registerModule(String(this.length), m);
    return this;
  }

  get length(): number {
    return [...this.children()].length;
  }

  /** The i-th module (negative counts from the end). */
  at(i: number): Module {
    const items = [...this.children()];
    const m = items.at(i);
    if (!m) throw new OpArgumentError(`Sequential.at: index ${i} out of range for ${items.length} modules`);
    return m;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.children();
  }

  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.children()) y = m.forward(y);
    return y;
  }
}
