// SPDX-License-Identifier: MIT
// Differentiable elementwise ops. Each op: validate, run the kernel, record its backward.
//
// Broadcasting in backward: if `a` was broadcast from (3, 1) to (3, 4), its gradient is the
// output gradient summed over the broadcast dimension — `sumToShape` does that.

import { Tensor, assertAlive, assertFloat } from '../tensor/tensor.js';
import { binary, unary, type BinaryOpName, type UnaryOpName } from '../kernels/elementwise.js';
import { recordOp } from '../autograd/record.js';
import { sameShape } from '../tensor/shape.js';
import { reduce } from '../kernels/reduce.js';
import { reshape } from './shape.js';
import { fillRange } from '../kernels/fill.js';

type Operand = Tensor | number;

/** Sum a gradient of the broadcast shape back down to `shape` (the inverse of broadcasting). */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let d = 0; d < g.rank; d++) if (d < lead || (shape[d - lead] === 1 && g.shape[d] !== 1)) axes.push(d);
  const summed = reduce('sum', g, axes);
  const out = reshape(summed, shape);
  if (out !== summed) summed.dispose();
  return out;
}

function checkInputs(op: string, ...ts: Tensor[]): void {
  assertAlive(op, ...ts);
  assertFloat(op, ...ts);
}

// ---- tensor (op) tensor ---------------------------------------------------------------------

function binaryOp(op: BinaryOpName, a: Tensor, b: Tensor, save: Tensor[], grads: (gy: Tensor, saved: readonly Tensor[]) => [Tensor | null, Tensor | null]): Tensor {
  checkInputs(op, a, b);
  const y = binary(op, a, b);
  return recordOp(op, [a, b], y, save, (gy, saved) => {
    const [ga, gb] = grads(gy, saved);
    return [gradFor(a, ga), gradFor(b, gb)];
  });
}

/** The gradient for input t, summed back to t's shape; null (and freed) if t needs none. */
function gradFor(t: Tensor, g: Tensor | null): Tensor | null {
  if (!g) return null;
  if (!t.requiresGrad) {
    g.dispose();
    return null;
  }
  const reduced = sumToShape(g, t.shape);
  if (reduced !== g) g.dispose();
  return reduced;
}

function scalarOr(b: Operand, withTensor: (b: Tensor) => Tensor, withScalar: (s: number) => Tensor): Tensor {
  return typeof b === 'number' ? withScalar(b) : withTensor(b);
}

/** y = alpha * x + beta (the scalar forms of add/sub/mul/div). */
export function affine(x: Tensor, alpha: number, beta: number, name = 'affine'): Tensor {
  checkInputs(name, x);
  const y = unary('identity', x, alpha, beta);
  return recordOp(name, [x], y, [], (gy) => [unary('identity', gy, alpha, 0)]);
}

export function add(a: Tensor, b: Operand): Tensor {
  return scalarOr(b, (t) => binaryOp('add', a, t, [], (gy) => [gy.detach(), gy.detach()]), (s) => affine(a, 1, s, 'add'));
}

export function sub(a: Tensor, b: Operand): Tensor {
  return scalarOr(b, (t) => binaryOp('sub', a, t, [], (gy) => [gy.detach(), unary('neg', gy)]), (s) => affine(a, 1, -s, 'sub'));
}

export function mul(a: Tensor, b: Operand): Tensor {
  return scalarOr(
    b,
    (t) => binaryOp('mul', a, t, [a, t], (gy, [sa, sb]) => [a.requiresGrad ? binary('mul', gy, sb) : null, t.requiresGrad ? binary('mul', gy, sa) : null]),
    (s) => affine(a, s, 0, 'mul'),
  );
}

export function div(a: Tensor, b: Operand): Tensor {
  return scalarOr(
    b,
    (t) => binaryOp('div', a, t, [a, t], (gy, [sa, sb]) => {
      const ga = a.requiresGrad ? binary('div', gy, sb) : null;
      let gb: Tensor | null = null;
      if (t.requiresGrad) {
        // d(a/b)/db = -a / b^2
        const q = binary('div', sa, sb);
        const q2 = binary('div', q, sb);
        gb = binary('mul', gy, q2);
        const neg = unary('neg', gb);
        q.dispose(); q2.dispose(); gb.dispose();
        gb = neg;
      }
      return [ga, gb];
    }),
    (s) => affine(a, 1 / s, 0, 'div'),
  );
}

export function pow(a: Tensor, b: Operand): Tensor {
  if (typeof b === 'number') {
    checkInputs('pow', a);
    const y = unary('powScalar', a, 1, 0, b);
    return recordOp('pow', [a], y, [a], (gy, [sa]) => {
      // d(x^p)/dx = p * x^(p-1)
      const d = unary('powScalar', sa, 1, 0, b - 1);
      const g = binary('mul', gy, d);
      d.dispose();
      const out = unary('identity', g, b, 0);
      g.dispose();
      return [out];
    });
  }
  return binaryOp('pow', a, b, [a, b], (gy, [sa, sb]) => {
    const y = binary('pow', sa, sb);
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (a.requiresGrad) {
      // d/da = b * a^(b-1) = b * y / a
      const t1 = binary('mul', y, sb);
      const t2 = binary('div', t1, sa);
      ga = binary('mul', gy, t2);
      t1.dispose(); t2.dispose();
    }
    if (b.requiresGrad) {
      // d/db = y * ln(a)
      const la = unary('log', sa);
      const t1 = binary('mul', y, la);
      gb = binary('mul', gy, t1);
      la.dispose(); t1.dispose();
    }
    y.dispose();
    return [ga, gb];
  });
}

function selectGrad(op: 'maximum' | 'minimum', a: Tensor, b: Tensor): Tensor {
  // Gradient goes to the input that won; on an exact tie it is split evenly (as in PyTorch).
  return binaryOp(op, a, b, [a, b], (gy, [sa, sb]) => {
    const aWins = binary(op === 'maximum' ? 'gt' : 'lt', sa, sb);
    const tie = binary('eq', sa, sb);
    const half = unary('identity', tie, 0.5, 0);
    const wa = binary('add', aWins, half);
    const wb = unary('identity', wa, -1, 1);
    const ga = binary('mul', gy, wa);
    const gb = binary('mul', gy, wb);
    for (const t of [aWins, tie, half, wa, wb]) t.dispose();
    return [ga, gb];
  });
}

export function maximum(a: Tensor, b: Tensor): Tensor {
  return selectGrad('maximum', a, b);
}

export function minimum(a: Tensor, b: Tensor): Tensor {
  return selectGrad('minimum', a, b);
}

// ---- comparisons: float32 0/1 results, no gradient ------------------------------------------

function compare(op: 'gt' | 'lt' | 'ge' | 'le' | 'eq' | 'ne', a: Tensor, b: Operand): Tensor {
  checkInputs(op, a);
  if (typeof b === 'number') {
    // A 0-d tensor holding the scalar, broadcast against `a` (so a 0-d `a` stays 0-d).
    const bt = fillRange([], 'float32', b, 0);
    const y = binary(op, a, bt);
    bt.dispose();
    return y;
  }
  checkInputs(op, b);
  return binary(op, a, b);
}

export const gt = (a: Tensor, b: Operand): Tensor => compare('gt', a, b);
export const lt = (a: Tensor, b: Operand): Tensor => compare('lt', a, b);
export const ge = (a: Tensor, b: Operand): Tensor => compare('ge', a, b);
export const le = (a: Tensor, b: Operand): Tensor => compare('le', a, b);
export const eq = (a: Tensor, b: Operand): Tensor => compare('eq', a, b);
export const ne = (a: Tensor, b: Operand): Tensor => compare('ne', a, b);

// ---- unary ----------------------------------------------------------------------------------

function unaryOp(op: UnaryOpName, x: Tensor, saveOutput: boolean, grad: (gy: Tensor, saved: Tensor) => Tensor): Tensor {
  checkInputs(op, x);
  const y = unary(op, x);
  return recordOp(op, [x], y, [saveOutput ? y : x], (gy, [s]) => [grad(gy, s)]);
}

function mulBy(gy: Tensor, t: Tensor): Tensor {
  return binary('mul', gy, t);
}

export const neg = (x: Tensor): Tensor => unaryOp('neg', x, false, (gy) => unary('neg', gy));
export const exp = (x: Tensor): Tensor => unaryOp('exp', x, true, (gy, y) => mulBy(gy, y));
export const log = (x: Tensor): Tensor => unaryOp('log', x, false, (gy, x0) => binary('div', gy, x0));
export const sqrt = (x: Tensor): Tensor =>
  unaryOp('sqrt', x, true, (gy, y) => {
    const q = binary('div', gy, y);
    const out = unary('identity', q, 0.5, 0);
    q.dispose();
    return out;
  });
export const relu = (x: Tensor): Tensor => unaryOp('relu', x, true, (gy, y) => binary('reluBackward', gy, y));
/**
 * relu(a + b) in one pass (the residual add + ReLU closing every ResNet block), with
 * broadcasting as add. Backward: one reluBackward pass computes g = gy * (out > 0), which is the
 * gradient of both inputs (each summed back to its shape); the second input gets its own handle
 * (g.detach()) since the engine disposes each returned gradient.
 */
export function addRelu(a: Tensor, b: Tensor): Tensor {
  checkInputs('addRelu', a, b);
  const y = binary('addRelu', a, b);
  return recordOp('addRelu', [a, b], y, [y], (gy, [out]) => {
    const g = binary('reluBackward', gy, out);
    const g2 = g.detach();
    return [gradFor(a, g), gradFor(b, g2)];
  });
}
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x, true, (gy, y) => binary('sigmoidBackward', gy, y));
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x, true, (gy, y) => binary('tanhBackward', gy, y));
export const abs = (x: Tensor): Tensor =>
  unaryOp('abs', x, false, (gy, x0) => {
    const s = unary('sign', x0);
    const out = binary('mul', gy, s);
    s.dispose();
    return out;
  });
