// SPDX-License-Identifier: MIT
// wg.io: reading and writing weights (safetensors) and checkpoints.
export {};
