// SPDX-License-Identifier: MIT
// Where kernel parameter structs live: one uniform buffer, one 256-byte slot per distinct struct.
//
// Every dispatch binds a small uniform struct (sizes, strides, hyperparameters). The structs sit
// side by side in one buffer, and a dispatch's bind group names its struct's offset. Bind groups
// are cached by what they bind (launch.ts), so a dispatch finds its cached bind group only if its
// struct sits at the same offset as last time. Slots are therefore given by *content*: a struct
// seen before gets the slot it had, whatever batch it lands in. A training step repeats the same
// structs every time (same shapes, same hyperparameters), so after the first step no struct is
// written again and every dispatch finds its bind group.
//
// (Packing each batch from offset 0 gave the same offsets only when every step started a new
// batch, i.e. when the loop waited for the GPU after each step. A loop that did not wait shifted
// them every step: ~200 of a ResNet-20 step's ~250 dispatches created a bind group, ~20 µs of
// host time each.)
//
// A struct that changes every step (a learning rate under a schedule) takes a new slot each time;
// when the buffer is full the queue submits what it recorded and starts the slots afresh.
// Rewriting a slot is safe: queue.writeBuffer runs after the work submitted before it.

/** minUniformBufferOffsetAlignment: the WebGPU default, and the largest an adapter may ask. */
export const UNIFORM_ALIGN = 256;

export class UniformSlots {
  /** The host's copy of the buffer; [dirtyFrom, used) is not uploaded yet. */
  readonly host: Uint8Array<ArrayBuffer>;
  private readonly words: Uint32Array;
  private used = 0;
  private dirtyFrom = Infinity;
  /** Slot offsets by the hash of their contents (a list: two structs may share a hash). */
  private readonly byHash = new Map<number, number[]>();
  /** Bytes in each slot, by offset / UNIFORM_ALIGN. */
  private readonly lengths: Uint32Array;

  constructor(readonly bytes: number) {
    this.host = new Uint8Array(bytes);
    this.words = new Uint32Array(this.host.buffer);
    this.lengths = new Uint32Array(bytes / UNIFORM_ALIGN);
  }

  /** The offset of the slot holding `data` (a new slot if none does), or -1 if the buffer is full. */
  slot(data: Uint8Array): number {
    const words = data.byteOffset % 4 === 0 && data.byteLength % 4 === 0 ? new Uint32Array(data.buffer, data.byteOffset, data.byteLength / 4) : null;
    const h = words ? hashWords(words) : hashBytes(data);
    const candidates = this.byHash.get(h);
    if (candidates) {
      for (const at of candidates) if (this.holds(at, data, words)) return at;
    }
    if (this.used + data.byteLength > this.bytes) return -1;
    const at = this.used;
    this.host.set(data, at);
    this.lengths[at / UNIFORM_ALIGN] = data.byteLength;
    this.used = Math.ceil((at + data.byteLength) / UNIFORM_ALIGN) * UNIFORM_ALIGN;
    this.dirtyFrom = Math.min(this.dirtyFrom, at);
    if (candidates) candidates.push(at);
    else this.byHash.set(h, [at]);
    return at;
  }

  private holds(at: number, data: Uint8Array, words: Uint32Array | null): boolean {
    if (this.lengths[at / UNIFORM_ALIGN] !== data.byteLength) return false;
    if (words) {
      const base = at / 4;
      for (let i = 0; i < words.length; i++) if (this.words[base + i] !== words[i]) return false;
      return true;
    }
    for (let i = 0; i < data.byteLength; i++) if (this.host[at + i] !== data[i]) return false;
    return true;
  }

  /** The byte range written since the last call, to upload before a submit; null if none. */
  takeDirty(): [number, number] | null {
    if (this.dirtyFrom >= this.used) return null;
    const range: [number, number] = [this.dirtyFrom, this.used];
    this.dirtyFrom = Infinity;
    return range;
  }

  /** Forget every slot (after a submit: the next structs are written from offset 0). */
  reset(): void {
    this.used = 0;
    this.dirtyFrom = Infinity;
    this.byHash.clear();
  }
}

/** FNV-1a over 32-bit words: a few hundred nanoseconds for a parameter struct. */
function hashWords(words: Uint32Array): number {
  let h = 0x811c9dc5 ^ words.length;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i], 0x01000193);
  return h >>> 0;
}

function hashBytes(bytes: Uint8Array): number {
  let h = 0x811c9dc5 ^ bytes.length;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}
