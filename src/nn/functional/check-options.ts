// SPDX-License-Identifier: MIT
// Options the functional ops do not know are rejected, never ignored: a typo (`kernel_size`) or
// a PyTorch option we do not implement (`divisorOverride`, class `weight`) must not silently
// change the result.

import { OpArgumentError } from '../../tensor/errors.js';

export function checkOptions(op: string, opts: object | undefined | null, allowed: readonly string[]): void {
  if (opts === undefined || opts === null) return;
  if (typeof opts !== 'object') throw new OpArgumentError(`${op}: options must be an object, got ${typeof opts}`);
  for (const key of Object.keys(opts)) {
    if (!allowed.includes(key)) {
      throw new OpArgumentError(`${op}: unknown or unsupported option '${key}' (supported: ${allowed.join(', ')})`);
    }
  }
}
