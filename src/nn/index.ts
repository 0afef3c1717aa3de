// SPDX-License-Identifier: MIT
// wg.nn: modules (layers with parameters) and the functional ops they call.
export * as functional from './functional/index.js';
export { Module, StateDictError, type LoadStateDictResult } from './module.js';
export * from './layers/index.js';
export * as init from './init.js';
