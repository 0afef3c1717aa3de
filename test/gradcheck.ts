// Finite-difference gradient checking.
//
// The GPU op's analytic gradient (its backward kernels, float32) is compared with central
// differences of the op's float64 *reference* forward: dL/dx_i ~ (L(x + eps e_i) - L(x - eps e_i)) / 2eps
// with L = sum(y * gy) for a fixed random gy. Float64 makes eps = 1e-6 safe, so the only error
// left is the GPU's float32 rounding: tolerance 1e-3 of the largest gradient magnitude.
import { expect } from 'vitest';
import * as wg from '../src/index.js';
import { expectClose } from './helpers.js';

/** Deterministic host PRNG (mulberry32) for test inputs. */
export function hostRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(n: number, rnd: () => number, lo = -1, hi = 1): number[] {
  return Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * rnd()));
}

export interface GradcheckSpec {
  name: string;
  inputs: { shape: number[]; data: number[] }[];
  /** The op under test on GPU tensors. */
  gpu: (xs: wg.Tensor[]) => wg.Tensor;
  /** Float64 reference forward: flat row-major inputs -> flat output. */
  ref: (xs: Float64Array[]) => ArrayLike<number>;
  /** Indices of inputs to differentiate (default all). */
  wrt?: number[];
  seed?: number;
  forwardTol?: number;
  gradTol?: number;
}

export async function gradcheck(spec: GradcheckSpec): Promise<void> {
  const rnd = hostRandom(spec.seed ?? 7);
  const wrt = spec.wrt ?? spec.inputs.map((_, i) => i);
  const xs = spec.inputs.map((inp, i) => wg.tensor(inp.data, inp.shape, { requiresGrad: wrt.includes(i) }));
  const y = spec.gpu(xs);
  const host = spec.inputs.map((inp) => Float64Array.from(inp.data));
  const yRef = spec.ref(host);
  expectClose(await y.data(), yRef, spec.forwardTol ?? 1e-5, `${spec.name} forward vs reference`);

  const gyData = randomArray(y.size, rnd);
  const gy = wg.tensor(gyData, [...y.shape]);
  y.backward(gy);
  const loss = (inputs: Float64Array[]) => {
    const out = spec.ref(inputs);
    let s = 0;
    for (let i = 0; i < out.length; i++) s += out[i] * gyData[i];
    return s;
  };
  const eps = 1e-6;
  for (const i of wrt) {
    const numeric = new Float64Array(host[i].length);
    for (let j = 0; j < host[i].length; j++) {
      const orig = host[i][j];
      host[i][j] = orig + eps;
      const plus = loss(host);
      host[i][j] = orig - eps;
      const minus = loss(host);
      host[i][j] = orig;
      numeric[j] = (plus - minus) / (2 * eps);
    }
    expect(xs[i].grad, `${spec.name}: input ${i} got no gradient`).not.toBeNull();
    expectClose(await xs[i].grad!.data(), numeric, spec.gradTol ?? 1e-3, `${spec.name} d/dinput${i} vs finite differences`);
  }
  for (const t of [...xs, y, gy]) t.dispose();
}
