// max_pool2d_backward.wgsl — gradient of 2-D max pooling, NCHW f32, deterministic (a gather:
// no atomics, no scatter).
//
// Legend as in max_pool2d_forward.wgsl. Each input element collects the gradients of the
// outputs whose saved argmax points at it:
//   dx[n, c, ih, iw] = sum over (oh, ow) with argmax[n, c, oh, ow] == ih*W + iw of gy[n, c, oh, ow]
// Only windows that contain (ih, iw) can point at it: oh*sH - pH + kh*dH = ih for some kh < kH, so
//   oh in [ceil((ih + pH - (kH-1)*dH) / sH), floor((ih + pH) / sH)] ∩ [0, OH)   (same for ow).
// The candidates are visited in a fixed order (oh, then ow), so sums are reproducible.
// One invocation per input element.
// Bindings: 0 gy (read), 1 argmax (read, i32), 2 dx (write), 3 params.
// Reference: src/kernels/reference/pool.ts (maxPool2dBackwardRef). Launcher: src/kernels/pool.ts.

struct Pool2dParams {
  planes: u32,
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
  count_include_pad: u32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<storage, read> gy: array<f32>;
@group(0) @binding(1) var<storage, read> argmax: array<i32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: Pool2dParams;

override WG: u32 = 256u;

// First window index whose taps can reach position `pos`: ceil((pos + pad - reach) / stride), >= 0.
fn first_window(pos: u32, pad: u32, reach: u32, stride: u32) -> u32 {
  let a = i32(pos + pad) - i32(reach);
  if (a <= 0) { return 0u; }
  return (u32(a) + stride - 1u) / stride;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let per_plane = p.H * p.W;
  if (i >= p.planes * per_plane) { return; }
  let plane = i / per_plane;
  let pos = i32(i % per_plane);
  let ih = u32(pos) / p.W;
  let iw = u32(pos) % p.W;
  let oh_lo = first_window(ih, p.pH, (p.kH - 1u) * p.dH, p.sH);
  let oh_hi = min((ih + p.pH) / p.sH + 1u, p.OH);
  let ow_lo = first_window(iw, p.pW, (p.kW - 1u) * p.dW, p.sW);
  let ow_hi = min((iw + p.pW) / p.sW + 1u, p.OW);
  let out_base = plane * p.OH * p.OW;
  var acc = 0.0;
  for (var oh = oh_lo; oh < oh_hi; oh++) {
    for (var ow = ow_lo; ow < ow_hi; ow++) {
      let o = out_base + oh * p.OW + ow;
      if (argmax[o] == pos) { acc += gy[o]; }
    }
  }
  dx[i] = acc;
}
