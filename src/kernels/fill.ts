// SPDX-License-Identifier: MIT
// Launcher for fill.wgsl: constants and ranges.

import source from './wgsl/fill.wgsl';
import { defineKernel, launch, grid1d } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor, type DType } from '../tensor/tensor.js';
import type { Shape } from '../tensor/shape.js';

const fillKernel = defineKernel('fill', source, ['read_write', 'uniform']);
const fillVec4Kernel = defineKernel('fill', source, ['read_write', 'uniform'], 'main_vec4');
const WG = 256;
/** vec4s per invocation of main_vec4 (as the unary elementwise kernel: a store-only pass is all index and bounds work besides its stores). */
const V = 4;

/** out[i] = start + i * step, as float32 or int32: vec4 stores where numel is a multiple of 4. */
export function fillRange(shape: Shape, dtype: DType, start: number, step: number): Tensor {
  const out = emptyTensor(shape, dtype, 'fill');
  const n = out.size;
  const params = new Uniforms().u32(n).u32(dtype === 'int32' ? 1 : 0).f32(start).f32(step).finish();
  const vec4 = n % 4 === 0;
  const CONSTANT = step === 0 ? 1 : 0;
  launch(vec4 ? fillVec4Kernel : fillKernel, {
    buffers: [out.buffer],
    params,
    workgroups: vec4 ? grid1d(n / 4, WG * V) : grid1d(n, WG),
    constants: vec4 ? { WG, V, IS_INT: dtype === 'int32' ? 1 : 0, CONSTANT } : { WG, CONSTANT },
    label: 'fill',
  });
  return out;
}
