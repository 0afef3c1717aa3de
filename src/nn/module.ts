// SPDX-License-Identifier: MIT
// Module: the base class of layers and models, as torch.nn.Module.
//
// A module owns three ordered registries: its parameters (trainable leaf tensors), its buffers
// (state that is saved but not trained, e.g. BatchNorm running statistics) and its child
// modules. Everything that walks the tree — parameters(), stateDict(), train(), toString() —
// visits a module's own entries first, in registration order, then its children depth-first,
// so the dotted names and their order are exactly PyTorch's (`layer1.0.conv1.weight`).
//
// Registration is explicit and mirrors torch's register_* methods:
//
//   this.conv1 = this.registerModule('conv1', new Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false }));
//   this.weight = this.registerParameter('weight', emptyTensor([out, in]));
//   this.runningMean = this.registerBuffer('running_mean', zeros([c]));
//
// Each call also turns `this[name]` into an accessor for the registry entry, so replacing a
// child later — `model.fc = new Linear(512, 10)` — re-registers it under the same key and in the
// same position, as assigning to a torch module attribute does.

import { sameBuffer } from '../tensor/storage.js';
import { Tensor } from '../tensor/tensor.js';
import { OpArgumentError, WgslgradError, fmtShape } from '../tensor/errors.js';
import { copyInto, copyContiguous } from '../kernels/copy.js';
import { cast } from '../kernels/cast.js';
import { plain, disposeIfCopy } from '../ops/shape.js';

/** Raised by loadStateDict when keys or shapes do not match; lists every problem by name. */
export class StateDictError extends WgslgradError {
  constructor(
    message: string,
    readonly missingKeys: readonly string[],
    readonly unexpectedKeys: readonly string[],
    readonly shapeMismatches: readonly string[],
  ) {
    super(message);
  }
}

export interface LoadStateDictResult {
  /** Keys the module has but the map lacks (left unchanged). */
  missingKeys: string[];
  /** Keys in the map that the module does not have (ignored). */
  unexpectedKeys: string[];
}

type Entry<T> = T | null;

export abstract class Module {
  /** Training mode (BatchNorm uses batch statistics, Dropout drops); set by train()/eval(). */
  training = true;
  private readonly _parameters = new Map<string, Entry<Tensor>>();
  private readonly _buffers = new Map<string, Entry<Tensor>>();
  private readonly _modules = new Map<string, Entry<Module>>();

  /** The computation. Subclasses define it with their own signature: `forward(x: Tensor): Tensor`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  abstract forward(...inputs: any[]): any;

  // ---- registration -------------------------------------------------------------------------

  /**
   * Register a trainable tensor under `name` (or null, like torch's `bias=None`): it gets
   * requiresGrad, is kept out of every scope() (a parameter lives until the module is
   * disposed), and its `.name` becomes its state-dict key. Returns the tensor.
   */
  registerParameter<T extends Tensor | null>(name: string, t: T): T {
    this.checkName('registerParameter', name, t, this._buffers, this._modules);
    if (t) {
      if (t.dtype !== 'float32') throw new OpArgumentError(`registerParameter('${name}'): parameters must be float32, got ${t.describe()}`);
      if (!t.isLeaf) throw new OpArgumentError(`registerParameter('${name}'): ${t.describe()} is the result of an op; register a leaf (use detach())`);
      t.requiresGrad = true;
      t.keep();
      t.name = name;
    }
    this._parameters.set(name, t);
    this.defineAccessor(name, this._parameters, (v) => this.registerParameter(name, v as Tensor | null));
    return t;
  }

  /** Register non-trained state (saved in the state dict) under `name`. Returns the tensor. */
  registerBuffer<T extends Tensor | null>(name: string, t: T): T {
    this.checkName('registerBuffer', name, t, this._parameters, this._modules);
    if (t) {
      t.keep();
      t.name = name;
    }
    this._buffers.set(name, t);
    this.defineAccessor(name, this._buffers, (v) => this.registerBuffer(name, v as Tensor | null));
    return t;
  }

  /** Register a child module under `name` (the state-dict prefix). Returns the module. */
  registerModule<M extends Module | null>(name: string, m: M): M {
    this.checkName('registerModule', name, m, this._parameters, this._buffers);
    if (m !== null && !(m instanceof Module)) throw new OpArgumentError(`registerModule('${name}'): expected a Module, got ${String(m)}`);
    if (m) {
      // Names are built bottom-up: each registration prefixes the child's tensor names.
      for (const [key, t] of m.namedParameters()) t.name = `${name}.${key}`;
      for (const [key, t] of m.namedBuffers()) t.name = `${name}.${key}`;
    }
    this._modules.set(name, m);
    this.defineAccessor(name, this._modules, (v) => this.registerModule(name, v as Module | null));
    return m;
  }

  /**
   * A name must be new, or already ours, or a declared-but-unset field (`fc: Linear;` is an
   * own property holding undefined until registration), or hold the very value registered.
   */
  private checkName(op: string, name: string, value: unknown, ...others: Map<string, unknown>[]): void {
    if (typeof name !== 'string' || name === '' || name.includes('.')) {
      throw new OpArgumentError(`${op}: name must be a non-empty string without '.', got '${name}'`);
    }
    if (others.some((m) => m.has(name))) throw new OpArgumentError(`${op}: '${name}' is already registered as another kind of entry`);
    if (this.accessors.has(name)) return;
    const own = Object.prototype.hasOwnProperty.call(this, name);
    const current = (this as Record<string, unknown>)[name];
    if (own ? current !== undefined && current !== value : name in this) {
      throw new OpArgumentError(`${op}: '${name}' would shadow an existing property of ${this.constructor.name}`);
    }
  }

  private readonly accessors = new Set<string>();

  private defineAccessor<T>(name: string, registry: Map<string, T>, set: (v: unknown) => void): void {
    if (this.accessors.has(name)) return;
    this.accessors.add(name);
    Object.defineProperty(this, name, { get: () => registry.get(name) ?? null, set, enumerable: true, configurable: true });
  }

  // ---- walking the tree ---------------------------------------------------------------------

  /** Direct children with their names (registration order; null entries skipped). */
  *namedChildren(): IterableIterator<[string, Module]> {
    for (const [name, m] of this._modules) if (m) yield [name, m];
  }

  *children(): IterableIterator<Module> {
    for (const [, m] of this.namedChildren()) yield m;
  }

  /** This module and every descendant, pre-order, each once, with dotted names ('' for this). */
  namedModules(): IterableIterator<[string, Module]> {
    return walk(this, '', new Set());
  }

  *modules(): IterableIterator<Module> {
    for (const [, m] of this.namedModules()) yield m;
  }

  private *namedTensors(kind: '_parameters' | '_buffers', recurse: boolean): IterableIterator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    const mods: Iterable<[string, Module]> = recurse ? this.namedModules() : [['', this]];
    for (const [prefix, m] of mods) {
      for (const [name, t] of m[kind]) {
        if (!t || seen.has(t)) continue;
        seen.add(t);
        yield [prefix ? `${prefix}.${name}` : name, t];
      }
    }
  }

  /** Every parameter with its dotted name, in PyTorch order (shared tensors once). */
  namedParameters(recurse = true): IterableIterator<[string, Tensor]> {
    return this.namedTensors('_parameters', recurse);
  }

  /** Every parameter, as an array (what optimizers take). */
  parameters(recurse = true): Tensor[] {
    return [...this.namedParameters(recurse)].map(([, t]) => t);
  }

  namedBuffers(recurse = true): IterableIterator<[string, Tensor]> {
    return this.namedTensors('_buffers', recurse);
  }

  buffers(recurse = true): Tensor[] {
    return [...this.namedBuffers(recurse)].map(([, t]) => t);
  }

  /** Total number of parameter elements (trainable or frozen). */
  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    return this.parameters().reduce((n, p) => n + (opts.trainableOnly && !p.requiresGrad ? 0 : p.size), 0);
  }

  // ---- modes and gradients ------------------------------------------------------------------

  /** Set training mode on this module and every descendant. Returns this. */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /** Evaluation mode: `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** Freeze (false) or unfreeze (true) every parameter of this module and its descendants. */
  requiresGrad_(requiresGrad = true): this {
    for (const p of this.parameters()) p.requiresGrad = requiresGrad;
    return this;
  }

  /** Drop every parameter's gradient (like torch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Free the GPU memory of every parameter, gradient and buffer of the tree. */
  dispose(): void {
    for (const t of [...this.parameters(), ...this.buffers()]) t.dispose();
  }

  // ---- state dict ---------------------------------------------------------------------------

  /**
   * Parameters and buffers by dotted name, in PyTorch's order (per module: parameters, then
   * buffers, then children). The values are the module's own tensors, not copies: they change
   * as the model trains, and must not be disposed by the caller.
   */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      for (const registry of [m._parameters, m._buffers]) {
        for (const [name, t] of registry) if (t) out.set(prefix ? `${prefix}.${name}` : name, t);
      }
    }
    return out;
  }

  /**
   * Copy values from `state` INTO this module's tensors (on the GPU; nothing is reallocated, so
   * optimizers holding the parameters keep working). Everything is checked before anything is
   * copied: with `strict` (the default), missing or unexpected keys are an error; a shape
   * mismatch is always one. One StateDictError lists every problem by name. float32 <-> int32
   * values are converted (an I64 `num_batches_tracked` arrives as int32).
   */
  loadStateDict(state: ReadonlyMap<string, Tensor> | Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadStateDictResult {
    const strict = opts.strict ?? true;
    const source = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missingKeys = [...own.keys()].filter((k) => !source.has(k));
    const unexpectedKeys = [...source.keys()].filter((k) => !own.has(k));
    const shapeMismatches: string[] = [];
    for (const [key, dst] of own) {
      const src = source.get(key);
      if (!src) continue;
      if (!(src instanceof Tensor)) {
        shapeMismatches.push(`${key}: expected a Tensor, got ${typeof src}`);
      } else if (src.isDisposed) {
        shapeMismatches.push(`${key}: the source tensor was disposed`);
      } else if (src.size !== dst.size || src.rank !== dst.rank || src.shape.some((d, i) => d !== dst.shape[i])) {
        shapeMismatches.push(`${key}: shape ${fmtShape(src.shape)} in the state dict, ${fmtShape(dst.shape)} in the model`);
      }
    }
    const problems: string[] = [];
    if (strict && missingKeys.length) problems.push(`missing keys (${missingKeys.length}): ${missingKeys.join(', ')}`);
    if (strict && unexpectedKeys.length) problems.push(`unexpected keys (${unexpectedKeys.length}): ${unexpectedKeys.join(', ')}`);
    if (shapeMismatches.length) problems.push(`size mismatches (${shapeMismatches.length}): ${shapeMismatches.join('; ')}`);
    if (problems.length) {
      throw new StateDictError(
        `loadStateDict(${this.constructor.name}): nothing was loaded;\n  ${problems.join('\n  ')}`,
        missingKeys, unexpectedKeys, shapeMismatches,
      );
    }
    for (const [key, dst] of own) {
      const src = source.get(key);
      if (!src || src === dst) continue;
      copyConverting(src, dst);
    }
    return { missingKeys, unexpectedKeys };
  }

  // ---- printing -----------------------------------------------------------------------------

  /** The constructor arguments shown inside the parentheses, as torch's extra_repr(). */
  extraRepr(): string {
    return '';
  }

  /** The module tree, formatted as PyTorch prints it. */
  toString(): string {
    const extra = this.extraRepr();
    const lines = extra ? extra.split('\n') : [];
    for (const [name, m] of this.namedChildren()) lines.push(`(${name}): ${indent(m.toString(), 2)}`);
    const name = this.constructor.name;
    const hasChildren = !this.namedChildren().next().done;
    if (lines.length === 0) return `${name}()`;
    if (lines.length === 1 && !hasChildren) return `${name}(${lines[0]})`;
    return `${name}(\n  ${lines.join('\n  ')}\n)`;
  }
}

function* walk(m: Module, prefix: string, seen: Set<Module>): IterableIterator<[string, Module]> {
  if (seen.has(m)) return;
  seen.add(m);
  yield [prefix, m];
  for (const [name, child] of m.namedChildren()) yield* walk(child, prefix ? `${prefix}.${name}` : name, seen);
}

/** Indent every line but the first (torch's _addindent). */
function indent(s: string, spaces: number): string {
  return s.split('\n').join('\n' + ' '.repeat(spaces));
}

/** dst (contiguous, owned) <- src (any view, any 32-bit dtype), converting float32 <-> int32. */
function copyConverting(src: Tensor, dst: Tensor): void {
  if (src.storage === dst.storage && src.offset === dst.offset && src.strides.every((s, i) => s === dst.strides[i]) && src.dtype === dst.dtype) {
    return; // the very same memory
  }
  // A fresh contiguous source when a conversion is needed or the two share a buffer (WebGPU
  // forbids binding one buffer as both the read and the written side of a copy).
  let from = src;
  if (src.dtype !== dst.dtype) {
    const contiguousSrc = plain(src);
    from = cast(contiguousSrc, dst.dtype);
    disposeIfCopy(contiguousSrc, src);
  } else if (sameBuffer(src.buffer, dst.buffer)) {
    from = copyContiguous(src);
  }
  copyInto(from, { buffer: dst.buffer, offset: dst.offset, strides: dst.strides }, 'loadStateDict'); // a memcpy when both are plain
  if (from !== src) from.dispose();
}

// ---- Python-style formatting for extraRepr() ------------------------------------------------

/** A number as Python's repr() prints it: 1e-05, 0.1, 1.0, 1e+16. */
export function pyFloat(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = v.toExponential().split('e'); // shortest round-trip digits
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    const sign = exp < 0 ? '-' : '+';
    return `${mantissa}e${sign}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const s = String(v); // plain decimal for this range
  return s.includes('.') ? s : `${s}.0`;
}

export function pyBool(v: boolean): string {
  return v ? 'True' : 'False';
}

/** A pair as Python prints a tuple: (3, 3). */
export function pyTuple(v: readonly number[]): string {
  return v.length === 1 ? `(${v[0]},)` : `(${v.join(', ')})`;
}
