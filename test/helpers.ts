// Shared test helpers: one device per test file, fixture loading, tolerant comparison.
import { beforeAll, beforeEach, afterAll, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as wg from '../src/index.js';

/** Acquire the device for this test file and release it afterwards. */
export function useDevice(): void {
  beforeAll(async () => {
    await wg.init();
  });
  // A tensor a test leaves to the garbage collector is released by its finalizer (src/tensor/
  // tensor.ts) whenever V8 collects it: maybe in the middle of a later test that counts live
  // tensors (wg.memory()), which then reads fewer than it had. Collect before each test and let
  // the finalizers run, so that counts within a test see only that test's tensors.
  beforeEach(async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) return;
    gc();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 0));
  });
  afterAll(async () => {
    await wg.close();
  });
}

export interface FixtureTensor {
  shape: number[];
  dtype: 'float32' | 'int32';
  data: number[];
}

export interface FixtureCase {
  name: string;
  op: string;
  options: Record<string, unknown>;
  inputs: Record<string, FixtureTensor>;
  gradOutput: FixtureTensor | null;
  outputs: Record<string, FixtureTensor>;
  grads: Record<string, FixtureTensor>;
}

export function loadFixtures(group: string): FixtureCase[] {
  const path = fileURLToPath(new URL(`./fixtures/${group}.json`, import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')).cases as FixtureCase[];
}

export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** Upload a fixture tensor; float inputs get requiresGrad when `grad` is set. */
export function fromFixture(t: FixtureTensor, grad = false): wg.Tensor {
  return wg.tensor(t.dtype === 'int32' ? Int32Array.from(t.data) : Float32Array.from(t.data), t.shape, {
    dtype: t.dtype,
    requiresGrad: grad && t.dtype === 'float32',
  });
}

/**
 * Compare with a tolerance relative to the largest magnitude of the expected values
 * (so tiny entries next to large ones are judged on the tensor's scale), plus a floor.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, relTol: number, what = ''): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const tol = relTol * Math.max(scale, 1e-6) + 1e-7;
  let worst = 0;
  let worstIndex = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const err = Number.isNaN(a) !== Number.isNaN(e) ? Infinity : Number.isNaN(e) ? 0 : Math.abs(a - e);
    if (err > worst) {
      worst = err;
      worstIndex = i;
    }
  }
  if (worst > tol) {
    expect.fail(`${what}: max error ${worst.toExponential(3)} at index ${worstIndex} (got ${actual[worstIndex]}, expected ${expected[worstIndex]}); tolerance ${tol.toExponential(3)} (rel ${relTol} of max |expected| ${scale.toExponential(3)})`);
  }
}

export async function expectTensorClose(t: wg.Tensor, f: FixtureTensor, relTol: number, what = ''): Promise<void> {
  expect([...t.shape], `${what}: shape`).toEqual(f.shape);
  expectClose(await t.data(), f.data, relTol, what);
}

/** Forward 1e-4, gradients 1e-3 of the largest magnitude (the project's stated tolerances). */
export const FORWARD_TOL = 1e-4;
export const GRAD_TOL = 1e-3;
