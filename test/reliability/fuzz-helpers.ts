// The machinery of the argument fuzzer (fuzz-ops.test.ts): a seeded generator, host arrays with
// small float64 references for the shape ops and matmul, and the runner that holds every call
// to the contract:
//   valid   -> the op returns, and its values match the float64 reference (or, where there is
//              none, the expected shape and finite values); a backward through it yields
//              gradients of the inputs' shapes.
//   invalid -> it throws an OpArgumentError whose message starts with the op's name, before
//              any GPU work was recorded.
//   either  -> (cases where PyTorch and we may reasonably differ) one of the two above.
// In every case: nothing else is thrown, no GPU error surfaces at the next sync, nothing hangs,
// and no tensor or buffer is leaked (error paths included).
import { expect } from 'vitest';
import * as wg from '../../src/index.js';
import { commands } from '../../src/tensor/queue.js';
import { expectClose } from '../helpers.js';

// ---- seeded generator ---------------------------------------------------------------------

/** mulberry32: tiny and seeded, so a failure reproduces from its seed and case number. */
export class Rng {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  next(): number {
    this.a = (this.a + 0x6d2b79f5) >>> 0;
    let t = this.a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  shape(minRank = 0, maxRank = 4, maxSize = 5, minSize = 0): number[] {
    return Array.from({ length: this.int(minRank, maxRank) }, () => this.int(minSize, maxSize));
  }
  /** A permutation of 0..n-1. */
  perm(n: number): number[] {
    const p = [...Array(n).keys()];
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(0, i);
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  }
}

// ---- host arrays ----------------------------------------------------------------------------

export interface Host {
  shape: number[];
  data: Float64Array;
}

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** out[idx] = f(idx) for every multi-index of `shape`, row-major. */
export function build(shape: readonly number[], f: (idx: number[]) => number): Host {
  const n = numel(shape);
  const data = new Float64Array(n);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    data[i] = f(idx);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return { shape: [...shape], data };
}

export function at(h: Host, idx: readonly number[]): number {
  const s = stridesOf(h.shape);
  let o = 0;
  for (let d = 0; d < idx.length; d++) o += idx[d] * s[d];
  return h.data[o];
}

/** NumPy broadcasting, or null when the shapes do not broadcast. */
export function broadcastShape(a: readonly number[], b: readonly number[]): number[] | null {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(da === 1 ? db : da);
  }
  return out;
}

export function broadcastTo(h: Host, shape: readonly number[]): Host {
  const shift = shape.length - h.shape.length;
  return build(shape, (idx) => at(h, h.shape.map((d, i) => (d === 1 ? 0 : idx[i + shift]))));
}

export function permuteHost(h: Host, dims: readonly number[]): Host {
  return build(dims.map((d) => h.shape[d]), (idx) => {
    const src = new Array<number>(dims.length);
    dims.forEach((d, i) => (src[d] = idx[i]));
    return at(h, src);
  });
}

export function transposeLast2(h: Host): Host {
  const r = h.shape.length;
  const dims = [...Array(r).keys()];
  [dims[r - 2], dims[r - 1]] = [dims[r - 1], dims[r - 2]];
  return permuteHost(h, dims);
}

/** torch.matmul, from its definition (1-D promotion, broadcast batch dimensions). */
export function matmulHost(a: Host, b: Host): Host {
  const A = a.shape.length === 1 ? { shape: [1, a.shape[0]], data: a.data } : a;
  const B = b.shape.length === 1 ? { shape: [b.shape[0], 1], data: b.data } : b;
  const [M, K] = A.shape.slice(-2);
  const N = B.shape[B.shape.length - 1];
  const batch = broadcastShape(A.shape.slice(0, -2), B.shape.slice(0, -2))!;
  const Ab = broadcastTo(A, [...batch, M, K]);
  const Bb = broadcastTo(B, [...batch, K, N]);
  const out = build([...batch, M, N], (idx) => {
    const m = idx[idx.length - 2];
    const n = idx[idx.length - 1];
    const bi = idx.slice(0, -2);
    let acc = 0;
    for (let k = 0; k < K; k++) acc += at(Ab, [...bi, m, k]) * at(Bb, [...bi, k, n]);
    return acc;
  });
  const shape = out.shape.filter((_, i) => !((a.shape.length === 1 && i === out.shape.length - 2) || (b.shape.length === 1 && i === out.shape.length - 1)));
  return { shape, data: out.data };
}

/** Uniform values away from zero (|v| >= 0.05) in [-2, 2], or positive in [0.1, 3]. */
export function values(r: Rng, n: number, kind: 'any' | 'positive' = 'any'): Float64Array {
  return Float64Array.from({ length: n }, () => {
    if (kind === 'positive') return Math.fround(0.1 + 2.9 * r.next());
    const v = 0.05 + 1.95 * r.next();
    return Math.fround(r.chance(0.5) ? v : -v);
  });
}

// ---- inputs ---------------------------------------------------------------------------------

export type Layout = 'contiguous' | 'transposed' | 'offset';

export interface Input {
  shape: number[];
  data: Float64Array;
  dtype: 'float32' | 'int32';
  /** How the tensor handed to the op is laid out in memory (same logical values). */
  layout: Layout;
  requiresGrad: boolean;
  /** Disposed before the call (the op must refuse it). */
  disposed?: boolean;
}

export function input(r: Rng, shape: number[], opts: Partial<Input> & { kind?: 'any' | 'positive' } = {}): Input {
  const dtype = opts.dtype ?? 'float32';
  const data = opts.data ?? (dtype === 'int32' ? Float64Array.from({ length: numel(shape) }, () => r.int(-3, 3)) : values(r, numel(shape), opts.kind));
  const layout = opts.layout ?? r.pick<Layout>(['contiguous', 'contiguous', 'transposed', 'offset']);
  return { shape, data, dtype, layout, requiresGrad: opts.requiresGrad ?? dtype === 'float32', disposed: opts.disposed };
}

export const host = (i: Input): Host => ({ shape: i.shape, data: i.data });

interface Uploaded {
  /** The leaf that gradients accumulate into. */
  leaf: wg.Tensor;
  /** What the op receives: the leaf or a view of it with the same logical values. */
  view: wg.Tensor;
  /** Everything to dispose afterwards. */
  all: wg.Tensor[];
}

function typed(dtype: Input['dtype'], data: ArrayLike<number>): Float32Array | Int32Array {
  return dtype === 'int32' ? Int32Array.from(data) : Float32Array.from(data);
}

function upload(i: Input): Uploaded {
  const grad = i.requiresGrad && i.dtype === 'float32';
  if (i.layout === 'transposed' && i.shape.length >= 2) {
    const t = transposeLast2(host(i));
    const leaf = wg.tensor(typed(i.dtype, t.data), t.shape, { dtype: i.dtype, requiresGrad: grad });
    const view = leaf.transpose(-1, -2);
    return { leaf, view, all: [leaf, view] };
  }
  if (i.layout === 'offset') {
    const padded = [7, 7, 7, ...i.data];
    const leaf = wg.tensor(typed(i.dtype, padded), [padded.length], { dtype: i.dtype, requiresGrad: grad });
    const cut = leaf.slice(0, 3);
    const view = cut.reshape(i.shape);
    return { leaf, view, all: [leaf, cut, view] };
  }
  const leaf = wg.tensor(typed(i.dtype, i.data), i.shape, { dtype: i.dtype, requiresGrad: grad });
  return { leaf, view: leaf, all: [leaf] };
}

// ---- cases and the runner -------------------------------------------------------------------

export type Validity = 'valid' | 'invalid' | 'either';

export interface Expected {
  shape: number[];
  /** Reference values; omit to check only the shape and that the values are finite. */
  data?: ArrayLike<number>;
  /** In-place side effects to check after the call (e.g. batchNorm's running statistics). */
  sideEffects?: Array<{ input: number; data: ArrayLike<number> }>;
}

export interface FuzzCase {
  /** The name an OpArgumentError must start with. */
  op: string;
  /** Arguments in words, for failure messages. */
  args: string;
  validity: Validity;
  inputs: Input[];
  call: (xs: wg.Tensor[]) => wg.Tensor;
  /** The reference result, when valid. */
  expected?: () => Expected;
  /** Tolerance relative to the largest expected magnitude (default 1e-4, the forward tolerance). */
  tol?: number;
  /** Run a backward through the result and check the gradients' shapes (default: when differentiable). */
  backward?: boolean;
  /** The op reports this kind of problem at the next sync (crossEntropy's label range). */
  deferredError?: boolean;
}

export interface FuzzStats {
  cases: number;
  ok: number;
  rejected: number;
  rejectedValid: number;
  backward: number;
}

export function newStats(): FuzzStats {
  return { cases: 0, ok: 0, rejected: 0, rejectedValid: 0, backward: 0 };
}

function describeInputs(c: FuzzCase): string {
  return c.inputs
    .map((i) => `[${i.shape.join(', ')}]${i.dtype === 'int32' ? ' int32' : ''}${i.layout !== 'contiguous' ? ` ${i.layout}` : ''}${i.disposed ? ' disposed' : ''}`)
    .join(', ');
}

function expectArgumentError(err: unknown, c: FuzzCase, tag: string): void {
  if (!(err instanceof wg.OpArgumentError)) {
    const e = err as Error;
    expect.fail(`${tag}: threw ${e?.constructor?.name ?? typeof err} instead of OpArgumentError: ${e?.message ?? String(err)}\n${e?.stack ?? ''}`);
  }
  const message = (err as Error).message;
  expect(message.startsWith(`${c.op}:`) || message.startsWith(`wgslgrad: ${c.op}:`), `${tag}: the message does not start with '${c.op}:': ${message}`).toBe(true);
}

async function withTimeout<T>(p: Promise<T>, ms: number, tag: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${tag}: hung for ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Run one case under the contract described at the top of this file. */
export async function runCase(c: FuzzCase, tag0: string, stats: FuzzStats): Promise<void> {
  const tag = `${tag0} ${c.op}(${describeInputs(c)}${c.args ? `; ${c.args}` : ''}) [${c.validity}]`;
  stats.cases++;
  const before = wg.memory();
  const uploaded = c.inputs.map(upload);
  const owned: wg.Tensor[] = uploaded.flatMap((u) => u.all);
  c.inputs.forEach((i, k) => {
    if (i.disposed) uploaded[k].view.dispose();
  });
  wg.flush(); // uploads done: from here on, anything pending was recorded by the op
  let result: wg.Tensor | undefined;
  let error: unknown;
  // Counted in one synchronous stretch, so no finalizer (of some earlier tensor) runs between.
  const liveBefore = wg.memory().liveTensors;
  try {
    result = c.call(uploaded.map((u) => u.view));
  } catch (e) {
    error = e;
  }
  const leakedOnError = error === undefined ? 0 : wg.memory().liveTensors - liveBefore;
  try {
    await withTimeout(check(), 20_000, tag);
  } finally {
    result?.dispose();
    for (const t of owned) t.dispose();
  }
  await wg.sync();
  // A leak raises the counts. (They can also drop: a tensor leaked by an earlier, already
  // failed case may be garbage-collected meanwhile and its finalizer release the buffer.)
  const after = wg.memory();
  expect(after.liveTensors, `${tag}: leaked tensors`).toBeLessThanOrEqual(before.liveTensors);
  expect(after.liveBuffers, `${tag}: leaked buffers`).toBeLessThanOrEqual(before.liveBuffers);

  async function check(): Promise<void> {
    if (error !== undefined) {
      expectArgumentError(error, c, tag);
      expect(commands().pending, `${tag}: GPU work was recorded before the OpArgumentError`).toBe(false);
      expect(leakedOnError, `${tag}: tensors leaked on the error path (${(error as Error).message})`).toBe(0);
      if (c.validity === 'valid') {
        stats.rejectedValid++;
        expect.fail(`${tag}: a valid call was rejected: ${(error as Error).message}`);
      }
      stats.rejected++;
      await wg.sync(); // no GPU error left behind
      return;
    }
    const y = result!;
    expect(c.validity, `${tag}: accepted an invalid call (returned ${y.toString()})`).not.toBe('invalid');
    let got: Float32Array | Int32Array;
    try {
      got = await y.data();
    } catch (e) {
      if (!c.deferredError) throw e;
      expectArgumentError(e, c, `${tag} (at the sync)`);
      stats.rejected++;
      return;
    }
    expect(!c.deferredError, `${tag}: the deferred argument error was not raised at the sync`).toBe(true);
    const exp = c.expected?.();
    if (exp) {
      expect([...y.shape], `${tag}: shape`).toEqual(exp.shape);
      if (exp.data) expectClose(got, exp.data, c.tol ?? 1e-4, tag);
      else for (const v of got) expect(Number.isFinite(v), `${tag}: non-finite output`).toBe(true);
      for (const s of exp.sideEffects ?? []) {
        expectClose(await uploaded[s.input].view.data(), s.data, c.tol ?? 1e-4, `${tag}: in-place update of input ${s.input}`);
      }
    }
    stats.ok++;
    if ((c.backward ?? true) && y.requiresGrad) {
      stats.backward++;
      const finite = Array.from(got).every(Number.isFinite);
      const loss = y.sum();
      loss.backward();
      loss.dispose();
      for (const [k, u] of uploaded.entries()) {
        if (!u.leaf.requiresGrad || c.inputs[k].disposed) continue;
        const g = u.leaf.grad;
        expect(g, `${tag}: no gradient for input ${k}`).not.toBeNull();
        expect([...g!.shape], `${tag}: gradient shape of input ${k}`).toEqual([...u.leaf.shape]);
        const gd = await g!.data();
        if (finite) for (const v of gd) expect(Number.isFinite(v), `${tag}: non-finite gradient for input ${k}`).toBe(true);
      }
    }
  }
}

/** Run `count` cases from `gen`, each seeded from (seed, i) so failures reproduce alone. */
export async function fuzz(name: string, seed: number, count: number, gen: (r: Rng) => FuzzCase, stats: FuzzStats): Promise<void> {
  for (let i = 0; i < count; i++) {
    const r = new Rng(seed * 100_003 + i);
    await runCase(gen(r), `${name} #${i} (seed ${seed})`, stats);
  }
}
