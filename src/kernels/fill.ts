// SPDX-License-Identifier: MIT
// Launcher for fill.wgsl: constants and ranges.

import source from './wgsl/fill.wgsl';
import { defineKernel, launch, grid1d } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor, type DType } from '../tensor/tensor.js';
import type { Shape } from '../tensor/shape.js';

const fillKernel = defineKernel('fill', source, ['read_write', 'uniform']);
const WG = 256;
/** vec4s per invocation (as the unary elementwise kernel's: a store-only pass is all index and bounds work besides its stores). */
const V = 4;

/** out[i] = start + i * step, as float32 or int32. */
export function fillRange(shape: Shape, dtype: DType, start: number, step: number): Tensor {
  const out = emptyTensor(shape, dtype, 'fill');
  const n = out.size;
  const params = new Uniforms().u32(n).u32(0).f32(start).f32(step).finish();
  launch(fillKernel, {
    buffers: [out.buffer],
    params,
    workgroups: grid1d(Math.ceil(n / 4), WG * V),
    constants: { WG, V, IS_INT: dtype === 'int32' ? 1 : 0, CONSTANT: step === 0 ? 1 : 0 },
    label: 'fill',
  });
  return out;
}
