// SPDX-License-Identifier: MIT
// F.dropout: zero each element with probability p and scale the survivors by 1 / (1 - p), as
// torch.nn.functional.dropout. The keep-mask (values 0 or 1/(1-p)) comes from the Philox
// generator (src/kernels/random.ts, DIST dropoutMask), so it is reproducible from `seed`, or
// from the global generator's next stream without one. Saved for backward: the mask;
// dx = gy * mask. p = 0 or training = false: the identity (a view of x, still in the graph).

import { Tensor, assertAlive, assertFloat } from '../../tensor/tensor.js';
import { OpArgumentError, fmtShape } from '../../tensor/errors.js';
import { recordOp } from '../../autograd/record.js';
import { reshape } from '../../ops/shape.js';
import { randomTensor } from '../../kernels/random.js';
import { binary } from '../../kernels/elementwise.js';
import { checkOptions } from './check-options.js';

export interface DropoutOptions {
  /** Seed for this call's mask (reproducible on its own); default: the global generator. */
  seed?: number;
}

export function dropout(x: Tensor, p = 0.5, training = true, opts: DropoutOptions = {}): Tensor {
  const op = 'dropout';
  checkOptions(op, opts, ['seed']);
  assertAlive(op, x);
  assertFloat(op, x);
  if (typeof p !== 'number' || !(p >= 0 && p <= 1)) {
    throw new OpArgumentError(`${op}: p must be a probability in [0, 1], got ${p} (input ${fmtShape(x.shape)})`);
  }
  if (opts.seed !== undefined && (!Number.isInteger(opts.seed) || opts.seed < 0)) {
    throw new OpArgumentError(`${op}: seed must be a non-negative integer, got ${opts.seed}`);
  }
  if (!training || p === 0) return reshape(x, x.shape);
  // p = 1 drops everything; a scale of 0 (not Infinity) keeps 0 * scale = 0.
  const scale = p === 1 ? 0 : 1 / (1 - p);
  const mask = randomTensor(x.shape, 'dropoutMask', p, scale, opts.seed);
  const y = binary('mul', x, mask);
  const out = recordOp(op, [x], y, [mask], (gy, [m]) => [binary('mul', gy, m)]);
  mask.dispose();
  return out;
}
