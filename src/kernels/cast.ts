// SPDX-License-Identifier: MIT
// Launcher for cast.wgsl: int32 <-> float32.

import source from './wgsl/cast.wgsl';
import { defineKernel, launch, grid1d } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor, type DType } from '../tensor/tensor.js';

const castKernel = defineKernel('cast', source, ['read', 'read_write', 'uniform']);
const WG = 256;
/** vec4s per invocation (as the unary elementwise kernel's). */
const V = 4;

/** A contiguous `x` converted to `dtype` (float -> int truncates toward zero). */
export function cast(x: Tensor, dtype: DType): Tensor {
  const out = emptyTensor(x.shape, dtype, 'cast');
  const params = new Uniforms().u32(x.size).finish();
  launch(castKernel, {
    buffers: [x.buffer, out.buffer],
    params,
    workgroups: grid1d(Math.ceil(x.size / 4), WG * V),
    constants: { TO_FLOAT: dtype === 'float32' ? 1 : 0, WG, V },
    label: `cast(${x.dtype}->${dtype})`,
  });
  return out;
}
