// SPDX-License-Identifier: MIT
// wgslgrad: a TypeScript tensor engine with reverse-mode autograd whose kernels are WGSL.
//   import * as wg from 'wgslgrad';  await wg.init();  ...  await wg.close();

export { init, close, type InitOptions, type AdapterSummary } from './tensor/device.js';
export { flush, sync } from './tensor/queue.js';
export { profile, type ProfileEntry, type ProfileOptions } from './tensor/profiler.js';
export { memory, emptyCache, resetPeakMemory, type Memory } from './tensor/storage.js';
export { scope, keep } from './tensor/scope.js';
export { Tensor, type DType } from './tensor/tensor.js';
export * from './tensor/errors.js';
export { tensor, zeros, ones, full, arange, rand, randn, zerosLike, onesLike, type TensorOptions } from './ops/creation.js';
export { manualSeed, getRngState, setRngState } from './kernels/random.js';
export { add, sub, mul, div, pow, maximum, minimum, neg, exp, log, sqrt, abs, relu, sigmoid, tanh, gt, lt, ge, le, eq, ne } from './ops/elementwise.js';
export { sum, mean, max, min, argmax } from './ops/reduce.js';
export { reshape, flatten, permute, transpose, slice, unsqueeze, squeeze, expand, contiguous, cat } from './ops/shape.js';
export { matmul, type MatmulOptions } from './ops/matmul.js';
export { noGrad, isGradEnabled, setGradEnabled } from './autograd/grad-mode.js';
export { detectAnomaly } from './autograd/detect-anomaly.js';
export { precompile, pipelineStats } from './kernels/launch.js';
export { warmup } from './kernels/warmup.js';
export { autotune, autotuneCache, setAutotuneCache, type AutotuneResult, type AutotuneCache } from './kernels/autotune.js';
export * as nn from './nn/index.js';
export * as F from './nn/functional/index.js';
export * as optim from './nn/optim/index.js';
export * as models from './resnet/index.js';
export * as io from './io/index.js';
export * as data from './data/index.js';
