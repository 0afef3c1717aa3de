// SPDX-License-Identifier: MIT
// wg.nn: modules (layers with parameters) and the functional ops they call.
export * as functional from './functional/index.js';
