// SPDX-License-Identifier: MIT
// Tensor: a shaped, typed view of GPU memory that may take part in autograd.
//
// A tensor is (storage, offset, strides, shape). Ops always produce fresh contiguous tensors;
// reshape/permute/transpose/slice/detach produce *views* that share the storage. The methods
// here are thin: each forwards to the op of the same name in src/ops, where its forward and
// backward live side by side.

import { Storage, countTensor, staleError, rawBuffer, byteOffsetOf, type BufferRef } from './storage.js';
import { commands } from './queue.js';
import { contiguousStrides, numel, type Shape } from './shape.js';
import { track, untrack, keep, registerTensorCheck } from './scope.js';
import { OpArgumentError, fmtShape } from './errors.js';
import { AccumulateGrad, type Node } from '../autograd/node.js';
import { backward as runBackward } from '../autograd/backward.js';
import * as ew from '../ops/elementwise.js';
import * as red from '../ops/reduce.js';
import * as sh from '../ops/shape.js';
import { matmul } from '../ops/matmul.js';
import { cast } from '../kernels/cast.js';

export type DType = 'float32' | 'int32';
export type TypedArrayFor<D extends DType> = D extends 'int32' ? Int32Array : Float32Array;
type Operand = Tensor | number;

// Safety net: a tensor garbage-collected without dispose() still returns its buffer. Only
// tensors no scope will dispose are registered (see leftScopes): registering costs ~0.5 µs, and
// a training step creates hundreds of temporaries inside scopes.
const finalizer = new FinalizationRegistry<Storage>((storage) => {
  storage.release();
  countTensor(-1);
});

let nextId = 1;

export class Tensor {
  readonly id = nextId++;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  /** The node that produced this tensor, or null for leaves and tensors outside the graph. */
  gradFn: Node | null = null;
  /** Accumulated gradient (leaves with requiresGrad only), set by backward(). */
  grad: Tensor | null = null;
  /** A name for messages (parameters get their state-dict key). */
  name = '';
  private _requiresGrad = false;
  private _storage: Storage | null;
  private _accumulator: AccumulateGrad | null = null;
  private _finalized = false;
  private _contiguous: boolean | undefined;

  constructor(storage: Storage, shape: Shape, dtype: DType, opts: { strides?: readonly number[]; offset?: number } = {}) {
    this._storage = storage;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze(opts.strides ? [...opts.strides] : contiguousStrides(shape));
    this.offset = opts.offset ?? 0;
    this.dtype = dtype;
    countTensor(1);
    if (!track(this)) this.leftScopes();
  }

  /**
   * Internal (scope.ts): no scope owns this tensor any more (made outside every scope, kept, or
   * returned from the outermost one), so only dispose() or the finalizer will free it.
   */
  leftScopes(): void {
    if (this._finalized || !this._storage) return;
    finalizer.register(this, this._storage, this);
    this._finalized = true;
  }

  // ---- identity and memory ---------------------------------------------------------------

  get storage(): Storage {
    if (!this._storage) throw new OpArgumentError(`tensor ${this.describe()}: used after dispose()`);
    return this._storage;
  }

  /** What a kernel binds for this tensor: its GPU buffer, or the range of one its storage is (see Storage). */
  get buffer(): BufferRef {
    return this.storage.buffer;
  }

  get isDisposed(): boolean {
    return this._storage === null;
  }

  get size(): number {
    return numel(this.shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** True when the elements are laid out row-major with no gaps (the offset may be non-zero). */
  get isContiguous(): boolean {
    if (this._contiguous === undefined) {
      const want = contiguousStrides(this.shape);
      this._contiguous = this.shape.every((d, i) => d === 1 || this.strides[i] === want[i]);
    }
    return this._contiguous;
  }

  /**
   * Internal (the fused optimizers' arenas, src/nn/optim/flat.ts): use `storage`, whose first
   * elements the caller has filled with this tensor's values, from now on, at offset 0; the old
   * storage is released. The tensor keeps its identity, shape and autograd state. Only for
   * contiguous tensors.
   */
  replaceStorage(storage: Storage): void {
    const old = this.storage;
    if (!this.isContiguous) throw new Error(`wgslgrad internal: replaceStorage of a strided view ${this.describe()}`);
    if (this._finalized) {
      finalizer.unregister(this);
      finalizer.register(this, storage, this);
    }
    this._storage = storage;
    (this as { offset: number }).offset = 0;
    old.release();
  }

  /** Release the GPU memory now. Safe to call twice. */
  dispose(): void {
    if (!this._storage) return;
    if (this._finalized) finalizer.unregister(this);
    this._storage.release();
    this._storage = null;
    countTensor(-1);
    untrack(this);
    this.gradFn?.unref();
    this.gradFn = null;
    this.grad?.dispose();
    this.grad = null;
  }

  describe(): string {
    return `${this.name ? `'${this.name}' ` : ''}${fmtShape(this.shape)} ${this.dtype}`;
  }

  toString(): string {
    return `Tensor(${this.describe()}${this.requiresGrad ? ', requiresGrad' : ''}${this.gradFn ? `, gradFn=${this.gradFn.name}` : ''})`;
  }

  // ---- autograd ---------------------------------------------------------------------------

  get requiresGrad(): boolean {
    return this._requiresGrad;
  }

  set requiresGrad(value: boolean) {
    if (this.gradFn && !value) {
      throw new OpArgumentError(`requiresGrad: ${this.describe()} is not a leaf (made by ${this.gradFn.name}); use detach()`);
    }
    if (value && this.dtype !== 'float32') {
      throw new OpArgumentError(`requiresGrad: only float32 tensors can require gradients, got ${this.describe()}`);
    }
    this._requiresGrad = value;
  }

  get isLeaf(): boolean {
    return this.gradFn === null;
  }

  /** The graph edge that gradients for this tensor flow into (internal). */
  gradEdge(): Node | AccumulateGrad | null {
    if (this.gradFn) return this.gradFn;
    if (!this._requiresGrad) return null;
    return (this._accumulator ??= new AccumulateGrad(this));
  }

  /** Reverse-mode differentiation from this tensor; gradients accumulate into leaves' `.grad`. */
  backward(gradOutput?: Tensor, opts: { retainGraph?: boolean } = {}): void {
    runBackward(this, gradOutput, opts.retainGraph ?? false);
  }

  /** A view sharing storage, cut from the graph. */
  detach(): Tensor {
    return new Tensor(this.storage.retain(), this.shape, this.dtype, { strides: this.strides, offset: this.offset });
  }

  /** Keep this tensor alive past the enclosing scope(). */
  keep(): this {
    return keep(this);
  }

  // ---- reading back -----------------------------------------------------------------------

  /** Copy the contents to the host (waits for the GPU). */
  async data(): Promise<TypedArrayFor<DType>> {
    const src = this.isContiguous ? this : sh.contiguous(this);
    try {
      const bytes = await commands().read(rawBuffer(src.buffer), byteOffsetOf(src.buffer) + src.offset * 4, src.size * 4);
      return (this.dtype === 'int32' ? new Int32Array(bytes) : new Float32Array(bytes)) as TypedArrayFor<DType>;
    } finally {
      if (src !== this) src.dispose();
    }
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new OpArgumentError(`item: expected a tensor with one element, got ${this.describe()}`);
    return (await this.data())[0];
  }

  /** Nested arrays, like torch's tolist(). */
  async toArray(): Promise<unknown> {
    const flat = Array.from(await this.data());
    const build = (dim: number, start: number): unknown => {
      if (dim === this.rank) return flat[start];
      const step = numel(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, start + i * step));
    };
    return build(0, 0);
  }

  // ---- ops (see src/ops) ------------------------------------------------------------------

  add(o: Operand): Tensor { return ew.add(this, o); }
  sub(o: Operand): Tensor { return ew.sub(this, o); }
  mul(o: Operand): Tensor { return ew.mul(this, o); }
  div(o: Operand): Tensor { return ew.div(this, o); }
  pow(o: Operand): Tensor { return ew.pow(this, o); }
  maximum(o: Tensor): Tensor { return ew.maximum(this, o); }
  minimum(o: Tensor): Tensor { return ew.minimum(this, o); }
  neg(): Tensor { return ew.neg(this); }
  exp(): Tensor { return ew.exp(this); }
  log(): Tensor { return ew.log(this); }
  sqrt(): Tensor { return ew.sqrt(this); }
  abs(): Tensor { return ew.abs(this); }
  relu(): Tensor { return ew.relu(this); }
  sigmoid(): Tensor { return ew.sigmoid(this); }
  tanh(): Tensor { return ew.tanh(this); }
  gt(o: Operand): Tensor { return ew.gt(this, o); }
  lt(o: Operand): Tensor { return ew.lt(this, o); }
  ge(o: Operand): Tensor { return ew.ge(this, o); }
  le(o: Operand): Tensor { return ew.le(this, o); }
  eq(o: Operand): Tensor { return ew.eq(this, o); }

  sum(axes?: number | number[] | null, keepdim = false): Tensor { return red.sum(this, axes, keepdim); }
  mean(axes?: number | number[] | null, keepdim = false): Tensor { return red.mean(this, axes, keepdim); }
  max(axes?: number | number[] | null, keepdim = false): Tensor { return red.max(this, axes, keepdim); }
  min(axes?: number | number[] | null, keepdim = false): Tensor { return red.min(this, axes, keepdim); }
  argmax(axis = -1): Tensor { return red.argmax(this, axis); }

  reshape(shape: readonly number[]): Tensor { return sh.reshape(this, shape); }
  view(shape: readonly number[]): Tensor { return sh.reshape(this, shape); }
  flatten(startDim = 0, endDim = -1): Tensor { return sh.flatten(this, startDim, endDim); }
  permute(dims: readonly number[]): Tensor { return sh.permute(this, dims); }
  transpose(dim0: number, dim1: number): Tensor { return sh.transpose(this, dim0, dim1); }
  get T(): Tensor { return sh.transpose(this, -2, -1); }
  slice(dim: number, start: number, end?: number, step = 1): Tensor { return sh.slice(this, dim, start, end, step); }
  unsqueeze(dim: number): Tensor { return sh.unsqueeze(this, dim); }
  squeeze(dim?: number): Tensor { return sh.squeeze(this, dim); }
  expand(shape: readonly number[]): Tensor { return sh.expand(this, shape); }
  contiguous(): Tensor { return sh.contiguous(this); }
  matmul(o: Tensor): Tensor { return matmul(this, o); }

  /** Convert between float32 and int32 (truncating toward zero), as a new tensor. */
  to(dtype: DType): Tensor {
    if (dtype === this.dtype) return sh.contiguous(this);
    return cast(sh.plain(this), dtype);
  }
}

registerTensorCheck((v: unknown): v is Tensor => v instanceof Tensor);

/** Allocate an uninitialised contiguous tensor (kernels fill it). */
export function emptyTensor(shape: Shape, dtype: DType = 'float32', label = 'tensor'): Tensor {
  return new Tensor(Storage.allocate(Math.max(numel(shape), 1) * 4, label), shape, dtype);
}

/** Throws a clear error if a tensor was disposed, naming the op. */
export function assertAlive(op: string, ...tensors: Tensor[]): void {
  for (const t of tensors) {
    if (t.isDisposed) throw new OpArgumentError(`${op}: input ${fmtShape(t.shape)} ${t.dtype} was disposed`);
    if (t.storage.stale) throw staleError(`${op}: input ${fmtShape(t.shape)} ${t.dtype}`);
  }
}

export function assertFloat(op: string, ...tensors: Tensor[]): void {
  for (const t of tensors) {
    if (t.dtype !== 'float32') throw new OpArgumentError(`${op}: expected float32 input, got ${t.describe()}`);
  }
}
