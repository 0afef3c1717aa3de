// SPDX-License-Identifier: MIT
// wg.nn.functional (alias wg.F): stateless ops on tensors, as torch.nn.functional.
// One file per family; each op's forward kernel launch and backward live in that file.
export { batchNorm, type BatchNormOptions } from './norm.js';
export { maxPool2d, avgPool2d, adaptiveAvgPool2d, type MaxPool2dOptions, type AvgPool2dOptions, type Size2 } from './pool.js';
