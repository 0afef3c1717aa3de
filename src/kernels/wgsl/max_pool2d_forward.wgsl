// max_pool2d_forward.wgsl — 2-D max pooling, NCHW f32, with the argmax of every window.
//
// Legend: x (N, C, H, W); y and argmax (N, C, OH, OW); a "plane" is one (n, c) image.
//   y[n, c, oh, ow] = max over kh < KH, kw < KW of x[n, c, oh*SH - pH + kh*DH, ow*SW - pW + kw*DW]
//   argmax[...]     = ih * W + iw of that maximum, int32, within its plane (PyTorch's convention)
// Taps outside the input (padding) never win: they are loaded from a clamped position and
// masked out. The window is scanned row by row and only a strictly larger value (or a NaN)
// replaces the best one, so the first maximum in scan order wins ties, as in PyTorch.
// Window size, stride and dilation are pipeline constants: the tap loops unroll and the kernel
// has no branches (masked loads and varying loop bounds are what is slow on llvmpipe).
// Grid: x covers the OH*OW outputs of a plane (one invocation each), y (spilling into z) the planes.
// Bindings: 0 x (read), 1 y (write), 2 argmax (write, i32), 3 params.
// Reference: src/kernels/reference/pool.ts (maxPool2dRef). Launcher: src/kernels/pool.ts.

struct Pool2dParams {     // packed by packPool2dParams() in src/kernels/pool.ts, same order
  planes: u32,            // N * C
  H: u32,
  W: u32,
  OH: u32,
  OW: u32,
  pH: u32,
  pW: u32,
  count_include_pad: u32, // avg_pool2d only
  inv_W: f32,             // 1 / W and 1 / OW, for div_u32()
  inv_OW: f32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> argmax: array<i32>;
@group(0) @binding(3) var<uniform> p: Pool2dParams;

override WG: u32 = 64u;
override KH: u32 = 2u;
override KW: u32 = 2u;
override SH: u32 = 2u;
override SW: u32 = 2u;
override DH: u32 = 1u;
override DW: u32 = 1u;

// a / d without an integer division (llvmpipe scalarises those): a float estimate corrected by
// one step, branch-free. Exact for a < 2^23 (the launcher checks plane sizes).
fn div_u32(a: u32, d: u32, inv_d: f32) -> u32 {
  // Signed conversions: x86 has vector i32 <-> f32 instructions but none for u32.
  let q = i32(f32(i32(a)) * inv_d);
  let r = i32(a) - q * i32(d);
  return u32(q + select(0, 1, r >= i32(d)) - select(0, 1, r < 0));
}

// NaN test on the bits: WGSL lets compilers assume floats are never NaN, and llvmpipe folds
// `v != v` to false (found by a test), so the comparison cannot be trusted.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let pix = gid.x;
  let plane = wid.y + wid.z * nwg.y;
  let per_plane = p.OH * p.OW;
  if (pix >= per_plane || plane >= p.planes) { return; }
  let oh = div_u32(pix, p.OW, p.inv_OW);
  let ow = pix - oh * p.OW;
  let base = plane * p.H * p.W;
  let h0 = i32(oh * SH) - i32(p.pH);
  let w0 = i32(ow * SW) - i32(p.pW);
  var best = -0x1.fffffep+127f;
  var best_i = -1;
  for (var kh = 0u; kh < KH; kh++) {
    let ih = h0 + i32(kh * DH);
    let row_ok = ih >= 0 && ih < i32(p.H);
    let row = clamp(ih, 0, i32(p.H) - 1) * i32(p.W);
    for (var kw = 0u; kw < KW; kw++) {
      let iw = w0 + i32(kw * DW);
      let i = row + clamp(iw, 0, i32(p.W) - 1);
      let v = x[base + u32(i)];
      // best_i < 0: the first valid tap (it may be -inf); is_nan(v): a NaN propagates.
      let take = row_ok && iw >= 0 && iw < i32(p.W) && (best_i < 0 || v > best || is_nan(v));
      best = select(best, v, take);
      best_i = select(best_i, i, take);
    }
  }
  y[plane * per_plane + pix] = best;
  argmax[plane * per_plane + pix] = best_i;
}
