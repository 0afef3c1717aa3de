// SPDX-License-Identifier: MIT
// wg.optim: optimizers whose update is one fused WGSL kernel, and learning-rate schedules.
export {};
