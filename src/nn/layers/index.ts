// SPDX-License-Identifier: MIT
// The layers of wg.nn, one file per family.
export { Conv2d, type Conv2dOptions, type Pair } from './conv.js';
export { BatchNorm2d, type BatchNormOptions } from './batchnorm.js';
export { Linear, Identity, Flatten } from './linear.js';
export { ReLU } from './activation.js';
export { MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, type MaxPool2dOptions, type AvgPool2dOptions } from './pooling.js';
export { Dropout } from './dropout.js';
export { Sequential } from './container.js';
