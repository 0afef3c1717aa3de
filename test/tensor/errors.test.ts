// Bad input raises an OpArgumentError naming the op, the shapes and what was expected,
// before anything is dispatched.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';

useDevice();

describe('validation errors', () => {
  const a = () => wg.ones([2, 3]);
  it('broadcasting mismatch', () => {
    expect(() => wg.add(a(), wg.ones([4]))).toThrow(wg.OpArgumentError);
    expect(() => wg.add(a(), wg.ones([4]))).toThrow(/add: shapes \[2, 3\] and \[4\] cannot be broadcast/);
  });
  it('matmul inner dimension', () => {
    expect(() => wg.matmul(a(), wg.ones([2, 3]))).toThrow(/matmul: inner dimensions differ: \[2, 3\] @ \[2, 3\] \(3 vs 2\)/);
    expect(() => wg.matmul(wg.ones([2, 2, 3]), wg.ones([3, 3, 2]))).toThrow(/matmul: shapes \[2\] and \[3\] cannot be broadcast/);
  });
  it('wrong dtype', () => {
    const labels = wg.tensor(new Int32Array([1, 2, 3]));
    expect(() => wg.exp(labels)).toThrow(/exp: expected float32 input, got \[3\] int32/);
  });
  it('reshape element count', () => {
    expect(() => a().reshape([4, 2])).toThrow(/reshape: input \[2, 3\] \(6 elements\) cannot be viewed as \[4, 2\] \(8 elements\)/);
    expect(() => a().reshape([-1, -1])).toThrow(/only one dimension can be -1/);
  });
  it('axes out of range', () => {
    expect(() => a().sum(2)).toThrow(/sum: axis 2 is out of range for a tensor of rank 2/);
    expect(() => a().permute([0, 0])).toThrow(/permute: dims \[0, 0\] is not a permutation/);
  });
  it('tensor() data/shape mismatch', () => {
    expect(() => wg.tensor([1, 2, 3], [2, 2])).toThrow(/tensor: 3 values cannot fill shape \[2, 2\]/);
    expect(() => wg.zeros([2, -1])).toThrow(/invalid shape/);
  });
  it('errors are raised before anything is recorded', () => {
    const x = a();
    wg.flush();
    const before = wg.memory();
    expect(() => wg.add(x, wg.ones([5]))).toThrow();
    // only the ones([5]) argument itself was created
    expect(wg.memory().liveTensors).toBe(before.liveTensors + 1);
  });
});
