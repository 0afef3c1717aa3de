// The unary vec4 kernel (elementwise_unary.wgsl, main_vec4) moves V vec4s per invocation in
// tiles of WG * V vec4s: sizes around the tile edges, against the same op computed on the host.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice, expectClose } from '../helpers.js';

useDevice();

describe('unary ops on whole vec4s', () => {
  // 1 vec4; one vec4 short of a tile (256 x 4 vec4s); a tile and one more; several tiles and a partial one.
  for (const n of [4, 4 * 1023, 4 * 1025, 4 * (3 * 1024 + 517)]) {
    it(`relu, exp and 2x - 1 of ${n} elements`, async () => {
      const x = wg.randn([n], { seed: n });
      const host = await x.data();
      expect(Array.from(await wg.relu(x).data())).toEqual(Array.from(host, (v) => Math.max(v, 0)));
      expectClose(await wg.exp(x).data(), Array.from(host, Math.exp), 1e-6);
      expectClose(await x.mul(2).sub(1).data(), Array.from(host, (v) => 2 * v - 1), 1e-6);
      x.dispose();
    });
  }
});
