// max_pool2d_forward.wgsl — 2-D max pooling, NCHW f32, with the argmax of every window.
//
// Legend: x (N, C, H, W); y and argmax (N, C, OH, OW); a "plane" is one (n, c) image.
//   y[n, c, oh, ow] = max over kh < kH, kw < kW of x[n, c, oh*sH - pH + kh*dH, ow*sW - pW + kw*dW]
//   argmax[...]     = ih * W + iw of that maximum, int32, within its plane (PyTorch's convention)
// Taps outside the input (padding) are skipped, never read as 0 or -inf. The window is scanned
// row by row and only a strictly larger value (or a NaN) replaces the best one, so the first
// maximum in scan order wins ties, exactly as PyTorch's CPU kernel.
// One invocation per output element; the grid may spill into y (65535-workgroup limit).
// Bindings: 0 x (read), 1 y (write), 2 argmax (write, i32), 3 params.
// Reference: src/kernels/reference/pool.ts (maxPool2dRef). Launcher: src/kernels/pool.ts.

struct Pool2dParams {     // packed by packPool2dParams() from pool2dGeometry(), same order
  planes: u32,            // N * C
  H: u32,
  W: u32,
  OH: u32,
  OW: u32,
  kH: u32,
  kW: u32,
  sH: u32,
  sW: u32,
  pH: u32,
  pW: u32,
  dH: u32,
  dW: u32,
  count_include_pad: u32, // avg_pool2d only
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> argmax: array<i32>;
@group(0) @binding(3) var<uniform> p: Pool2dParams;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.x + gid.y * nwg.x * WG;
  let per_plane = p.OH * p.OW;
  if (o >= p.planes * per_plane) { return; }
  let plane = o / per_plane;
  let oh = (o % per_plane) / p.OW;
  let ow = o % p.OW;
  let base = plane * p.H * p.W;
  let h0 = i32(oh * p.sH) - i32(p.pH);
  let w0 = i32(ow * p.sW) - i32(p.pW);
  var best = -0x1.fffffep+127f;
  var best_i = -1;
  for (var kh = 0u; kh < p.kH; kh++) {
    let ih = h0 + i32(kh * p.dH);
    if (ih < 0 || ih >= i32(p.H)) { continue; }
    for (var kw = 0u; kw < p.kW; kw++) {
      let iw = w0 + i32(kw * p.dW);
      if (iw < 0 || iw >= i32(p.W)) { continue; }
      let i = ih * i32(p.W) + iw;
      let v = x[base + u32(i)];
      // best_i < 0: the first tap in the window (it may be -inf); v != v: NaN propagates.
      if (best_i < 0 || v > best || v != v) {
        best = v;
        best_i = i;
      }
    }
  }
  y[o] = best;
  argmax[o] = best_i;
}
