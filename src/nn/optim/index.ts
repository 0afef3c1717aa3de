// SPDX-License-Identifier: MIT
// wg.optim: optimizers whose update is one fused WGSL kernel, and learning-rate schedules.
export { Optimizer, type GroupBase, type ParamGroup, type ParamGroupInput, type Params, type OptimizerStateDict, type SavedGroup } from './optimizer.js';
export { SGD, type SGDOptions, type SGDHyper } from './sgd.js';
export { Adam, AdamW, type AdamOptions, type AdamHyper } from './adam.js';
export * as lrScheduler from './lr-scheduler.js';
