// avg_pool2d_backward.wgsl — gradient of 2-D average pooling, NCHW f32, deterministic gather.
//
// Legend and window rule as in avg_pool2d_forward.wgsl. Each input element sums the share of
// every output whose clipped window contains it:
//   dx[n, c, ih, iw] = sum over windows (oh, ow) containing (ih, iw) of gy[n, c, oh, ow] / divisor(oh, ow)
// Window oh contains ih when oh*sH - pH <= ih < oh*sH - pH + kH, i.e.
//   oh in [ceil((ih + pH - kH + 1) / sH), floor((ih + pH) / sH)] ∩ [0, OH)     (same for ow)
// divisor(oh, ow) is recomputed exactly as in the forward kernel. Fixed visiting order (oh, ow).
// One invocation per input element.
// Bindings: 0 gy (read), 1 dx (write), 2 params.
// Reference: src/kernels/reference/pool.ts (avgPool2dBackwardRef). Launcher: src/kernels/pool.ts.

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
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<uniform> p: Pool2dParams;

override WG: u32 = 256u;

fn first_window(pos: u32, pad: u32, reach: u32, stride: u32) -> u32 {
  let a = i32(pos + pad) - i32(reach);
  if (a <= 0) { return 0u; }
  return (u32(a) + stride - 1u) / stride;
}

// The divisor of window (oh, ow): the forward kernel's rule.
fn divisor(oh: u32, ow: u32) -> f32 {
  var hs = i32(oh * p.sH) - i32(p.pH);
  var ws = i32(ow * p.sW) - i32(p.pW);
  var he = min(hs + i32(p.kH), i32(p.H + p.pH));
  var we = min(ws + i32(p.kW), i32(p.W + p.pW));
  if (p.count_include_pad != 0u) { return f32((he - hs) * (we - ws)); }
  hs = max(hs, 0);
  ws = max(ws, 0);
  he = min(he, i32(p.H));
  we = min(we, i32(p.W));
  return f32((he - hs) * (we - ws));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let per_plane = p.H * p.W;
  if (i >= p.planes * per_plane) { return; }
  let plane = i / per_plane;
  let ih = (i % per_plane) / p.W;
  let iw = i % p.W;
  let oh_lo = first_window(ih, p.pH, p.kH - 1u, p.sH);
  let oh_hi = min((ih + p.pH) / p.sH + 1u, p.OH);
  let ow_lo = first_window(iw, p.pW, p.kW - 1u, p.sW);
  let ow_hi = min((iw + p.pW) / p.sW + 1u, p.OW);
  let out_base = plane * p.OH * p.OW;
  var acc = 0.0;
  for (var oh = oh_lo; oh < oh_hi; oh++) {
    for (var ow = ow_lo; ow < ow_hi; ow++) {
      acc += gy[out_base + oh * p.OW + ow] / divisor(oh, ow);
    }
  }
  dx[i] = acc;
}
