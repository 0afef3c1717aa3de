// SPDX-License-Identifier: MIT
// Packs a kernel's parameter struct. Each launcher writes the fields in the same order as the
// `struct` in its .wgsl file, so the two can be read side by side.
//
// WGSL uniform layout rules used here: u32/i32/f32 take 4 bytes at 4-byte alignment;
// vec4<u32> (used for shape/stride arrays, `array<vec4<u32>, 2>`) is 16-byte aligned;
// the struct's size rounds up to 16.

export class Uniforms {
  private view: DataView;
  private bytes: Uint8Array;
  private offset = 0;

  constructor(capacity = 256) {
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer);
  }

  u32(v: number): this {
    this.view.setUint32(this.offset, v >>> 0, true);
    this.offset += 4;
    return this;
  }

  i32(v: number): this {
    this.view.setInt32(this.offset, v | 0, true);
    this.offset += 4;
    return this;
  }

  f32(v: number): this {
    this.view.setFloat32(this.offset, v, true);
    this.offset += 4;
    return this;
  }

  /** An `array<vec4<u32>, n>` holding `values` padded with `fill` (16-byte aligned). */
  u32Array(values: readonly number[], vec4Count: number, fill = 0): this {
    this.align(16);
    for (let i = 0; i < vec4Count * 4; i++) this.u32(i < values.length ? values[i] : fill);
    return this;
  }

  /** An `array<vec4<i32>, n>`. */
  i32Array(values: readonly number[], vec4Count: number, fill = 0): this {
    this.align(16);
    for (let i = 0; i < vec4Count * 4; i++) this.i32(i < values.length ? values[i] : fill);
    return this;
  }

  align(n: number): this {
    this.offset = Math.ceil(this.offset / n) * n;
    return this;
  }

  /** The packed struct, size rounded up to 16 bytes. */
  finish(): Uint8Array {
    this.align(16);
    return this.bytes.subarray(0, Math.max(this.offset, 16));
  }
}
