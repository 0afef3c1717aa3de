// Argument fuzzing of every public op: random shapes (rank 0-4, sizes 0-5, sometimes mismatched),
// random layouts (contiguous, transposed views, views at an offset) and random options, valid and
// invalid. The contract each call is held to is in fuzz-helpers.ts: a valid call matches the
// float64 reference (src/kernels/reference/*.ts, or the small host references in fuzz-helpers.ts
// for shape ops and matmul) and back-propagates gradients of the right shapes; an invalid one
// throws an OpArgumentError naming the op before anything is dispatched; nothing else is thrown,
// no GPU error surfaces at the next sync, nothing hangs and nothing leaks.
//
// Seeded and bounded: FUZZ_SEED and FUZZ_SCALE (a multiplier of the case counts) reproduce or
// lengthen a run, e.g. `FUZZ_SEED=7 FUZZ_SCALE=10 npx vitest run test/reliability/fuzz-ops.test.ts`.
import { describe, it, expect, afterAll } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';
import {
  Rng, type FuzzCase, type Input, type Validity, type Host, fuzz, newStats, input, host, numel,
  broadcastShape, broadcastTo, build, at, permuteHost, transposeLast2, matmulHost,
} from './fuzz-helpers.js';
import { binaryRef, unaryRef, broadcastBinaryRef } from '../../src/kernels/reference/elementwise.js';
import { reduceRef } from '../../src/kernels/reference/reduce.js';
import { softmaxRef } from '../../src/kernels/reference/softmax.js';
import { crossEntropyRef } from '../../src/kernels/reference/cross-entropy.js';
import { conv2dForwardRef } from '../../src/kernels/reference/conv2d.js';
import { maxPool2dRef, avgPool2dRef, adaptiveAvgPool2dRef } from '../../src/kernels/reference/pool.js';
import { batchNormForwardRef } from '../../src/kernels/reference/batch-norm.js';
import type { Conv2dGeometry } from '../../src/kernels/conv2d.js';
import type { Pool2dGeometry } from '../../src/kernels/pool.js';

useDevice();

const SEED = Number(process.env.FUZZ_SEED ?? 1);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const n = (count: number) => Math.max(1, Math.round(count * SCALE));
const stats = newStats();
const F = wg.F;

afterAll(() => {
  console.log(`fuzz-ops (seed ${SEED}): ${stats.cases} calls, ${stats.ok} returned and matched, ${stats.rejected} rejected with OpArgumentError, ${stats.backward} backward passes checked`);
});

// ---- shared option generators -----------------------------------------------------------

/** Sometimes make one dimension long, so kernels' multi-workgroup / wide paths run too. */
function stretch(r: Rng, shape: number[], p = 0.1, max = 700): number[] {
  if (shape.length === 0 || !r.chance(p)) return shape;
  const out = [...shape];
  out[r.int(0, out.length - 1)] = r.int(64, max);
  return numel(out) > 20000 ? shape : out;
}

/** A valid axis for rank r, or (with probability pBad) an out-of-range or non-integer one. */
function axisFor(r: Rng, rank: number, pBad = 0.15): number {
  if (r.chance(pBad)) return r.pick([rank, rank + 1, -rank - 1, -rank - 2, 0.5]);
  if (rank === 0) return 0;
  return r.int(-rank, rank - 1);
}

/** PyTorch's dim check (a 0-d tensor accepts 0 and -1). */
function axisOk(a: number, rank: number): boolean {
  const m = Math.max(rank, 1);
  return Number.isInteger(a) && a >= -m && a < m;
}

const norm = (a: number, rank: number) => (a < 0 ? a + Math.max(rank, 1) : a);

/** Shape b that broadcasts against a (dropped leading dims, some 1s), or a random one. */
function partnerShape(r: Rng, a: number[]): number[] {
  const roll = r.next();
  if (roll < 0.5) {
    const drop = r.int(0, a.length);
    return a.slice(drop).map((d) => (r.chance(0.3) ? 1 : d));
  }
  if (roll < 0.65) return [...r.shape(1, 2, 3), ...a];
  return r.shape();
}

// ---- elementwise --------------------------------------------------------------------------

const BINARY = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'gt', 'lt', 'ge', 'le', 'eq', 'ne'] as const;
type BinaryName = (typeof BINARY)[number];
const ref2 = { ...binaryRef, ne: (a: number, b: number) => +(a !== b) } as Record<BinaryName, (a: number, b: number) => number>;
const COMPARE = new Set(['gt', 'lt', 'ge', 'le', 'eq', 'ne']);

function genBinary(r: Rng): FuzzCase {
  const op = r.pick(BINARY);
  const aShape = r.shape();
  const bad = r.next();
  const aIn = input(r, aShape, { kind: op === 'pow' ? 'positive' : 'any', dtype: bad < 0.06 ? 'int32' : 'float32', disposed: bad > 0.97 });
  const scalar = op !== 'maximum' && op !== 'minimum' && r.chance(0.15);
  if (scalar) {
    const s = op === 'pow' ? r.pick([2, 0.5, -1, 3]) : r.pick([2.5, -1, 0.5, 3]);
    const validity: Validity = aIn.dtype === 'int32' || aIn.disposed ? 'invalid' : 'valid';
    return {
      op, args: `scalar ${s}`, validity, inputs: [aIn],
      call: ([a]) => (wg as unknown as Record<string, (a: wg.Tensor, b: number) => wg.Tensor>)[op](a, s),
      expected: () => ({ shape: aShape, data: Float64Array.from(aIn.data, (v) => ref2[op](v, s)) }),
      tol: op === 'pow' ? 1e-3 : undefined,
    };
  }
  const bShape = partnerShape(r, aShape);
  const bIn = input(r, bShape, { kind: op === 'pow' ? 'any' : 'any', dtype: bad > 0.06 && bad < 0.09 ? 'int32' : 'float32' });
  const out = broadcastShape(aShape, bShape);
  const validity: Validity = out && aIn.dtype === 'float32' && bIn.dtype === 'float32' && !aIn.disposed ? 'valid' : 'invalid';
  return {
    op, args: '', validity, inputs: [aIn, bIn],
    call: ([a, b]) => (wg as unknown as Record<string, (a: wg.Tensor, b: wg.Tensor) => wg.Tensor>)[op](a, b),
    expected: () => broadcastBinaryRef(ref2[op], aIn.data, aShape, bIn.data, bShape),
    tol: op === 'pow' ? 1e-3 : undefined,
    backward: !COMPARE.has(op),
  };
}

const UNARY = ['neg', 'exp', 'log', 'sqrt', 'abs', 'relu', 'sigmoid', 'tanh'] as const;

function genUnary(r: Rng): FuzzCase {
  const op = r.pick(UNARY);
  const shape = r.shape();
  const bad = r.next();
  const x = input(r, shape, { kind: op === 'log' || op === 'sqrt' ? 'positive' : 'any', dtype: bad < 0.08 ? 'int32' : 'float32', disposed: bad > 0.95 });
  return {
    op, args: '', validity: x.dtype === 'int32' || x.disposed ? 'invalid' : 'valid', inputs: [x],
    call: ([t]) => (wg as unknown as Record<string, (a: wg.Tensor) => wg.Tensor>)[op](t),
    expected: () => ({ shape, data: Float64Array.from(x.data, unaryRef[op]) }),
  };
}

// ---- reductions -----------------------------------------------------------------------------

function genReduce(r: Rng): FuzzCase {
  const op = r.pick(['sum', 'mean', 'max', 'min'] as const);
  const shape = stretch(r, r.shape());
  const rank = shape.length;
  const x = input(r, shape, { dtype: r.chance(0.05) ? 'int32' : 'float32' });
  const roll = r.next();
  const axes: number | number[] | undefined =
    roll < 0.25 ? undefined : roll < 0.55 ? axisFor(r, rank) : Array.from({ length: r.int(0, Math.min(3, rank + 1)) }, () => axisFor(r, rank, 0.1));
  const keepdim = r.chance(0.4);
  const list = axes === undefined ? [...Array(rank).keys()] : typeof axes === 'number' ? [axes] : axes;
  let validity: Validity = 'valid';
  if (x.dtype === 'int32' || !list.every((a) => axisOk(a, rank))) validity = 'invalid';
  const normed = list.map((a) => norm(a, rank));
  if (validity === 'valid' && new Set(normed).size !== normed.length) validity = 'invalid';
  // A 0-d tensor with an explicit axis: PyTorch reduces the one element; refusing is fine too.
  if (validity === 'valid' && rank === 0 && list.length > 0) validity = 'either';
  const reduced = [...new Set(normed)].filter((a) => a < rank).sort((p, q) => p - q);
  const count = numel(reduced.map((a) => shape[a]));
  if (validity !== 'invalid' && (op === 'max' || op === 'min') && count === 0) validity = 'invalid';
  return {
    op, args: `axes ${JSON.stringify(axes)}, keepdim ${keepdim}`, validity, inputs: [x],
    call: ([t]) => t[op](axes, keepdim),
    expected: () => {
      const ref = reduceRef(op, x.data, shape, reduced);
      return { shape: keepdim ? shape.map((d, i) => (reduced.includes(i) ? 1 : d)) : ref.shape, data: ref.data };
    },
  };
}

function genArgmax(r: Rng): FuzzCase {
  const shape = r.shape();
  const rank = shape.length;
  const x = input(r, shape, { dtype: r.chance(0.05) ? 'int32' : 'float32' });
  const axis = axisFor(r, rank);
  let validity: Validity = x.dtype === 'float32' && axisOk(axis, rank) ? 'valid' : 'invalid';
  const a = norm(axis, rank);
  if (validity === 'valid' && rank === 0) validity = 'either';
  if (validity !== 'invalid' && rank > 0 && shape[a] === 0) validity = 'invalid';
  return {
    op: 'argmax', args: `axis ${axis}`, validity, inputs: [x],
    call: ([t]) => t.argmax(axis),
    expected: () => {
      const outShape = shape.filter((_, i) => i !== a);
      return {
        shape: outShape,
        data: build(outShape, (idx) => {
          let best = -Infinity;
          let bi = 0;
          for (let k = 0; k < shape[a]; k++) {
            const full = [...idx.slice(0, a), k, ...idx.slice(a)];
            const v = at(host(x), full);
            if (v > best) [best, bi] = [v, k];
          }
          return bi;
        }).data,
      };
    },
  };
}

// ---- shape ops ------------------------------------------------------------------------------

function genReshape(r: Rng): FuzzCase {
  const shape = r.shape();
  const size = numel(shape);
  const x = input(r, shape, { dtype: r.chance(0.1) ? 'int32' : 'float32' });
  const roll = r.next();
  let target: number[];
  if (roll < 0.55) {
    // A factorisation of the element count, maybe with one -1.
    target = [];
    let left = size;
    const rank = r.int(0, 4);
    for (let i = 0; i < rank - 1; i++) {
      const divisors = left === 0 ? [0, 1, 2] : [...Array(left + 1).keys()].filter((d) => d > 0 && left % d === 0);
      const d = r.pick(divisors);
      target.push(d);
      left = d === 0 ? left : left / d;
    }
    if (rank > 0) target.push(target.includes(0) ? r.int(0, 3) : left);
    else if (size !== 1) target = [size];
    if (target.length && r.chance(0.4)) target[r.int(0, target.length - 1)] = -1;
  } else if (roll < 0.9) {
    target = r.shape();
  } else {
    target = r.pick([[-1, -1], [-2, size === 0 ? 1 : -size], [size, 0.5]]);
  }
  let validity: Validity = 'valid';
  const minus = target.filter((d) => d === -1).length;
  const known = numel(target.filter((d) => d !== -1));
  if (minus > 1 || target.some((d) => d !== -1 && (d < 0 || !Number.isInteger(d)))) validity = 'invalid';
  else if (minus === 1 ? known === 0 || size % known !== 0 : known !== size) validity = 'invalid';
  const resolved = target.map((d) => (d === -1 ? size / known : d));
  return {
    op: 'reshape', args: `shape [${target.join(', ')}]`, validity, inputs: [x],
    call: ([t]) => t.reshape(target),
    expected: () => ({ shape: resolved, data: x.data }),
  };
}

function genPermute(r: Rng): FuzzCase {
  const shape = r.shape();
  const rank = shape.length;
  const x = input(r, shape);
  const roll = r.next();
  const dims = roll < 0.6 ? r.perm(rank) : roll < 0.8 ? r.perm(rank).map((d) => (r.chance(0.5) ? d - rank : d)) : Array.from({ length: r.int(0, rank + 1) }, () => r.int(-rank - 1, rank));
  const normed = dims.map((d) => (d < 0 ? d + rank : d));
  const valid = dims.length === rank && dims.every((d) => Number.isInteger(d) && d >= -rank && d < rank) && new Set(normed).size === rank;
  return {
    op: 'permute', args: `dims [${dims.join(', ')}]`, validity: valid ? 'valid' : 'invalid', inputs: [x],
    call: ([t]) => t.permute(dims),
    expected: () => permuteHost(host(x), normed),
  };
}

function genTranspose(r: Rng): FuzzCase {
  const shape = r.shape();
  const rank = shape.length;
  const x = input(r, shape);
  const d0 = axisFor(r, rank);
  const d1 = axisFor(r, rank);
  let validity: Validity = axisOk(d0, rank) && axisOk(d1, rank) ? 'valid' : 'invalid';
  if (validity === 'valid' && rank === 0) validity = 'either';
  return {
    op: 'transpose', args: `dims ${d0}, ${d1}`, validity, inputs: [x],
    call: ([t]) => t.transpose(d0, d1),
    expected: () => {
      if (rank === 0) return { shape: [], data: x.data };
      const dims = [...Array(rank).keys()];
      const [a, b] = [norm(d0, rank), norm(d1, rank)];
      [dims[a], dims[b]] = [dims[b], dims[a]];
      return permuteHost(host(x), dims);
    },
  };
}

function genSlice(r: Rng): FuzzCase {
  const shape = r.shape();
  const rank = shape.length;
  const x = input(r, shape);
  const dim = axisFor(r, rank, 0.1);
  const start = r.int(-7, 7);
  const end = r.chance(0.3) ? undefined : r.int(-7, 7);
  const step = r.chance(0.85) ? r.int(1, 3) : r.pick([0, -1, 1.5]);
  // PyTorch: slicing a 0-d tensor is an error; the step must be a positive integer.
  const valid = rank > 0 && axisOk(dim, rank) && Number.isInteger(step) && step > 0;
  return {
    op: 'slice', args: `dim ${dim}, ${start}:${end ?? ''}:${step}`, validity: valid ? 'valid' : 'invalid', inputs: [x],
    call: ([t]) => t.slice(dim, start, end, step),
    expected: () => {
      const d = norm(dim, rank);
      const size = shape[d];
      const clamp = (i: number) => Math.min(Math.max(i < 0 ? i + size : i, 0), size);
      const s = clamp(start);
      const e = clamp(end ?? size);
      const len = Math.max(0, Math.ceil((e - s) / step));
      const out = [...shape];
      out[d] = len;
      return build(out, (idx) => at(host(x), idx.map((v, i) => (i === d ? s + v * step : v))));
    },
  };
}

function genExpand(r: Rng): FuzzCase {
  const shape = r.shape(0, 3, 3).map((d) => (r.chance(0.5) ? 1 : d));
  const rank = shape.length;
  const x = input(r, shape);
  const lead = r.shape(0, 2, 3);
  let target = [...lead, ...shape.map((d) => (r.chance(0.25) ? -1 : d === 1 ? r.int(0, 4) : d))];
  if (r.chance(0.3)) {
    // Break it: drop a dimension, change a non-1 size, or put -1 in a new leading dimension.
    const k = r.int(0, 2);
    if (k === 0 && target.length) target = target.slice(1);
    else if (k === 1 && target.length) target[r.int(0, target.length - 1)] = r.int(-2, 5);
    else target = [-1, ...target];
  }
  const shift = target.length - rank;
  let valid = shift >= 0;
  if (valid) {
    target.forEach((t, i) => {
      if (!Number.isInteger(t)) valid = false;
      if (i < shift) {
        if (t < 0) valid = false;
      } else {
        const d = shape[i - shift];
        if (t === -1) return;
        if (t < 0 || (d !== 1 && t !== d)) valid = false;
      }
    });
  }
  const resolved = target.map((t, i) => (t === -1 ? shape[i - shift] : t));
  return {
    op: 'expand', args: `shape [${target.join(', ')}]`, validity: valid ? 'valid' : 'invalid', inputs: [x],
    call: ([t]) => t.expand(target),
    expected: () => broadcastTo(host(x), resolved),
  };
}

function genCat(r: Rng): FuzzCase {
  const base = r.shape(0, 3, 3);
  const rank = base.length;
  const dim = axisFor(r, rank, 0.1);
  const d = norm(dim, rank);
  const count = r.int(0, 3);
  const int = r.chance(0.1);
  const inputs: Input[] = [];
  for (let k = 0; k < count; k++) {
    const s = [...base];
    if (rank > 0 && d < rank) s[d] = r.int(0, 3);
    if (r.chance(0.1) && rank > 0) s[r.int(0, rank - 1)] += 1; // mismatch (or just the cat dimension)
    if (r.chance(0.05)) s.push(2); // rank mismatch
    inputs.push(input(r, s, { dtype: int || (k === 1 && r.chance(0.1)) ? 'int32' : 'float32' }));
  }
  // Judged against the first tensor, as PyTorch does.
  const firstRank = inputs[0]?.shape.length ?? 0;
  let valid = count > 0 && firstRank > 0 && axisOk(dim, firstRank);
  const fd = norm(dim, firstRank);
  if (valid) {
    for (const i of inputs) {
      if (i.shape.length !== firstRank || i.dtype !== inputs[0].dtype) valid = false;
      else if (i.shape.some((v, j) => j !== fd && v !== inputs[0].shape[j])) valid = false;
    }
  }
  return {
    op: 'cat', args: `dim ${dim}, ${count} tensors`, validity: valid ? 'valid' : 'invalid', inputs,
    call: (ts) => wg.cat(ts, dim),
    expected: () => {
      const out = [...inputs[0].shape];
      out[fd] = inputs.reduce((s, i) => s + i.shape[fd], 0);
      return build(out, (idx) => {
        let k = idx[fd];
        for (const i of inputs) {
          if (k < i.shape[fd]) return at(host(i), idx.map((v, j) => (j === fd ? k : v)));
          k -= i.shape[fd];
        }
        return NaN;
      });
    },
  };
}

function genFlatSqueeze(r: Rng): FuzzCase {
  const shape = r.shape().map((d) => (r.chance(0.3) ? 1 : d));
  const rank = shape.length;
  const x = input(r, shape);
  const which = r.pick(['flatten', 'squeeze', 'unsqueeze'] as const);
  if (which === 'flatten') {
    const s = r.chance(0.3) ? 0 : axisFor(r, rank);
    const e = r.chance(0.3) ? -1 : axisFor(r, rank);
    let valid = axisOk(s, rank) && axisOk(e, rank) && norm(s, rank) <= norm(e, rank);
    const out = rank === 0 ? [1] : [...shape.slice(0, norm(s, rank)), numel(shape.slice(norm(s, rank), norm(e, rank) + 1)), ...shape.slice(norm(e, rank) + 1)];
    if (!axisOk(s, rank) || !axisOk(e, rank)) valid = false;
    return {
      op: 'flatten', args: `start ${s}, end ${e}`, validity: valid ? 'valid' : 'invalid', inputs: [x],
      call: ([t]) => t.flatten(s, e),
      expected: () => ({ shape: out, data: x.data }),
    };
  }
  if (which === 'squeeze') {
    const dim = r.chance(0.3) ? undefined : axisFor(r, rank);
    const valid = dim === undefined || axisOk(dim, rank);
    const validity: Validity = !valid ? 'invalid' : rank === 0 && dim !== undefined ? 'either' : 'valid';
    const out = dim === undefined ? shape.filter((v) => v !== 1) : rank === 0 ? [] : shape.filter((v, i) => !(i === norm(dim, rank) && v === 1));
    return {
      op: 'squeeze', args: `dim ${dim}`, validity, inputs: [x],
      call: ([t]) => t.squeeze(dim),
      expected: () => ({ shape: out, data: x.data }),
    };
  }
  const dim = axisFor(r, rank + 1);
  const valid = Number.isInteger(dim) && dim >= -rank - 1 && dim <= rank;
  const d = dim < 0 ? dim + rank + 1 : dim;
  const out = [...shape];
  out.splice(d, 0, 1);
  return {
    op: 'unsqueeze', args: `dim ${dim}`, validity: valid ? 'valid' : 'invalid', inputs: [x],
    call: ([t]) => t.unsqueeze(dim),
    expected: () => ({ shape: out, data: x.data }),
  };
}

// ---- matmul and F.linear ----------------------------------------------------------------------

function genMatmul(r: Rng): FuzzCase {
  const big = r.chance(0.1); // large enough for the tiled GEMM paths
  const M = big ? r.int(1, 70) : r.int(0, 4);
  const K = big ? r.int(1, 70) : r.int(0, 4);
  const N = big ? r.int(1, 70) : r.int(0, 4);
  const kind = r.pick(['1x1', '1x2', '2x1', '2x2', 'batched', 'batched', 'rank0']);
  const batchA = kind === 'batched' ? r.shape(1, 2, 3) : [];
  const batchB = kind === 'batched' ? (r.chance(0.6) ? batchA.slice(r.int(0, batchA.length)).map((d) => (r.chance(0.3) ? 1 : d)) : r.shape(0, 2, 3)) : [];
  let aShape = kind === 'rank0' ? [] : kind.startsWith('1') ? [K] : [...batchA, M, K];
  let bShape = kind === '1x1' || kind === '2x1' ? [K] : [...batchB, K, N];
  if (r.chance(0.15) && aShape.length) aShape = [...aShape.slice(0, -1), K + 1]; // inner mismatch
  const trans = kind === '2x2' || kind === 'batched' ? r.pick([null, null, 'A', 'B', 'AB']) : null;
  const transA = trans?.includes('A') ?? false;
  const transB = trans?.includes('B') ?? false;
  // With transA, the tensor passed is the transpose of the operand used.
  const aStored = transA ? [...aShape.slice(0, -2), aShape[aShape.length - 1], aShape[aShape.length - 2]] : aShape;
  const bStored = transB ? [...bShape.slice(0, -2), bShape[bShape.length - 1], bShape[bShape.length - 2]] : bShape;
  const a = input(r, aStored, { dtype: r.chance(0.04) ? 'int32' : 'float32' });
  const b = input(r, bStored);
  const ka = aShape[aShape.length - 1];
  const kb = bShape.length === 1 ? bShape[0] : bShape[bShape.length - 2];
  let valid = aShape.length > 0 && bShape.length > 0 && ka === kb && a.dtype === 'float32';
  if (valid && (aShape.length > 2 || bShape.length > 2) && !broadcastShape(aShape.slice(0, -2), bShape.slice(0, -2))) valid = false;
  return {
    op: 'matmul', args: trans ? `trans ${trans}` : '', validity: valid ? 'valid' : 'invalid', inputs: [a, b],
    call: ([x, y]) => (trans ? wg.matmul(x, y, { transA, transB }) : x.matmul(y)),
    expected: () => matmulHost(transA ? transposeLast2(host(a)) : host(a), transB ? transposeLast2(host(b)) : host(b)),
  };
}

function genLinear(r: Rng): FuzzCase {
  const inF = r.int(0, 4);
  const outF = r.int(0, 4);
  const lead = r.shape(0, 2, 3);
  const xShape = r.chance(0.1) ? [] : [...lead, r.chance(0.12) ? inF + 1 : inF];
  const wShape = r.chance(0.08) ? [outF, inF, 1] : [outF, inF];
  const bias = r.next();
  const inputs = [input(r, xShape), input(r, wShape)];
  if (bias < 0.5) inputs.push(input(r, bias < 0.06 ? [outF + 1] : [outF]));
  const valid = xShape.length >= 1 && wShape.length === 2 && xShape[xShape.length - 1] === inF && (bias >= 0.5 || bias >= 0.06);
  return {
    op: 'linear', args: bias < 0.5 ? 'bias' : 'no bias', validity: valid ? 'valid' : 'invalid', inputs,
    call: ([x, w, b]) => F.linear(x, w, b),
    expected: () => {
      const y = matmulHost(host(inputs[0]), transposeLast2(host(inputs[1])));
      if (inputs[2]) {
        const b = broadcastTo(host(inputs[2]), y.shape);
        y.data.forEach((v, i) => (y.data[i] = v + b.data[i]));
      }
      return y;
    },
  };
}

// ---- softmax, crossEntropy ------------------------------------------------------------------

function genSoftmax(r: Rng): FuzzCase {
  const op = r.pick(['softmax', 'logSoftmax'] as const);
  const shape = stretch(r, r.shape());
  const rank = shape.length;
  const x = input(r, shape, { dtype: r.chance(0.05) ? 'int32' : 'float32' });
  const dim = axisFor(r, rank);
  const valid = x.dtype === 'float32' && axisOk(dim, rank);
  return {
    op, args: `dim ${dim}`, validity: valid ? 'valid' : 'invalid', inputs: [x],
    call: ([t]) => F[op](t, dim),
    expected: () => ({ shape, data: softmaxRef(x.data, rank === 0 ? [1] : shape, norm(dim, rank), op === 'logSoftmax') }),
  };
}

function genCrossEntropy(r: Rng): FuzzCase {
  const N = r.chance(0.1) ? r.int(30, 300) : r.int(0, 5);
  const C = r.chance(0.1) ? r.int(30, 300) : r.int(0, 5);
  const shapeRoll = r.next();
  const logitsShape = shapeRoll < 0.08 ? [N] : shapeRoll < 0.12 ? [N, C, 2] : [N, C];
  const ignoreIndex = r.pick([undefined, undefined, 0, -100, 1.5]);
  const outOfRange = C > 0 && r.chance(0.15);
  const labels = Float64Array.from({ length: N }, () => (outOfRange && r.chance(0.5) ? r.pick([C, C + 3, -1]) : C > 0 ? r.int(0, C - 1) : 0));
  const labelRoll = r.next();
  const labelShape = labelRoll < 0.08 ? [N + 1] : labelRoll < 0.12 ? [N, 1] : [N];
  const labelDtype = labelRoll > 0.92 ? 'float32' : 'int32';
  const inputs = [input(r, logitsShape), input(r, labelShape, { dtype: labelDtype, data: labelShape.length === 1 && labelShape[0] === N ? labels : undefined, requiresGrad: false })];
  const labelSmoothing = r.pick([0, 0, 0.1, 1, -0.1, 1.5]);
  const reduction = r.pick(['mean', 'mean', 'sum', 'none', 'avg']) as 'mean' | 'sum' | 'none';
  let validity: Validity = 'valid';
  if (logitsShape.length !== 2 || C < 1) validity = 'invalid';
  if (labelDtype !== 'int32' || labelShape.length !== 1 || labelShape[0] !== N) validity = 'invalid';
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1) || reduction === ('avg' as string) || (ignoreIndex !== undefined && !Number.isInteger(ignoreIndex))) validity = 'invalid';
  if (validity === 'valid' && N === 0) validity = 'either'; // PyTorch returns NaN (mean over no rows)
  const bad = validity !== 'invalid' && Array.from(labels).some((l) => (l < 0 || l >= C) && l !== ignoreIndex);
  return {
    op: 'crossEntropy', args: `labels [${Array.from(labels).join(', ')}], smoothing ${labelSmoothing}, ${reduction}, ignore ${ignoreIndex}`,
    validity, inputs, deferredError: bad,
    call: ([x, y]) => F.crossEntropy(x, y, { labelSmoothing, reduction, ignoreIndex }),
    expected: () => {
      const loss = crossEntropyRef(inputs[0].data, labels, N, C, { labelSmoothing, reduction, ignoreIndex });
      return { shape: reduction === 'none' ? [N] : [], data: loss };
    },
  };
}

// ---- convolution, pooling, batch norm ---------------------------------------------------------

function pairOpt(r: Rng, v: number): number | [number, number] {
  return r.chance(0.25) ? [v, r.chance(0.5) ? v : Math.max(v, 1)] : v;
}
const pairOf = (v: number | readonly number[]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

function genConv2d(r: Rng): FuzzCase {
  const G = r.pick([1, 1, 2]);
  const big = r.chance(0.2); // channel counts that fill the fast kernels' tiles, and not
  const C = G * (big ? r.int(3, 9) : r.int(1, 2));
  const K = G * (big ? r.int(3, 9) : r.int(1, 2));
  const N = r.chance(0.05) ? 0 : r.int(1, 2);
  const [H, W] = big ? [r.int(4, 10), r.int(4, 10)] : [r.int(1, 6), r.int(1, 6)];
  const [R, S] = [r.int(1, 3), r.int(1, 3)];
  const opts = { stride: pairOpt(r, r.int(1, 2)) as number | [number, number], padding: pairOpt(r, r.int(0, 2)) as number | [number, number], dilation: pairOpt(r, r.int(1, 2)) as number | [number, number], groups: G };
  let xShape = [N, C, H, W];
  let wShape = [K, C / G, R, S];
  let biasShape: number[] | null = r.chance(0.5) ? [K] : null;
  let xDtype: 'float32' | 'int32' = 'float32';
  if (r.chance(0.35)) {
    switch (r.int(0, 8)) {
      case 0: xShape = [C, H, W]; break;
      case 1: wShape = [K, C / G, R]; break;
      case 2: wShape = [K, C / G + 1, R, S]; break;
      case 3: opts.groups = r.pick([0, 3, 1.5]); break;
      case 4: opts.stride = r.pick([0, -1, 1.5]); break;
      case 5: opts.padding = r.pick([-1, 0.5]); break;
      case 6: opts.dilation = r.pick([0, [1, 0]]) as number; break;
      case 7: biasShape = [K + 1]; break;
      default: xDtype = 'int32';
    }
  }
  const inputs = [input(r, xShape, { dtype: xDtype }), input(r, wShape)];
  if (biasShape) inputs.push(input(r, biasShape));
  const [sh, sw] = pairOf(opts.stride);
  const [ph, pw] = pairOf(opts.padding);
  const [dh, dw] = pairOf(opts.dilation);
  const g = opts.groups;
  const ints = [sh, sw, ph, pw, dh, dw, g].every(Number.isInteger);
  const P = Math.floor((H + 2 * ph - dh * (wShape[2] - 1) - 1) / sh) + 1;
  const Q = Math.floor((W + 2 * pw - dw * ((wShape[3] ?? 1) - 1) - 1) / sw) + 1;
  let validity: Validity = 'valid';
  if (xDtype !== 'float32' || wShape.length !== 4 || !ints || sh < 1 || sw < 1 || ph < 0 || pw < 0 || dh < 1 || dw < 1 || g < 1) validity = 'invalid';
  else if (xShape[1] % g !== 0 || K % g !== 0 || wShape[1] * g !== xShape[1] || (biasShape && biasShape[0] !== K) || P < 1 || Q < 1) validity = 'invalid';
  if (validity === 'valid' && xShape.length === 3) validity = 'either'; // PyTorch accepts unbatched (C, H, W)
  if (validity === 'valid' && N === 0) validity = 'either'; // an empty batch
  if (validity === 'valid' && xShape.length !== 4) validity = 'invalid';
  return {
    op: 'conv2d', args: JSON.stringify(opts), validity, inputs,
    call: ([x, w, b]) => F.conv2d(x, w, b, opts),
    expected: () => {
      const geo: Conv2dGeometry = {
        N, C, H, W, K, R, S, G: g, P, Q, stride_h: sh, stride_w: sw, pad_h: ph, pad_w: pw, dil_h: dh, dil_w: dw,
        C_g: C / g, K_g: K / g, CRS_g: (C / g) * R * S, PQ: P * Q,
      };
      return { shape: [N, K, P, Q], data: conv2dForwardRef(inputs[0].data, inputs[1].data, inputs[2]?.data ?? null, geo) };
    },
  };
}

function poolOut(size: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  let out = Math.floor((size + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (out - 1) * s >= size + p) out--;
  return out;
}

function genPool(r: Rng): FuzzCase {
  const op = r.pick(['maxPool2d', 'avgPool2d', 'adaptiveAvgPool2d'] as const);
  const batched = r.chance(0.8);
  const [N, C, H, W] = [r.int(1, 2), r.int(1, 3), r.int(1, 6), r.int(1, 6)];
  let shape = batched ? [N, C, H, W] : [C, H, W];
  if (r.chance(0.06)) shape = r.pick([[H, W], [1, N, C, H, W], [N, C, 0, W]]);
  const x = input(r, shape, { dtype: r.chance(0.04) ? 'int32' : 'float32' });
  const rankOk = (shape.length === 4 || shape.length === 3) && x.dtype === 'float32' && !shape.includes(0);
  const N4 = shape.length === 4 ? shape[0] : 1;
  if (op === 'adaptiveAvgPool2d') {
    const out = r.chance(0.5) ? r.int(0, 4) : ([r.int(1, 4), r.int(1, 4)] as [number, number]);
    const [OH, OW] = pairOf(out);
    const valid = rankOk && OH >= 1 && OW >= 1;
    return {
      op, args: `outputSize ${JSON.stringify(out)}`, validity: valid ? 'valid' : 'invalid', inputs: [x],
      call: ([t]) => F.adaptiveAvgPool2d(t, out),
      expected: () => ({ shape: [...shape.slice(0, -2), OH, OW], data: adaptiveAvgPool2dRef(x.data, { N: N4, C, H, W, OH, OW }) }),
    };
  }
  const k = r.chance(0.06) ? 0 : r.int(1, 3);
  const kernelSize = pairOpt(r, k);
  const stride = r.chance(0.3) ? null : r.chance(0.05) ? 0 : pairOpt(r, r.int(1, 3));
  const padding = r.chance(0.5) ? 0 : pairOpt(r, r.int(-1, 2));
  const dilation = op === 'maxPool2d' && r.chance(0.3) ? pairOpt(r, r.int(0, 2)) : 1;
  const ceilMode = r.chance(0.3);
  const countIncludePad = r.chance(0.5);
  const [kh, kw] = pairOf(kernelSize);
  const [sh, sw] = stride == null ? [kh, kw] : pairOf(stride);
  const [ph, pw] = pairOf(padding);
  const [dh, dw] = pairOf(dilation);
  let valid = rankOk && kh > 0 && kw > 0 && sh > 0 && sw > 0 && dh > 0 && dw > 0 && ph >= 0 && pw >= 0 && ph <= kh / 2 && pw <= kw / 2;
  const OH = poolOut(H, kh, sh, ph, dh, ceilMode);
  const OW = poolOut(W, kw, sw, pw, dw, ceilMode);
  if (valid && (OH < 1 || OW < 1)) valid = false;
  const opts = { kernelSize, stride, padding, ceilMode, ...(op === 'maxPool2d' ? { dilation } : { countIncludePad }) };
  return {
    op, args: JSON.stringify(opts), validity: valid ? 'valid' : 'invalid', inputs: [x],
    call: ([t]) => (op === 'maxPool2d' ? F.maxPool2d(t, opts) : F.avgPool2d(t, opts)),
    expected: () => {
      const geo: Pool2dGeometry = { N: N4, C, H, W, OH, OW, kH: kh, kW: kw, sH: sh, sW: sw, pH: ph, pW: pw, dH: dh, dW: dw, ceilMode, countIncludePad };
      const data = op === 'maxPool2d' ? maxPool2dRef(x.data, geo).y : avgPool2dRef(x.data, geo);
      return { shape: [...shape.slice(0, -2), OH, OW], data };
    },
  };
}

function genBatchNorm(r: Rng): FuzzCase {
  const rank = r.chance(0.06) ? r.pick([0, 1, 6]) : r.int(2, 4);
  const shape = rank === 6 ? [1, 2, 1, 1, 1, 2] : Array.from({ length: rank }, (_, i) => (i === 1 ? r.int(1, 3) : r.int(1, 3)));
  const C = shape[1] ?? 1;
  const training = r.chance(0.6);
  const param = (p: number) => (r.chance(p) ? (r.chance(0.08) ? [C + 1] : [C]) : null);
  const meanShape = param(training ? 0.6 : 0.9);
  const varShape = meanShape ? (r.chance(0.95) ? [...meanShape] : [C + 1]) : r.chance(0.1) ? [C] : null;
  const weightShape = param(0.6);
  const biasShape = param(0.6);
  const momentum = r.pick([0.1, 0.1, 0.5, NaN]);
  const eps = r.pick([1e-5, 1e-5, 1e-3, -1]);
  const slots = [meanShape, varShape, weightShape, biasShape];
  const inputs = [input(r, shape)];
  const index: number[] = [];
  slots.forEach((s, k) => {
    if (!s) return index.push(-1);
    index.push(inputs.length);
    inputs.push(input(r, s, { kind: k === 1 ? 'positive' : 'any', requiresGrad: k >= 2, layout: k < 2 ? r.pick(['contiguous', 'offset'] as const) : undefined }));
  });
  const S = numel(shape.slice(2));
  let validity: Validity = 'valid';
  if (rank < 2 || rank > 5) validity = rank === 6 ? 'either' : 'invalid';
  if (slots.some((s) => s && s[0] !== C)) validity = 'invalid';
  if (!training && (!meanShape || !varShape)) validity = 'invalid';
  if (training && rank >= 2 && shape[0] * S <= 1) validity = 'invalid';
  if (!Number.isFinite(momentum) || !(eps >= 0)) validity = 'invalid';
  if (validity !== 'invalid' && (!!meanShape !== !!varShape)) validity = 'either'; // one running statistic without the other
  const opts = { training, momentum, eps };
  return {
    op: 'batchNorm', args: `${JSON.stringify(opts)}, stats ${meanShape ? 'mean' : '-'}/${varShape ? 'var' : '-'}, ${weightShape ? 'weight' : '-'}, ${biasShape ? 'bias' : '-'}`,
    validity, inputs, tol: 1e-3,
    call: (ts) => {
      const get = (k: number) => (index[k] >= 0 ? ts[index[k]] : null);
      return F.batchNorm(ts[0], get(0), get(1), get(2), get(3), opts);
    },
    expected: () => {
      const get = (k: number) => (index[k] >= 0 ? inputs[index[k]].data : null);
      const ref = batchNormForwardRef(inputs[0].data, shape, get(0), get(1), get(2), get(3), opts);
      const sideEffects = training && ref.runningMean && ref.runningVar ? [{ input: index[0], data: ref.runningMean }, { input: index[1], data: ref.runningVar }] : [];
      return { shape, data: ref.y, sideEffects };
    },
  };
}

// ---- the tests ------------------------------------------------------------------------------

describe('argument fuzzing', () => {
  const families: Array<[string, number, (r: Rng) => FuzzCase]> = [
    ['elementwise binary', 120, genBinary],
    ['elementwise unary', 50, genUnary],
    ['reductions', 100, genReduce],
    ['argmax', 30, genArgmax],
    ['reshape', 50, genReshape],
    ['permute', 30, genPermute],
    ['transpose', 20, genTranspose],
    ['slice', 50, genSlice],
    ['expand', 40, genExpand],
    ['cat', 40, genCat],
    ['flatten / squeeze / unsqueeze', 40, genFlatSqueeze],
    ['matmul', 80, genMatmul],
    ['F.linear', 40, genLinear],
    ['F.softmax / F.logSoftmax', 40, genSoftmax],
    ['F.crossEntropy', 60, genCrossEntropy],
    ['F.conv2d', 50, genConv2d],
    ['F.maxPool2d / F.avgPool2d / F.adaptiveAvgPool2d', 60, genPool],
    ['F.batchNorm', 50, genBatchNorm],
  ];
  families.forEach(([name, count, gen], k) => {
    it(`${name}: ${n(count)} seeded calls`, async () => {
      await fuzz(name, SEED * 1000 + k, n(count), gen, stats);
    });
  });

  it('covered both outcomes', () => {
    expect(stats.ok).toBeGreaterThan(stats.cases / 3);
    expect(stats.rejected).toBeGreaterThan(stats.cases / 10);
  });
});
