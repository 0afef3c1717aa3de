// avg_pool2d_forward_planes.wgsl — 2-D average pooling of small planes, NCHW f32: one invocation
// pools four whole planes, read and written as vec4s. Same result, bit for bit, as
// avg_pool2d_forward.wgsl (its oracle and the general path): the same sums in the same order.
//
// Legend and divisor rule as in avg_pool2d_forward.wgsl (PyTorch's): for output (oh, ow)
//   hstart = oh*SH - PH,  hend = min(hstart + KH, H + PH)      (same for w)
//   y = sum over the window clipped to the input / (count_include_pad ? (hend - hstart) *
//       (wend - wstart) : clipped area),   0 for a window wholly in the padding (ceilMode).
// The load structure is max_pool2d_forward_planes.wgsl's (read its header for the why): four
// consecutive planes are H*W aligned vec4s, each plane's vec4s are loaded once into registers,
// one call per output row keeps the loops short enough for Mesa to unroll, and then every tap's
// place, every window's clipping and its divisor are compile-time constants. Per 4 planes of 7x7
// (2x2/s2): 52 vec4 loads and 9 vec4 stores, against 144 scalar loads and 36 scalar stores.
// Requires (the launcher checks): N*C % 4 == 0, H*W <= 64, OH <= 8, OW <= 8; main_plane also
// OH*OW >= 4.
// Grid: one invocation per group of 4 planes, N*C / 4 of them, in x (spilling into y); main_plane
// (below) runs one plane per invocation, four invocations per group, the plane's place in z.
// Bindings: 0 x (read, as vec4s), 1 y (write, vec4s), 2 params.
// Reference: src/kernels/reference/pool.ts (avgPool2dRef). Launcher: src/kernels/pool.ts.

struct Pool2dParams {     // packed by packPool2dParams() in src/kernels/pool.ts, same order
  planes: u32,            // N * C (a multiple of 4 here)
  H: u32,                 // (H, W, OH, OW, PH, PW below are the same values, as constants)
  W: u32,
  OH: u32,
  OW: u32,
  pH: u32,
  pW: u32,
  count_include_pad: u32,
  inv_W: f32,
  inv_OW: f32,
  neg_inf: f32,
  _p1: u32,
}

@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Pool2dParams;

override WG: u32 = 64u;
override H: u32 = 7u;
override W: u32 = 7u;
override OH: u32 = 3u;
override OW: u32 = 3u;
override KH: u32 = 2u;
override KW: u32 = 2u;
override SH: u32 = 2u;
override SW: u32 = 2u;
override PH: u32 = 0u;
override PW: u32 = 0u;
override NX: u32 = H * W;     // input vec4s per group of 4 planes (derived)
override NY: u32 = OH * OW;   // output vec4s per group (derived)

// The floats of plane g, xs[A + i] = x[plane g, i] with A = (g * H * W) % 4.
var<private> xs: array<f32, 80>;
// The group's outputs as vec4s: output o of the group is ys[o / 4][o % 4].
var<private> ys: array<vec4<f32>, 64>;

// The vec4s of plane g from the one holding input row `row` on, into xs.
fn load_plane(group: u32, g: u32, row: u32) {
  let first = (g * H * W) / 4u;                  // the plane's first vec4 within the group
  let count = (g * H * W + H * W + 3u) / 4u - first;
  let skip = ((g * H * W) % 4u + row * W) / 4u;  // vec4s before the one holding row `row`
  for (var v = 0u; v < 20u; v++) {
    if (v >= skip && v < count) {
      let x = x4[group * NX + first + v];
      xs[4u * v] = x.x;
      xs[4u * v + 1u] = x.y;
      xs[4u * v + 2u] = x.z;
      xs[4u * v + 3u] = x.w;
    }
  }
}

// Output row oh of plane g (avg_pool2d_forward.wgsl's arithmetic, with constants).
fn pool_row(g: u32, oh: u32) {
  if (oh >= OH) { return; }
  let A = (g * H * W) % 4u;
  let hs = i32(oh * SH) - i32(PH);
  let he = min(hs + i32(KH), i32(H + PH));
  let hs_in = max(hs, 0);
  let he_in = min(he, i32(H));
  for (var ow = 0u; ow < OW; ow++) {
    let ws = i32(ow * SW) - i32(PW);
    let we = min(ws + i32(KW), i32(W + PW));
    let ws_in = max(ws, 0);
    let we_in = min(we, i32(W));
    var acc = 0.0;
    for (var kh = 0u; kh < KH; kh++) {
      let ih = hs + i32(kh);
      if (ih < hs_in || ih >= he_in) { continue; }   // compile-time after unrolling
      for (var kw = 0u; kw < KW; kw++) {
        let iw = ws + i32(kw);
        if (iw < ws_in || iw >= we_in) { continue; }
        acc += xs[A + u32(ih) * W + u32(iw)];
      }
    }
    let pool = f32((he - hs) * (we - ws));
    let area = f32((he_in - hs_in) * (we_in - ws_in));
    let divisor = select(area, pool, p.count_include_pad != 0u);
    let o = g * OH * OW + oh * OW + ow;
    ys[o / 4u][o % 4u] = select(acc / divisor, 0.0, he_in <= hs_in || we_in <= ws_in);
  }
}

// Plane g of the group: one call per output row (see max_pool2d_forward_planes.wgsl), then the
// output vec4s it completed (the one it shares with plane g + 1 waits for it).
fn pool_plane(group: u32, g: u32) {
  load_plane(group, g, 0u);
  pool_row(g, 0u);
  pool_row(g, 1u);
  pool_row(g, 2u);
  pool_row(g, 3u);
  pool_row(g, 4u);
  pool_row(g, 5u);
  pool_row(g, 6u);
  pool_row(g, 7u);
  let lo = (g * OH * OW) / 4u;                 // first vec4 not stored by plane g - 1
  let hi = select(((g + 1u) * OH * OW) / 4u, NY, g == 3u);
  for (var q = 0u; q < 16u; q++) {
    if (lo + q < hi) { y4[group * NY + lo + q] = ys[lo + q]; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let group = gid.x + gid.y * nwg.x * WG;
  if (group >= p.planes / 4u) { return; }
  pool_plane(group, 0u);
  pool_plane(group, 1u);
  pool_plane(group, 2u);
  pool_plane(group, 3u);
}

// Plane g of the group alone. When its outputs do not start a vec4 (B = (g*OH*OW) % 4 > 0), the
// first vec4 it stores ends with the last B outputs of plane g - 1: it pools those first, from
// the input rows their windows read (the last output row, or the last two or three when OW < B;
// OH*OW >= 4, so the vec4 holds no plane before g - 1). On [32, 512, 7, 7] (3x3 outputs) that is
// 4-5 more vec4 loads per plane on top of 13, and the pass still took 0.7-0.75x `main`'s CPU
// time: see max_pool2d_forward_planes.wgsl's main_plane for why one plane per invocation pays.
fn pool_plane_alone(group: u32, g: u32) {
  let B = (g * OH * OW) % 4u;
  if (B > 0u) {
    let rows = (B + OW - 1u) / OW;             // output rows of plane g - 1 holding its last B outputs
    load_plane(group, g - 1u, u32(max(i32((OH - rows) * SH) - i32(PH), 0)));
    pool_row(g - 1u, OH - 1u);
    if (rows > 1u) { pool_row(g - 1u, OH - 2u); }
    if (rows > 2u) { pool_row(g - 1u, OH - 3u); }
  }
  pool_plane(group, g);
}

// One plane per invocation (planes of at least 4 outputs), the plane's place in its group from
// workgroup_id.z. Grid: x (spilling into y) as for `main`, z = 4.
@compute @workgroup_size(WG)
fn main_plane(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let group = gid.x + gid.y * nwg.x * WG;
  if (group >= p.planes / 4u) { return; }
  switch (wid.z) {
    case 0u: { pool_plane_alone(group, 0u); }
    case 1u: { pool_plane_alone(group, 1u); }
    case 2u: { pool_plane_alone(group, 2u); }
    default: { pool_plane_alone(group, 3u); }
  }
}
