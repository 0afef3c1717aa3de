// SPDX-License-Identifier: MIT
// Launcher for counter_add.wgsl: add an integer to an int32 tensor in place.

import source from './wgsl/counter_add.wgsl';
import { defineKernel, launch, grid1d } from './launch.js';
import { Uniforms } from './uniforms.js';
import { OpArgumentError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';

const counterKernel = defineKernel('counter_add', source, ['read_write', 'uniform']);
const WG = 64;

/** t += delta for a contiguous int32 tensor (no autograd; used for num_batches_tracked). */
export function counterAdd(t: Tensor, delta = 1): void {
  if (t.dtype !== 'int32' || !t.isContiguous || t.offset !== 0) {
    throw new OpArgumentError(`counterAdd: expected a contiguous int32 tensor at offset 0, got ${t.describe()}`);
  }
  const params = new Uniforms().u32(t.size).i32(delta).finish();
  launch(counterKernel, { buffers: [t.buffer], params, workgroups: grid1d(t.size, WG), constants: { WG }, label: 'counter_add' });
}
