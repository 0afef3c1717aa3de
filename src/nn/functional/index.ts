// SPDX-License-Identifier: MIT
// wg.nn.functional (alias wg.F): stateless ops on tensors, as torch.nn.functional.
// One file per family; each op's forward kernel launch and backward live in that file.
export { batchNorm, type BatchNormOptions } from './norm.js';
export { maxPool2d, avgPool2d, adaptiveAvgPool2d, type MaxPool2dOptions, type AvgPool2dOptions, type Size2 } from './pool.js';
export { relu, addRelu, softmax, logSoftmax } from './activation.js';
export { crossEntropy, type CrossEntropyOptions } from './loss.js';
export { linear } from './linear.js';
export { dropout, type DropoutOptions } from './dropout.js';
export { conv2d, setConvImplementation, getConvImplementation, type Conv2dOptions, type ConvImplementation } from './conv.js';
