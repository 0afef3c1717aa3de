// SPDX-License-Identifier: MIT
// Launchers for the option-A shortcut of the CIFAR ResNets (shortcut_a_forward.wgsl and
// shortcut_a_backward.wgsl): subsample by 2 and zero-pad the channels in one pass, and its
// gradient in one pass. Plain (contiguous, offset 0) tensors; no autograd (see ShortcutA in
// src/resnet/cifar.ts for the differentiable op). With pad 0 they are plain subsample-by-2 and
// its scatter: the 1x1 stride-2 convolutions use them around a GEMM (src/kernels/conv2d.ts).

import forwardSource from './wgsl/shortcut_a_forward.wgsl';
import backwardSource from './wgsl/shortcut_a_backward.wgsl';
import { defineKernel, launch, grid1d } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor } from '../tensor/tensor.js';

const forwardKernel = defineKernel('shortcut_a_forward', forwardSource, ['read', 'read_write', 'uniform']);
const backwardKernel = defineKernel('shortcut_a_backward', backwardSource, ['read', 'read_write', 'uniform']);
const forwardVec4Kernel = defineKernel('shortcut_a_forward', forwardSource, ['read', 'read_write', 'uniform'], 'main_vec4');
const backwardVec4Kernel = defineKernel('shortcut_a_backward', backwardSource, ['read', 'read_write', 'uniform'], 'main_vec4');
const WG = 256;

/** x: (N, C, H, W) -> the shortcut's output shape, `struct ShortcutParams` and the geometry
 * constants of the pipeline (see the .wgsl files: constant divisors). */
function shortcutLaunch(xShape: readonly number[], pad: number): { yShape: number[]; params: Uint8Array; constants: Record<string, number> } {
  const [N, C, H, W] = xShape;
  return {
    yShape: [N, C + 2 * pad, Math.ceil(H / 2), Math.ceil(W / 2)],
    params: new Uniforms().u32(N).finish(),
    constants: { WG, C, H, W, PAD: pad },
  };
}

/**
 * y = x[:, :, ::2, ::2] with `pad` zero channels before and after. Rows of W % 8 == 0 take
 * `main_vec4` (4 outputs from two vec4 loads): on lavapipe 0.29-0.42x the CPU time of one output
 * per invocation (CIFAR ResNet-20's two shortcuts at batch 128, ResNet-18's 56x56 at batch 8).
 */
export function shortcutAForward(x: Tensor, pad: number): Tensor {
  const { yShape, params, constants } = shortcutLaunch(x.shape, pad);
  const y = emptyTensor(yShape, 'float32', 'shortcut_a');
  const vec4 = x.shape[3] % 8 === 0;
  launch(vec4 ? forwardVec4Kernel : forwardKernel, {
    buffers: [x.buffer, y.buffer], params, workgroups: grid1d(vec4 ? y.size / 4 : y.size, WG), constants, label: 'shortcut_a_forward',
  });
  return y;
}

/**
 * dx (N, C, H, W) from gy (N, C + 2 * pad, ceil(H/2), ceil(W/2)). Rows of W % 4 == 0 take
 * `main_vec4` (an even and an odd row's 4 columns per invocation): on lavapipe 0.24-0.25x the CPU
 * time of one value per invocation (the same shapes and ResNet-18's 28x28), 75-79% of relu's byte rate.
 */
export function shortcutABackward(gy: Tensor, xShape: readonly number[], pad: number): Tensor {
  const { params, constants } = shortcutLaunch(xShape, pad);
  const dx = emptyTensor(xShape, 'float32', 'shortcut_a_backward');
  const [N, C, H, W] = xShape;
  const vec4 = W % 4 === 0;
  const invocations = vec4 ? N * C * Math.ceil(H / 2) * (W / 4) : dx.size;
  launch(vec4 ? backwardVec4Kernel : backwardKernel, {
    buffers: [gy.buffer, dx.buffer], params, workgroups: grid1d(invocations, WG), constants, label: 'shortcut_a_backward',
  });
  return dx;
}
