// SPDX-License-Identifier: MIT
// Float64 reference for augment_batch.wgsl: crop window + flip + normalise, one output element
// at a time, exactly as the kernel's header comment defines it.

export interface AugmentDims {
  batch: number;
  inChannels: number;
  inHeight: number;
  inWidth: number;
  outChannels: number;
  outHeight: number;
  outWidth: number;
}

/**
 * pixels: (N, C_in, H, W) bytes; placement: (N, 4) = (x0, y0, flip, 0);
 * mean/std: per output channel. Returns (N, C_out, H_out, W_out).
 */
export function augmentBatchRef(pixels: Uint8Array, placement: Int32Array, d: AugmentDims, mean: number[], std: number[]): Float64Array {
  const out = new Float64Array(d.batch * d.outChannels * d.outHeight * d.outWidth);
  let i = 0;
  for (let n = 0; n < d.batch; n++) {
    const [x0, y0, flip] = [placement[4 * n], placement[4 * n + 1], placement[4 * n + 2]];
    for (let c = 0; c < d.outChannels; c++) {
      for (let oy = 0; oy < d.outHeight; oy++) {
        for (let ox = 0; ox < d.outWidth; ox++) {
          const sx = (flip ? d.outWidth - 1 - ox : ox) + x0;
          const sy = oy + y0;
          let v = 0;
          if (sx >= 0 && sx < d.inWidth && sy >= 0 && sy < d.inHeight) {
            const ci = c % d.inChannels;
            v = pixels[((n * d.inChannels + ci) * d.inHeight + sy) * d.inWidth + sx] / 255;
          }
          out[i++] = (v - mean[c]) / std[c];
        }
      }
    }
  }
  return out;
}
