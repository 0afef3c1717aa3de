// SPDX-License-Identifier: MIT
// A small, seedable, saveable pseudo-random generator for the host side of data loading
// (shuffling, augmentation parameters). xoshiro128** (Blackman & Vigna) seeded through
// splitmix32, so any list of integers (seed, epoch, batch, ...) gives an independent stream.
//
// Why not Math.random: it can be neither seeded nor saved, and a resumed run must draw exactly
// the numbers the uninterrupted run would have drawn.

/** The generator state: four 32-bit words (never all zero). Plain data, JSON-safe. */
export type RngState = [number, number, number, number];

/** splitmix32: a bijective mixer; used to spread seeds into the xoshiro state. */
function splitmix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export class Rng {
  private s: Uint32Array;

  constructor(state: RngState) {
    this.s = Uint32Array.from(state);
    if (this.s.every((w) => w === 0)) this.s[0] = 1;
  }

  /**
   * A generator for a tuple of integers, e.g. `Rng.fromSeeds(seed, epoch)`. Each integer is
   * folded in with splitmix32, so (1, 2) and (2, 1) give unrelated streams.
   */
  static fromSeeds(...seeds: number[]): Rng {
    let h = 0x6a09e667;
    for (const v of seeds) {
      // Integers up to 2^53: fold the high and low 32-bit halves separately.
      h = splitmix32(h ^ (v >>> 0));
      h = splitmix32(h ^ (Math.floor(v / 2 ** 32) >>> 0));
    }
    const state: RngState = [0, 0, 0, 0];
    for (let i = 0; i < 4; i++) {
      h = splitmix32(h);
      state[i] = h;
    }
    return new Rng(state);
  }

  /** The next 32 random bits as an unsigned integer. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n) for 0 < n <= 2^32 (multiply-shift; bias below 2^-32 * n). */
  int(n: number): number {
    return Math.floor((this.nextU32() * n) / 4294967296);
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  getState(): RngState {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }

  setState(state: RngState): void {
    this.s.set(state);
  }
}
