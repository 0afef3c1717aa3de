// SPDX-License-Identifier: MIT
// Optimizer: parameter groups, per-parameter state and the state dict, shared by SGD, Adam and
// AdamW (the shape of torch.optim.Optimizer). A subclass validates its hyperparameters and
// updates one parameter; every update is one fused WGSL dispatch (src/kernels/optim.ts) that
// writes into the parameter's own buffer, so parameter Tensor objects never change identity.
// With `fused: true` a group's parameters, gradients and state live in arenas (flat.ts) and one
// dispatch updates the whole group.

import { Tensor, emptyTensor } from '../../tensor/tensor.js';
import { OpArgumentError, fmtShape } from '../../tensor/errors.js';
import { copyContiguous } from '../../kernels/copy.js';
import { fillRange } from '../../kernels/fill.js';
import { FlatGroup } from './flat.js';

/** Group fields that lr schedulers read and write (torch keeps them in the group too). */
export interface GroupBase {
  lr: number;
  /** The lr a schedule starts from (torch's `initial_lr`); set by the first scheduler attached. */
  initialLr?: number;
  /** OneCycleLR's bounds (torch's `max_lr`, `min_lr`, `max_momentum`, `base_momentum`). */
  maxLr?: number;
  minLr?: number;
  maxMomentum?: number;
  baseMomentum?: number;
  /**
   * Keep the group's parameters, gradients and state side by side in one buffer each, and update
   * them all in one dispatch (torch's `fused`; see flat.ts). The parameters' storage moves into
   * the arena at the first step: views of a parameter taken before then stop following it.
   */
  fused: boolean;
}
const SCHEDULER_KEYS = ['initialLr', 'maxLr', 'minLr', 'maxMomentum', 'baseMomentum'];

/** A parameter group: its parameters and its own copy of every hyperparameter. */
export type ParamGroup<H extends GroupBase = GroupBase> = H & { params: Tensor[] };
/** What a caller passes for a group: parameters plus any hyperparameters that differ from the defaults. */
export type ParamGroupInput<H> = Partial<H> & { params: Iterable<Tensor> | Tensor };
/** The first constructor argument: parameters, or groups of them (torch's `params`). */
export type Params<H> = Iterable<Tensor> | readonly ParamGroupInput<H>[];

/**
 * A serialisable snapshot of an optimizer (torch's `optimizer.state_dict()`):
 * - `state`: the state tensors, keyed `<param index>.<name>` with torch's names
 *   (`3.momentum_buffer`, `0.exp_avg`, `0.exp_avg_sq`, `0.max_exp_avg_sq`). Parameters are
 *   numbered through all groups in order, as in torch. The tensors are views of the live state
 *   (no copy, like torch): they change on the next step(); dispose them when saved.
 * - `groups`: plain JSON, one object per group: every hyperparameter (lr, momentum, betas, ...,
 *   and scheduler fields like initialLr), `params`: the group's parameter indices, and `steps`:
 *   each parameter's step count (torch's `state[i]['step']`). Step counts are kept on the host
 *   (they feed Adam's bias corrections), so they live here and loading needs no GPU readback.
 * Write `state` to a tensor file and `JSON.stringify(groups)` beside it (e.g. safetensors
 * metadata) to checkpoint; `loadStateDict` copies the tensors, so the dict can be disposed after.
 */
export interface OptimizerStateDict {
  state: Map<string, Tensor>;
  groups: SavedGroup[];
}
export interface SavedGroup {
  params: number[];
  steps: number[];
  [hyperparameter: string]: unknown;
}

/** A parameter's optimizer state: its step count and named state tensors (kept out of scopes). */
export interface ParamState {
  step: number;
  tensors: Map<string, Tensor>;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? (v.constructor?.name ?? 'object') : `${typeof v} ${String(v)}`;
}

export abstract class Optimizer<H extends GroupBase = GroupBase> {
  readonly paramGroups: ParamGroup<H>[] = [];
  protected readonly state = new Map<Tensor, ParamState>();
  /** The arenas of groups with `fused` on, made at their first step. */
  private readonly flatGroups = new Map<ParamGroup<H>, FlatGroup>();

  protected constructor(
    /** The class name, used in every error message. */
    readonly name: string,
    params: Params<H>,
    /** The hyperparameters a group gets unless it sets its own. */
    readonly defaults: Readonly<H>,
  ) {
    this.validateGroup(defaults, 'options');
    if (params instanceof Tensor || params == null || typeof (params as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      throw new OpArgumentError(
        `${name}: params should be an iterable of Tensors or of parameter groups, got ${describeValue(params)}`,
      );
    }
    const list = [...(params as Iterable<unknown>)];
    if (list.length === 0) throw new OpArgumentError(`${name}: got an empty parameter list`);
    const isGroups = list[0] !== null && typeof list[0] === 'object' && !(list[0] instanceof Tensor) && 'params' in (list[0] as object);
    const groups = isGroups ? (list as ParamGroupInput<H>[]) : [{ params: list as Tensor[] } as unknown as ParamGroupInput<H>];
    for (const g of groups) this.addParamGroup(g);
  }

  /** Check one group's hyperparameters; throw OpArgumentError naming the optimizer and `where`. */
  protected abstract validateGroup(group: Readonly<H>, where: string): void;
  /** Update one parameter in place from its gradient (a fused kernel dispatch, or a share of one: see finishGroup). */
  protected abstract updateParam(group: ParamGroup<H>, param: Tensor, grad: Tensor, state: ParamState): void;
  /** The state tensor names this group's update may keep, and those a parameter that has taken steps must have. */
  protected abstract stateNames(group: Readonly<H>): { allowed: string[]; required: string[] };

  /** Add a group of parameters with its own hyperparameters (torch's add_param_group). */
  addParamGroup(input: ParamGroupInput<H>): void {
    const gi = this.paramGroups.length;
    if (input === null || typeof input !== 'object' || !('params' in input)) {
      throw new OpArgumentError(`${this.name}: parameter group ${gi} should be an object with 'params', got ${describeValue(input)}`);
    }
    const { params: given, ...hyper } = input;
    const known = new Set([...Object.keys(this.defaults), ...SCHEDULER_KEYS]);
    for (const [k, v] of Object.entries(hyper)) {
      if (!known.has(k)) {
        throw new OpArgumentError(`${this.name}: unknown option '${k}' in parameter group ${gi} (expected one of ${[...known].join(', ')})`);
      }
      if (v === undefined) delete (hyper as Record<string, unknown>)[k];
    }
    const isIterable = given != null && typeof (given as Iterable<unknown>)[Symbol.iterator] === 'function';
    if (!(given instanceof Tensor) && !isIterable) {
      throw new OpArgumentError(`${this.name}: parameter group ${gi}: params should be a Tensor or an iterable of Tensors, got ${describeValue(given)}`);
    }
    const params = given instanceof Tensor ? [given] : [...(given as Iterable<unknown>)];
    const seen = new Set<Tensor>(this.paramGroups.flatMap((g) => g.params));
    params.forEach((p, i) => this.checkParam(p, gi, i, seen));
    const group = { ...copyArrays(this.defaults), ...copyArrays(hyper), params: params as Tensor[] } as ParamGroup<H>;
    this.validateGroup(group, `parameter group ${gi}`);
    this.paramGroups.push(group);
  }

  private checkParam(p: unknown, gi: number, i: number, seen: Set<Tensor>): asserts p is Tensor {
    const where = `parameter ${i} of group ${gi}`;
    if (!(p instanceof Tensor)) throw new OpArgumentError(`${this.name}: ${where} is not a Tensor (got ${describeValue(p)})`);
    if (p.isDisposed) throw new OpArgumentError(`${this.name}: ${where} ${fmtShape(p.shape)} was disposed`);
    if (p.dtype !== 'float32') throw new OpArgumentError(`${this.name}: ${where} ${p.describe()} must be float32`);
    if (!p.isLeaf) throw new OpArgumentError(`${this.name}: can't optimize ${where} ${p.describe()}: it is not a leaf (made by ${p.gradFn!.name})`);
    if (!p.requiresGrad) {
      throw new OpArgumentError(`${this.name}: ${where} ${p.describe()} does not require grad (set requiresGrad = true, or leave it out)`);
    }
    if (!p.isContiguous || p.offset % 4 !== 0) {
      throw new OpArgumentError(
        `${this.name}: ${where} ${p.describe()} is a view (offset ${p.offset}, strides ${fmtShape(p.strides)}); ` +
          'the fused update needs a contiguous parameter at an element offset that is a multiple of 4',
      );
    }
    if (seen.has(p)) throw new OpArgumentError(`${this.name}: ${where} ${p.describe()} appears more than once among the parameters`);
    seen.add(p);
  }

  protected stateOf(p: Tensor): ParamState {
    let s = this.state.get(p);
    if (!s) this.state.set(p, (s = { step: 0, tensors: new Map() }));
    return s;
  }

  /**
   * One optimization step: every parameter with a gradient is updated in place by fused kernel
   * dispatches (several parameters per dispatch where the optimizer and device allow);
   * parameters whose grad is null are skipped. Nothing is read back to the host. A bad argument
   * stops the step there: the parameters before it are updated, as with one dispatch each.
   */
  step(): void {
    this.paramGroups.forEach((group, gi) => {
      this.validateGroup(group, `parameter group ${gi}`);
      try {
        const flat = group.fused ? this.flatGroupOf(group, gi) : null;
        for (const p of group.params) {
          let g = p.grad;
          if (!g) continue;
          if (p.isDisposed) throw new OpArgumentError(`${this.name}.step: a parameter ${fmtShape(p.shape)} of group ${gi} was disposed`);
          if (g.shape.length !== p.shape.length || g.shape.some((d, i) => d !== p.shape[i])) {
            throw new OpArgumentError(`${this.name}.step: grad ${fmtShape(g.shape)} does not match its parameter ${p.describe()}`);
          }
          const state = this.stateOf(p);
          if (flat) {
            // Everything the update reads into its slot (copies only where something moved it out).
            flat.adoptParam(p);
            g = flat.gatherGrad(p, g);
            for (const [name, t] of state.tensors) state.tensors.set(name, flat.adoptState(name, p, t));
          }
          this.updateParam(group, p, g, state);
        }
      } finally {
        this.finishGroup(group); // what updateParam queued is launched, never left for the next step
      }
    });
  }

  /** Called after updateParam for every parameter of a group: an optimizer that batches its dispatches launches them here. */
  protected finishGroup(_group: ParamGroup<H>): void {}

  /** The group's arenas (made now at its first fused step, or remade if its parameter list changed). */
  private flatGroupOf(group: ParamGroup<H>, gi: number): FlatGroup {
    let flat = this.flatGroups.get(group);
    if (flat && !flat.holdsExactly(group.params)) {
      flat.dispose();
      flat = undefined;
    }
    if (!flat) {
      group.params.forEach((p, i) => {
        if (p.isDisposed) throw new OpArgumentError(`${this.name}.step: parameter ${i} of group ${gi} was disposed`);
      });
      this.flatGroups.set(group, (flat = new FlatGroup(group.params)));
    }
    return flat;
  }

  /** The arenas of a fused group, for finishGroup's one-dispatch update (null when not fused). */
  protected flatGroup(group: ParamGroup<H>): FlatGroup | null {
    return group.fused ? (this.flatGroups.get(group) ?? null) : null;
  }

  /**
   * A new state tensor `name` of `param`'s shape, kept out of scopes: its slot of the arena in a
   * fused group (zeros), else a fresh tensor, zero-filled if `zeroed` (otherwise uninitialised:
   * for a first step whose kernel writes every element before reading it).
   */
  protected newState(group: ParamGroup<H>, param: Tensor, name: string, zeroed: boolean): Tensor {
    const flat = this.flatGroup(group);
    if (flat) return flat.newState(name, param);
    return (zeroed ? fillRange(param.shape, 'float32', 0, 0) : emptyTensor(param.shape, 'float32', name)).keep();
  }

  /** Drop every parameter's gradient: grad = null and its memory freed (torch's set_to_none). */
  zeroGrad(): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /** See OptimizerStateDict for the format. */
  stateDict(): OptimizerStateDict {
    const state = new Map<string, Tensor>();
    let index = 0;
    const groups = this.paramGroups.map((group) => {
      const { params, ...hyper } = group;
      const ids: number[] = [];
      const steps: number[] = [];
      for (const p of params) {
        const s = this.state.get(p);
        if (s) for (const [name, t] of s.tensors) state.set(`${index}.${name}`, t.detach());
        ids.push(index++);
        steps.push(s?.step ?? 0);
      }
      return { ...(JSON.parse(JSON.stringify(hyper)) as Record<string, unknown>), params: ids, steps } as SavedGroup;
    });
    return { state, groups };
  }

  /**
   * Restore a state dict from stateDict() of an optimizer of the same kind over parameters of
   * the same shapes, in the same groups and order. Hyperparameters (lr, ...) are restored too.
   * State tensors are copied (the dict can be disposed afterwards). Everything is checked before
   * anything changes.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    const op = `${this.name}.loadStateDict`;
    if (!sd || !(sd.state instanceof Map) || !Array.isArray(sd.groups)) {
      throw new OpArgumentError(`${op}: expected { state: Map<string, Tensor>, groups: [...] } as made by stateDict()`);
    }
    if (sd.groups.length !== this.paramGroups.length) {
      throw new OpArgumentError(`${op}: the state dict has ${sd.groups.length} parameter group(s), this optimizer has ${this.paramGroups.length}`);
    }
    const params: Tensor[] = [];
    const groupOf: number[] = [];
    const newHyper: H[] = [];
    sd.groups.forEach((saved, gi) => {
      const group = this.paramGroups[gi];
      if (!Array.isArray(saved.params) || saved.params.length !== group.params.length || !Array.isArray(saved.steps) || saved.steps.length !== saved.params.length) {
        throw new OpArgumentError(`${op}: saved group ${gi} has ${saved.params?.length} parameter(s), this optimizer's has ${group.params.length}`);
      }
      const { params: ids, steps: _steps, ...hyper } = saved;
      const known = new Set([...Object.keys(this.defaults), ...SCHEDULER_KEYS]);
      for (const k of Object.keys(hyper)) if (!known.has(k)) throw new OpArgumentError(`${op}: unknown hyperparameter '${k}' in saved group ${gi}`);
      const candidate = { ...copyArrays(group), ...copyArrays(hyper as Partial<H>) } as ParamGroup<H>;
      this.validateGroup(candidate, `saved group ${gi}`);
      newHyper.push(candidate);
      ids.forEach((id, j) => {
        if (id !== params.length) throw new OpArgumentError(`${op}: saved group ${gi} lists parameter index ${id}, expected ${params.length}`);
        params.push(group.params[j]);
        groupOf.push(gi);
      });
    });
    const steps = sd.groups.flatMap((g) => g.steps);
    const incoming = new Map<number, Map<string, Tensor>>();
    for (const [key, t] of sd.state) {
      const m = /^(\d+)\.(\w+)$/.exec(key);
      const idx = m ? Number(m[1]) : -1;
      if (!m || idx >= params.length) throw new OpArgumentError(`${op}: unexpected state key '${key}' (expected '<param index>.<name>' for ${params.length} parameters)`);
      const { allowed } = this.stateNames(newHyper[groupOf[idx]]);
      if (!allowed.includes(m[2])) throw new OpArgumentError(`${op}: unexpected state '${m[2]}' in '${key}' (expected one of ${allowed.join(', ') || 'none'})`);
      const p = params[idx];
      if (!(t instanceof Tensor) || t.isDisposed || t.dtype !== 'float32' || t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
        throw new OpArgumentError(`${op}: state '${key}' should be a live float32 tensor of shape ${fmtShape(p.shape)}, got ${t instanceof Tensor ? t.describe() : describeValue(t)}`);
      }
      if (!incoming.has(idx)) incoming.set(idx, new Map());
      incoming.get(idx)!.set(m[2], t);
    }
    steps.forEach((step, idx) => {
      if (!Number.isInteger(step) || step < 0) throw new OpArgumentError(`${op}: step count of parameter ${idx} should be an integer >= 0, got ${step}`);
      const { required } = this.stateNames(newHyper[groupOf[idx]]);
      const missing = step > 0 ? required.filter((n) => !incoming.get(idx)?.has(n)) : [];
      if (missing.length) throw new OpArgumentError(`${op}: parameter ${idx} has taken ${step} step(s) but its state lacks ${missing.join(', ')}`);
    });

    // Validated: copy the tensors first (a saved view may share a buffer with the current state),
    // then swap them in.
    const copies = new Map<number, Map<string, Tensor>>();
    for (const [idx, named] of incoming) {
      copies.set(idx, new Map([...named].map(([n, t]) => [n, copyContiguous(t).keep()])));
    }
    this.dispose();
    params.forEach((p, idx) => {
      const tensors = copies.get(idx);
      if (tensors || steps[idx] > 0) this.state.set(p, { step: steps[idx], tensors: tensors ?? new Map() });
    });
    this.paramGroups.forEach((group, gi) => Object.assign(group, newHyper[gi], { params: group.params }));
  }

  /** Free the optimizer's state tensors (momentum buffers, moments). The parameters are untouched. */
  dispose(): void {
    for (const s of this.state.values()) for (const t of s.tensors.values()) t.dispose();
    this.state.clear();
    for (const flat of this.flatGroups.values()) flat.dispose();
    this.flatGroups.clear();
  }
}

/** A shallow copy whose array values (betas) are copied too, so groups never share them. */
function copyArrays<T extends object>(o: T): T {
  const out = { ...o } as Record<string, unknown>;
  for (const [k, v] of Object.entries(out)) if (Array.isArray(v)) out[k] = [...v];
  return out as T;
}
