// launch(): bind groups are cached by the buffers (and uniform slice) they bind, so a repeated
// step creates none, and a different buffer never gets another's bind group.
import { it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { pipelineStats } from '../../src/kernels/launch.js';
import { useDevice } from '../helpers.js';

useDevice();

it('reuses bind groups when a step binds the same pooled buffers again, and computes with the right ones', async () => {
  const a = wg.tensor([1, 2, 3, 4]);
  const b = wg.tensor([10, 20, 30, 40]);
  const step = async () => {
    const out = wg.scope(() => wg.mul(wg.add(a, b), a));
    const values = [...(await out.data())];
    out.dispose();
    return values;
  };
  // The pool hands out freed buffers in turn, so the first two steps bind different ones.
  for (let i = 0; i < 2; i++) expect(await step()).toEqual([11, 44, 99, 176]);
  const before = pipelineStats();
  for (let i = 0; i < 3; i++) expect(await step()).toEqual([11, 44, 99, 176]);
  const after = pipelineStats();
  expect(after.bindGroupMisses - before.bindGroupMisses).toBe(0);
  expect(after.bindGroupHits - before.bindGroupHits).toBe(6);
  // Another input buffer: a new bind group, and its values, not a's.
  const c = wg.tensor([2, 2, 2, 2]);
  const out = wg.add(c, b);
  expect([...(await out.data())]).toEqual([12, 22, 32, 42]);
  expect(pipelineStats().bindGroupMisses).toBeGreaterThan(after.bindGroupMisses);
  for (const t of [a, b, c, out]) t.dispose();
});
