// SPDX-License-Identifier: MIT
// Launcher for fill.wgsl: constants and ranges.

import source from './wgsl/fill.wgsl';
import { defineKernel, launch, grid1d } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor, type DType } from '../tensor/tensor.js';
import type { Shape } from '../tensor/shape.js';

const fillKernel = defineKernel('fill', source, ['read_write', 'uniform']);
const WG = 256;

/** out[i] = start + i * step, as float32 or int32. */
export function fillRange(shape: Shape, dtype: DType, start: number, step: number): Tensor {
  const out = emptyTensor(shape, dtype, 'fill');
  const n = out.size;
  const params = new Uniforms().u32(n).u32(dtype === 'int32' ? 1 : 0).f32(start).f32(step).finish();
  launch(fillKernel, { buffers: [out.buffer], params, workgroups: grid1d(n, WG), constants: { WG }, label: 'fill' });
  return out;
}
