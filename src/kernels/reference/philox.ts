// SPDX-License-Identifier: MIT
// Host reference of random.wgsl's Philox-4x32-10, so any GPU random number can be reproduced
// (and checked) on the CPU: element 4i+j comes from philox((i, offset, 0, 0), seed)[j].

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

function mulhilo(a: number, b: number): [number, number] {
  const p = BigInt(a >>> 0) * BigInt(b >>> 0);
  return [Number(p >> 32n) >>> 0, Number(p & 0xffffffffn) >>> 0];
}

export function philox4x32(counter: [number, number, number, number], key: [number, number]): [number, number, number, number] {
  let [c0, c1, c2, c3] = counter.map((v) => v >>> 0);
  let [k0, k1] = key.map((v) => v >>> 0);
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulhilo(M0, c0);
    const [hi1, lo1] = mulhilo(M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/** The uniform [0, 1) values random.wgsl produces for (seed, offset). */
export function philoxUniformRef(n: number, seed: number, offset: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i * 4 < n; i++) {
    const words = philox4x32([i, offset, 0, 0], [seed >>> 0, Math.floor(seed / 2 ** 32) >>> 0]);
    for (let j = 0; j < 4 && i * 4 + j < n; j++) out[i * 4 + j] = (words[j] >>> 8) / 16777216;
  }
  return out;
}
