// avg_pool2d_forward.wgsl — 2-D average pooling, NCHW f32.
//
// Legend: x (N, C, H, W); y (N, C, OH, OW). For output (oh, ow), as PyTorch:
//   hstart = oh*sH - pH,  hend = min(hstart + kH, H + pH)      (same for w)
//   pool   = (hend - hstart) * (wend - wstart)                  window size including padding
//   then the window is clipped to the input, [max(hstart, 0), min(hend, H)), and
//   y = sum over the clipped window / (count_include_pad ? pool : clipped area)
// (y = 0 for a window entirely in the padding, which ceilMode can produce.)
// One invocation per output element.
// Bindings: 0 x (read), 1 y (write), 2 params.
// Reference: src/kernels/reference/pool.ts (avgPool2dRef). Launcher: src/kernels/pool.ts.

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
  dH: u32,                // 1 (average pooling has no dilation)
  dW: u32,
  count_include_pad: u32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Pool2dParams;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.x + gid.y * nwg.x * WG;
  let per_plane = p.OH * p.OW;
  if (o >= p.planes * per_plane) { return; }
  let plane = o / per_plane;
  let oh = (o % per_plane) / p.OW;
  let ow = o % p.OW;
  var hs = i32(oh * p.sH) - i32(p.pH);
  var ws = i32(ow * p.sW) - i32(p.pW);
  var he = min(hs + i32(p.kH), i32(p.H + p.pH));
  var we = min(ws + i32(p.kW), i32(p.W + p.pW));
  let pool = f32((he - hs) * (we - ws));
  hs = max(hs, 0);
  ws = max(ws, 0);
  he = min(he, i32(p.H));
  we = min(we, i32(p.W));
  if (hs >= he || ws >= we) {
    y[o] = 0.0;
    return;
  }
  let base = plane * p.H * p.W;
  var acc = 0.0;
  for (var ih = hs; ih < he; ih++) {
    for (var iw = ws; iw < we; iw++) { acc += x[base + u32(ih) * p.W + u32(iw)]; }
  }
  var divisor = pool;
  if (p.count_include_pad == 0u) { divisor = f32((he - hs) * (we - ws)); }
  y[o] = acc / divisor;
}
