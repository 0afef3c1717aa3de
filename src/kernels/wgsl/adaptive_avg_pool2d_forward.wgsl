// adaptive_avg_pool2d_forward.wgsl — adaptive average pooling to (OH, OW), NCHW f32.
//
// Legend: x (N, C, H, W); y (N, C, OH, OW). Bins as PyTorch:
//   hstart = floor(oh * H / OH),  hend = ceil((oh + 1) * H / OH)        (same for w)
//   y[n, c, oh, ow] = mean of x[n, c, hstart:hend, wstart:wend]
// Bins may overlap by one row/column when H is not a multiple of OH.
// One invocation per output element. (The global (1, 1) case runs reduce.wgsl instead, see
// the launcher.)
// Bindings: 0 x (read), 1 y (write), 2 params.
// Reference: src/kernels/reference/pool.ts (adaptiveAvgPool2dRef). Launcher: src/kernels/pool.ts.

struct AdaptivePoolParams {
  planes: u32,
  H: u32,
  W: u32,
  OH: u32,
  OW: u32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: AdaptivePoolParams;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.x + gid.y * nwg.x * WG;
  let per_plane = p.OH * p.OW;
  if (o >= p.planes * per_plane) { return; }
  let plane = o / per_plane;
  let oh = (o % per_plane) / p.OW;
  let ow = o % p.OW;
  let hs = (oh * p.H) / p.OH;
  let he = ((oh + 1u) * p.H + p.OH - 1u) / p.OH;
  let ws = (ow * p.W) / p.OW;
  let we = ((ow + 1u) * p.W + p.OW - 1u) / p.OW;
  let base = plane * p.H * p.W;
  var acc = 0.0;
  for (var ih = hs; ih < he; ih++) {
    for (var iw = ws; iw < we; iw++) { acc += x[base + ih * p.W + iw]; }
  }
  y[o] = acc / f32((he - hs) * (we - ws));
}
