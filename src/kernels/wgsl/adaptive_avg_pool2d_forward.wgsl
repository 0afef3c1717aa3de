// adaptive_avg_pool2d_forward.wgsl — adaptive average pooling to (OH, OW), NCHW f32.
//
// Legend: x (N, C, H, W); y (N, C, OH, OW). Bins as PyTorch:
//   hstart = floor(oh * H / OH),  hend = ceil((oh + 1) * H / OH)        (same for w)
//   y[n, c, oh, ow] = mean of x[n, c, hstart:hend, wstart:wend]
// Bins may overlap by one row/column when H is not a multiple of OH.
// Grid: x covers the OH*OW outputs of a plane, y (spilling into z) the planes. (The global (1, 1) case runs reduce.wgsl instead, see
// the launcher.)
// Bindings: 0 x (read), 1 y (write), 2 params.
// Reference: src/kernels/reference/pool.ts (adaptiveAvgPool2dRef). Launcher: src/kernels/adaptive-pool.ts.

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

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
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
  let per_plane = p.OH * p.OW;
  if (pix >= per_plane || plane >= p.planes) { return; }
  let oh = div_u32(pix, p.OW, p.inv_OW);
  let ow = pix - oh * p.OW;
  let hs = div_u32(oh * p.H, p.OH, p.inv_OH);
  let he = ceil_div_u32((oh + 1u) * p.H, p.OH, p.inv_OH);
  let ws = div_u32(ow * p.W, p.OW, p.inv_OW);
  let we = ceil_div_u32((ow + 1u) * p.W, p.OW, p.inv_OW);
  let base = plane * p.H * p.W;
  var acc = 0.0;
  for (var ih = hs; ih < he; ih++) {
    for (var iw = ws; iw < we; iw++) { acc += x[base + ih * p.W + iw]; }
  }
  y[plane * per_plane + pix] = acc / f32((he - hs) * (we - ws));
}
