// max_pool2d_backward.wgsl — gradient of 2-D max pooling as a gather over inputs, NCHW f32,
// deterministic. The plain version: the launcher prefers max_pool2d_backward_scatter.wgsl and
// uses this one when windows overlap so much that the scatter would need many phases.
//
// Legend as in max_pool2d_forward.wgsl. Each input element collects the gradients of the
// outputs whose saved argmax points at it:
//   dx[n, c, ih, iw] = sum over (oh, ow) with argmax[n, c, oh, ow] == ih*W + iw of gy[n, c, oh, ow]
// Only windows that contain (ih, iw) can point at it: oh*SH - pH + kh*DH = ih for some kh < KH, so
//   oh in [ceil((ih + pH - (KH-1)*DH) / SH), floor((ih + pH) / SH)] ∩ [0, OH)   (same for ow),
// at most CH = ceil(((KH-1)*DH + 1) / SH) of them (CW likewise). The candidate loops run CH x CW
// times (pipeline constants), in a fixed order, with masked-out candidates loaded from a clamped
// index: reproducible sums, no branches.
// Grid: x covers the H*W inputs of a plane (one invocation each), y (spilling into z) the planes.
// Bindings: 0 gy (read), 1 argmax (read, i32), 2 dx (write), 3 params.
// Reference: src/kernels/reference/pool.ts (maxPool2dBackwardRef). Launcher: src/kernels/pool.ts.

struct Pool2dParams {     // the same struct as max_pool2d_forward.wgsl
  planes: u32,
  H: u32,
  W: u32,
  OH: u32,
  OW: u32,
  pH: u32,
  pW: u32,
  count_include_pad: u32,
  inv_W: f32,
  inv_OW: f32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<storage, read> gy: array<f32>;
@group(0) @binding(1) var<storage, read> argmax: array<i32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> p: Pool2dParams;

override WG: u32 = 64u;
override KH: u32 = 2u;
override KW: u32 = 2u;
override SH: u32 = 2u;
override SW: u32 = 2u;
override DH: u32 = 1u;
override DW: u32 = 1u;
override CH: u32 = 1u;    // ceil(((KH - 1) * DH + 1) / SH)
override CW: u32 = 1u;

fn div_u32(a: u32, d: u32, inv_d: f32) -> u32 {
  // a / d, exact for a < 2^23; see max_pool2d_forward.wgsl.
  let q = i32(f32(i32(a)) * inv_d);
  let r = i32(a) - q * i32(d);
  return u32(q + select(0, 1, r >= i32(d)) - select(0, 1, r < 0));
}

// First window whose taps can reach position `pos`: max(ceil((pos + pad - reach) / stride), 0).
// (stride is a pipeline constant, so the division compiles to a multiply.)
fn first_window(pos: u32, pad: u32, reach: u32, stride: u32) -> u32 {
  let a = i32(pos + pad) - i32(reach);
  return u32(max(a + i32(stride) - 1, 0)) / stride;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let pix = gid.x;
  let plane = wid.y + wid.z * nwg.y;
  if (pix >= p.H * p.W || plane >= p.planes) { return; }
  let ih = div_u32(pix, p.W, p.inv_W);
  let iw = pix - ih * p.W;
  let oh_lo = first_window(ih, p.pH, (KH - 1u) * DH, SH);
  let oh_end = min((ih + p.pH) / SH + 1u, p.OH);
  let ow_lo = first_window(iw, p.pW, (KW - 1u) * DW, SW);
  let ow_end = min((iw + p.pW) / SW + 1u, p.OW);
  let out_base = plane * p.OH * p.OW;
  var acc = 0.0;
  for (var a = 0u; a < CH; a++) {
    let oh = oh_lo + a;
    for (var b = 0u; b < CW; b++) {
      let ow = ow_lo + b;
      let o = out_base + min(oh, p.OH - 1u) * p.OW + min(ow, p.OW - 1u);
      let hit = oh < oh_end && ow < ow_end && argmax[o] == i32(pix);
      acc += select(0.0, gy[o], hit);
    }
  }
  dx[plane * p.H * p.W + pix] = acc;
}
