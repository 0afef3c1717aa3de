// Core ops (elementwise, reductions, shape ops, matmul) against PyTorch fixtures:
// forward within 1e-4 and gradients within 1e-3 of the largest expected magnitude.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice, loadFixtures, fromFixture, expectTensorClose, FORWARD_TOL, GRAD_TOL, type FixtureCase } from '../helpers.js';

useDevice();

type Inputs = Record<string, wg.Tensor>;
const O = (c: FixtureCase) => c.options as Record<string, any>;

/** How each fixture op id maps onto the library. */
const ops: Record<string, (i: Inputs, c: FixtureCase) => wg.Tensor> = {
  add: (i) => wg.add(i.a, i.b), sub: (i) => wg.sub(i.a, i.b), mul: (i) => wg.mul(i.a, i.b),
  div: (i) => wg.div(i.a, i.b), pow: (i) => wg.pow(i.a, i.b),
  maximum: (i) => wg.maximum(i.a, i.b), minimum: (i) => wg.minimum(i.a, i.b),
  neg: (i) => wg.neg(i.x), exp: (i) => wg.exp(i.x), log: (i) => wg.log(i.x), sqrt: (i) => wg.sqrt(i.x),
  relu: (i) => wg.relu(i.x), sigmoid: (i) => wg.sigmoid(i.x), tanh: (i) => wg.tanh(i.x), abs: (i) => wg.abs(i.x),
  gt: (i) => wg.gt(i.a, i.b), lt: (i) => wg.lt(i.a, i.b), ge: (i) => wg.ge(i.a, i.b), le: (i) => wg.le(i.a, i.b), eq: (i) => wg.eq(i.a, i.b),
  sum: (i, c) => wg.sum(i.x, O(c).axes, O(c).keepdim),
  mean: (i, c) => wg.mean(i.x, O(c).axes, O(c).keepdim),
  max: (i, c) => wg.max(i.x, O(c).axes, O(c).keepdim),
  argmax: (i, c) => wg.argmax(i.x, O(c).axis),
  reshape: (i, c) => wg.reshape(i.x, O(c).shape),
  permute: (i, c) => wg.permute(i.x, O(c).dims),
  transpose: (i, c) => wg.transpose(i.x, O(c).dim0, O(c).dim1),
  slice: (i, c) => wg.slice(i.x, O(c).dim, O(c).start, O(c).end, O(c).step),
  contiguous: (i, c) => wg.contiguous(wg.permute(i.x, O(c).dims)),
  matmul: (i, c) => wg.matmul(i.a, i.b, { transA: O(c).transA, transB: O(c).transB }),
};

async function runCase(c: FixtureCase): Promise<void> {
  const fn = ops[c.op];
  expect(fn, `no mapping for fixture op ${c.op}`).toBeDefined();
  const withGrad = c.gradOutput !== null && Object.keys(c.grads).length > 0;
  const inputs: Inputs = {};
  for (const [k, v] of Object.entries(c.inputs)) inputs[k] = fromFixture(v, withGrad && k in c.grads);
  const y = fn(inputs, c);
  await expectTensorClose(y, c.outputs.y, FORWARD_TOL, `${c.name} forward`);
  if (withGrad) {
    const gy = fromFixture(c.gradOutput!);
    y.backward(gy);
    for (const [k, g] of Object.entries(c.grads)) {
      expect(inputs[k].grad, `${c.name}: grad of ${k}`).not.toBeNull();
      await expectTensorClose(inputs[k].grad!, g, GRAD_TOL, `${c.name} grad ${k}`);
    }
    gy.dispose();
  }
  y.dispose();
  for (const t of Object.values(inputs)) t.dispose();
}

for (const group of ['elementwise', 'reduce', 'shape', 'matmul']) {
  describe(`${group} vs PyTorch`, () => {
    for (const c of loadFixtures(group)) it(c.name, () => runCase(c));
  });
}
