// adaptive_avg_pool2d_backward.wgsl — gradient of adaptive average pooling, NCHW f32,
// deterministic gather.
//
// Legend and bins as in adaptive_avg_pool2d_forward.wgsl. Each input element sums the shares of
// the bins that contain it:
//   dx[n, c, ih, iw] = sum over bins (oh, ow) containing (ih, iw) of gy[n, c, oh, ow] / area(oh, ow)
// Bin oh contains ih when floor(oh*H/OH) <= ih < ceil((oh+1)*H/OH), i.e.
//   oh in [floor(ih * OH / H), ceil((ih + 1) * OH / H) - 1]                 (same for ow)
// Grid: x covers the H*W inputs of a plane, y (spilling into z) the planes. Fixed visiting
// order (oh, ow).
// Bindings: 0 gy (read), 1 dx (write), 2 params.
// Reference: src/kernels/reference/pool.ts (adaptiveAvgPool2dBackwardRef). Launcher: src/kernels/adaptive-pool.ts.

struct AdaptivePoolParams {   // packed by packAdaptiveParams(), same order
  planes: u32,
  H: u32,
  W: u32,
  OH: u32,
  OW: u32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
  inv_H: f32,                // reciprocals for div_u32()
  inv_W: f32,
  inv_OH: f32,
  inv_OW: f32,
}

@group(0) @binding(0) var<storage, read> gy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<uniform> p: AdaptivePoolParams;

override WG: u32 = 64u;

// a / d without an integer division (llvmpipe scalarises those): a float estimate, corrected
// by one step. Exact for a < 2^23 (the launcher checks plane sizes).
fn div_u32(a: u32, d: u32, inv_d: f32) -> u32 {
  // Signed conversions: x86 has vector i32 <-> f32 instructions but none for u32.
  let q = i32(f32(i32(a)) * inv_d);
  let r = i32(a) - q * i32(d);
  return u32(q + select(0, 1, r >= i32(d)) - select(0, 1, r < 0));   // branch-free
}

// ceil(a / d) for the same range.
fn ceil_div_u32(a: u32, d: u32, inv_d: f32) -> u32 {
  return div_u32(a + d - 1u, d, inv_d);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let pix = gid.x;
  let plane = wid.y + wid.z * nwg.y;
  if (pix >= p.H * p.W || plane >= p.planes) { return; }
  let ih = div_u32(pix, p.W, p.inv_W);
  let iw = pix - ih * p.W;
  let oh_lo = div_u32(ih * p.OH, p.H, p.inv_H);
  let oh_hi = ceil_div_u32((ih + 1u) * p.OH, p.H, p.inv_H);
  let ow_lo = div_u32(iw * p.OW, p.W, p.inv_W);
  let ow_hi = ceil_div_u32((iw + 1u) * p.OW, p.W, p.inv_W);
  let out_base = plane * p.OH * p.OW;
  var acc = 0.0;
  for (var oh = oh_lo; oh < oh_hi; oh++) {
    let h_area = ceil_div_u32((oh + 1u) * p.H, p.OH, p.inv_OH) - div_u32(oh * p.H, p.OH, p.inv_OH);
    for (var ow = ow_lo; ow < ow_hi; ow++) {
      let w_area = ceil_div_u32((ow + 1u) * p.W, p.OW, p.inv_OW) - div_u32(ow * p.W, p.OW, p.inv_OW);
      acc += gy[out_base + oh * p.OW + ow] / f32(h_area * w_area);
    }
  }
  dx[plane * p.H * p.W + pix] = acc;
}
