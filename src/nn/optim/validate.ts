// SPDX-License-Identifier: MIT
// Argument checks shared by the optimizers and lr schedulers: each throws OpArgumentError
// naming the class, before anything is dispatched.

import { OpArgumentError } from '../../tensor/errors.js';

/** Reject option objects that are missing or carry unknown keys (a typo must not be ignored). */
export function checkOptions(name: string, opts: unknown, allowed: readonly string[]): void {
  if (opts === null || typeof opts !== 'object') {
    throw new OpArgumentError(`${name}: expected an options object { ${allowed.join(', ')} }, got ${opts === null ? 'null' : typeof opts}`);
  }
  for (const k of Object.keys(opts)) {
    if (!allowed.includes(k)) throw new OpArgumentError(`${name}: unknown option '${k}' (expected one of ${allowed.join(', ')})`);
  }
}

/** A finite number, optionally >= min; `where` says which group or option set it came from. */
export function checkNumber(name: string, where: string, key: string, v: unknown, min?: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || (min !== undefined && v < min)) {
    const want = min === undefined ? 'a finite number' : `a number >= ${min}`;
    throw new OpArgumentError(`${name}: invalid ${key} ${String(v)} in ${where} (expected ${want})`);
  }
}

/** An integer >= min. */
export function checkInteger(name: string, key: string, v: unknown, min: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new OpArgumentError(`${name}: ${key} should be an integer >= ${min}, got ${String(v)}`);
  }
}
