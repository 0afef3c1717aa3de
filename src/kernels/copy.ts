// SPDX-License-Identifier: MIT
// Launcher for copy_strided.wgsl: copy one strided view into another of the same shape.

import source from './wgsl/copy_strided.wgsl';
import { defineKernel, launch } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor } from '../tensor/tensor.js';
import { broadcastStrides, contiguousStrides } from '../tensor/shape.js';
import { planRuns, packRuns, runLaunch } from './runs.js';
import { commands } from '../tensor/queue.js';
import { rawBuffer, byteOffsetOf, sameBuffer, type BufferRef } from '../tensor/storage.js';

const copyKernel = defineKernel('copy_strided', source, ['read', 'read_write', 'uniform']);
const copyAnyRowsKernel = defineKernel('copy_strided', source, ['read', 'read_write', 'uniform'], 'main_any_rows');
const WG = 256;

/** A view into a destination buffer: where `copyInto` writes. */
export interface DestinationView {
  buffer: BufferRef;
  offset: number;
  strides: readonly number[];
}

/** Write the elements of `src` (any view) into `dst` (a view of the same shape). */
export function copyInto(src: Tensor, dst: DestinationView, label = 'copy'): void {
  const n = src.size;
  if (n === 0) return;
  // Both sides plain row-major: a buffer-to-buffer copy (a memcpy on lavapipe, ~6x the shader's
  // bandwidth). WebGPU forbids it within one buffer, so that case takes the kernel.
  const rowMajor = contiguousStrides(src.shape);
  const plainLayout = (strides: readonly number[]) => src.shape.every((d, i) => d === 1 || strides[i] === rowMajor[i]);
  if (plainLayout(src.strides) && plainLayout(dst.strides) && !sameBuffer(src.buffer, dst.buffer)) {
    commands().copy(rawBuffer(src.buffer), byteOffsetOf(src.buffer) + src.offset * 4, rawBuffer(dst.buffer), byteOffsetOf(dst.buffer) + dst.offset * 4, n * 4);
    return;
  }
  if (sameBuffer(src.buffer, dst.buffer) && src.buffer !== dst.buffer) {
    // Two ranges of one buffer (parameters in a fused optimizer's arena): a dispatch may not read
    // one range of a buffer while it writes another, so go through a temporary.
    const staged = copyContiguous(src);
    copyInto(staged, dst, label);
    staged.dispose();
    return;
  }
  const plan = planRuns(src.shape, [src, dst]);
  const [vs, vd] = plan.views;
  const runs = runLaunch(plan, WG);
  launch(vd.mode === 1 ? copyKernel : copyAnyRowsKernel, {
    buffers: [src.buffer, dst.buffer],
    params: packRuns(plan, new Uniforms()).finish(),
    workgroups: runs.workgroups,
    constants: { WG, SRC_MODE: vs.mode, RUNS: runs.RUNS },
    label,
  });
}

/** A fresh contiguous copy of any view, same dtype. */
export function copyContiguous(src: Tensor): Tensor {
  const out = emptyTensor(src.shape, src.dtype, 'contiguous');
  copyInto(src, { buffer: out.buffer, offset: 0, strides: contiguousStrides(src.shape) }, 'contiguous');
  return out;
}

/** A contiguous copy of the view (shape, strides, offset) of `src`'s storage. */
export function copyView(src: Tensor, shape: readonly number[], strides: readonly number[], offset = src.offset): Tensor {
  const view = new Tensor(src.storage.retain(), shape, src.dtype, { strides, offset });
  const out = copyContiguous(view);
  view.dispose();
  return out;
}

/** A contiguous copy of `src` broadcast to `shape` (NumPy rules: size-1 dimensions repeat). */
export function copyBroadcast(src: Tensor, shape: readonly number[]): Tensor {
  return copyView(src, shape, broadcastStrides(src.shape, src.strides, shape));
}
