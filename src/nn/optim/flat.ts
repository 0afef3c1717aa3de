// SPDX-License-Identifier: MIT
// A parameter group laid out flat, so that one dispatch updates all of it (the `fused` option).
//
// Why: an update moves few bytes per parameter tensor, and a dispatch has a fixed cost (~40-140 µs
// on lavapipe, ~10 µs of host time on a GPU). A CIFAR ResNet-20 has 59 parameter tensors of
// 16 to 37k floats: one dispatch each, or even four per dispatch, spends most of the step on
// dispatch overhead. CUDA's fused optimizers hand the kernel a list of pointers; WebGPU has no
// pointers, so instead we put the tensors side by side in one buffer (an *arena*), and the
// gradients and every state tensor (momentum, Adam's moments) in arenas of the same layout.
// Then the update is the plain one-tensor kernel run over the whole arena: element i of the
// parameter arena goes with element i of the gradient and state arenas.
//
//   parameter arena:  [ conv1.weight | pad | bn1.weight | pad | bn1.bias | pad | ... ]
//   gradient arena:   [ its grad     | 0   | its grad   | 0   | its grad | 0   | ... ]
//
// Each tensor's slot starts on a 256-byte boundary, the alignment WebGPU asks of a binding's
// offset: every parameter's storage becomes its range of the arena (Storage.range), which the
// forward and backward kernels bind as `{ buffer, offset, size }`, so they never see the arena.
// Padding starts as zeros in every arena; no kernel reads it as part of a tensor (as with the
// unused tail of any pooled buffer), and the update treats it like any other element.
//
// Gradients: each parameter's gradient slot is offered to the backward pass (grad-destination.ts),
// and the ops that compute parameter gradients in a ResNet (convolution weights and biases, batch
// norm's weight and bias) store them there. A gradient that arrives elsewhere (another op's, or
// one accumulated over two backward passes) is copied into its slot by `gatherGrad` (a
// buffer-to-buffer copy, no dispatch), as are state tensors loaded from a checkpoint.

import { Tensor, emptyTensor } from '../../tensor/tensor.js';
import { Storage, rawBuffer, byteOffsetOf, RANGE_ALIGN_BYTES } from '../../tensor/storage.js';
import { contiguousStrides } from '../../tensor/shape.js';
import { commands } from '../../tensor/queue.js';
import { copyInto } from '../../kernels/copy.js';
import { setGradDestination, forgetGradDestination } from '../../autograd/grad-destination.js';

/** Floats from one slot's start to the next possible one (a range's offset alignment). */
const SLOT_ALIGN = RANGE_ALIGN_BYTES / 4;

interface Slot {
  /** First element in every arena. */
  offset: number;
  /** Reserved elements (the tensor's, rounded up to the alignment; at least one block). */
  length: number;
  /** The parameter's storage: its range of the parameter arena. */
  param: Storage;
  grad: Storage;
  states: Map<string, Storage>;
  /** Offered to the backward pass as the place for the parameter's gradient. */
  gradDestination: () => Tensor;
}

export class FlatGroup {
  /** Elements in each arena. */
  readonly length: number;
  /** The parameters side by side (a 1-D tensor over the whole arena). */
  readonly params: Tensor;
  readonly grads: Tensor;
  private readonly stateArenas = new Map<string, Tensor>();
  private readonly slots = new Map<Tensor, Slot>();

  constructor(params: readonly Tensor[]) {
    let offset = 0;
    const layout = params.map((p) => {
      const length = Math.max(1, Math.ceil(p.size / SLOT_ALIGN)) * SLOT_ALIGN;
      const at = offset;
      offset += length;
      return { p, at, length };
    });
    this.length = offset;
    this.params = this.zeroedArena('parameters');
    this.grads = this.zeroedArena('gradients');
    for (const { p, at, length } of layout) {
      const grad = this.range(this.grads, at, length);
      const slot: Slot = { offset: at, length, param: this.range(this.params, at, length), grad, states: new Map(), gradDestination: () => this.view(grad, p) };
      this.slots.set(p, slot);
      this.adoptParam(p);
      setGradDestination(p, slot.gradDestination);
    }
  }

  /** Whether the arenas were laid out for exactly these parameters. */
  holdsExactly(params: readonly Tensor[]): boolean {
    return params.length === this.slots.size && params.every((p) => this.slots.has(p));
  }

  /**
   * A new arena of zeros, cleared by a command rather than a fill kernel: a fused step inside
   * wg.warmup's record-only pass (where no kernel runs) still gets zeros.
   */
  private zeroedArena(what: string): Tensor {
    const arena = emptyTensor([this.length], 'float32', `fused optimizer ${what}`).keep();
    commands().clear(rawBuffer(arena.buffer), byteOffsetOf(arena.buffer), this.length * 4);
    return arena;
  }

  private range(arena: Tensor, offset: number, length: number): Storage {
    return Storage.range(arena.storage, offset * 4, length * 4);
  }

  private slot(p: Tensor): Slot {
    const s = this.slots.get(p);
    if (!s) throw new Error(`wgslgrad internal: parameter ${p.describe()} has no slot in the fused optimizer's arena`);
    return s;
  }

  /** A tensor of p's shape over `storage` (a slot), kept out of scopes: the caller owns it. */
  private view(storage: Storage, p: Tensor): Tensor {
    return new Tensor(storage.retain(), p.shape, 'float32').keep();
  }

  /** Copy `src` (any layout) into the first elements of a slot. */
  private copyIntoSlot(src: Tensor, storage: Storage): void {
    copyInto(src, { buffer: storage.buffer, offset: 0, strides: contiguousStrides(src.shape) }, 'fused optimizer gather');
  }

  /**
   * Make p's storage its slot of the parameter arena: copy its values in and re-point it. Done
   * once, when the arena is made, and again only if something replaced p's storage since.
   * Views of p taken before (a state dict made earlier) keep the old memory and stop following p.
   */
  adoptParam(p: Tensor): void {
    const slot = this.slot(p);
    if (p.storage === slot.param) return;
    this.copyIntoSlot(p, slot.param);
    p.replaceStorage(slot.param.retain());
  }

  /** p's gradient, moved into its slot of the gradient arena if it is not there yet; p.grad then points at the slot. */
  gatherGrad(p: Tensor, grad: Tensor): Tensor {
    const slot = this.slot(p);
    if (grad.storage === slot.grad && grad.offset === 0 && grad.isContiguous) return grad;
    this.copyIntoSlot(grad, slot.grad);
    const inSlot = this.view(slot.grad, p);
    if (p.grad === grad) {
      grad.dispose();
      p.grad = inSlot;
    }
    return inSlot;
  }

  /** The slot of state `name` for p, as a tensor of p's shape holding zeros until first written. */
  newState(name: string, p: Tensor): Tensor {
    return this.view(this.stateSlot(name, p), p);
  }

  /** `t`, state `name` of p, if it lies in its slot; else a copy of it there (and `t` is disposed). */
  adoptState(name: string, p: Tensor, t: Tensor): Tensor {
    const storage = this.stateSlot(name, p);
    if (t.storage === storage && t.offset === 0 && t.isContiguous) return t;
    this.copyIntoSlot(t, storage);
    t.dispose();
    return this.view(storage, p);
  }

  /** The whole arena of state `name` (zeros where no slot was written yet). */
  stateArena(name: string): Tensor {
    let arena = this.stateArenas.get(name);
    if (!arena) this.stateArenas.set(name, (arena = this.zeroedArena(name)));
    return arena;
  }

  private stateSlot(name: string, p: Tensor): Storage {
    const slot = this.slot(p);
    let storage = slot.states.get(name);
    if (!storage) slot.states.set(name, (storage = this.range(this.stateArena(name), slot.offset, slot.length)));
    return storage;
  }

  /**
   * Let go of the arenas. Memory still in use stays alive: parameters keep their slots (and so
   * the parameter arena), gradients theirs, until they are disposed.
   */
  dispose(): void {
    for (const [p, slot] of this.slots) {
      forgetGradDestination(p, slot.gradDestination);
      slot.param.release();
      slot.grad.release();
      for (const s of slot.states.values()) s.release();
    }
    this.slots.clear();
    this.params.dispose();
    this.grads.dispose();
    for (const t of this.stateArenas.values()) t.dispose();
    this.stateArenas.clear();
  }
}
