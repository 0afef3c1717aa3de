// max_pool2d_forward_planes.wgsl — 2-D max pooling of small planes, NCHW f32, with the argmax of
// every window: one invocation pools four whole planes, read and written as vec4s. Same result,
// bit for bit, as max_pool2d_forward.wgsl (its oracle and the general path).
//
// Legend: x (N, C, H, W); y and argmax (N, C, OH, OW); a "plane" is one (n, c) image.
//   y[n, c, oh, ow] = max over kh < KH, kw < KW of x[n, c, oh*SH - PH + kh*DH, ow*SW - PW + kw*DW]
//   argmax[...]     = ih * W + iw of that maximum, int32, within its plane (PyTorch's convention)
//
// Why four whole planes per invocation. The last stage of an ImageNet ResNet has 7x7 planes:
// 49 floats, so a plane's rows are not whole vec4s and the vec4 row kernels cannot run, and one
// output per invocation loads its 9 taps one scalar at a time (9 loads and 2 stores for 2 floats
// out; on llvmpipe every load whose address differs per lane is a loop over the lanes, see
// shared/docs/lavapipe.md). Four consecutive planes, though, are 4*H*W floats = H*W aligned
// vec4s, and their 4*OH*OW outputs OH*OW aligned vec4s. Plane g of the group starts A = (g*H*W)
// % 4 floats into a vec4: this invocation loads the vec4s covering each plane once (13 for a 7x7
// plane), every window reads its taps from registers, and the outputs are stored as vec4s once
// complete. Per 4 planes of 7x7 (3x3/s2/p1): 52 vec4 loads and 16 + 16 vec4 stores, against 484
// scalar loads and 128 scalar stores one output per invocation (~3-4x less CPU time measured).
// Each output row loads only the vec4s it is the first to read and stores the output vec4s it
// completes, so only a few input rows are live at a time (1.1x against loading the whole plane
// first: fewer registers spilled). The maximum is taken along the rows first, then down the
// window rows (77 instead of 105 compare-and-selects per 7x7 plane; 1.1-1.2x). Reusing the vec4
// two planes share instead of loading it again (49 loads instead of 52) measured no faster.
//
// Why the calls per row. Every size is a pipeline constant, so once the loops are unrolled every
// tap's place (vec4 and component) is a compile-time constant and padding taps vanish. But
// Mesa's NIR unrolls a loop only while trips x body stay under ~800 instructions, counted before
// the indices fold (a tap with a run-time index into `xs` counts ~25), and a loop left rolled
// indexes `xs` at run time: a per-lane gather, slower than the one-output kernel. So the plane is
// one call per output row (pool_row; OH <= 8), each with loops short enough to unroll, and `g`
// and `oh` are constants at every call (the row maxima `across` are indexed by constants too).
//
// Same rules as the general kernel: padding taps never win, a strictly larger value or a NaN
// replaces the best, so the first maximum in scan order (kh, then kw) wins ties, as in PyTorch;
// the first valid tap starts the window (an all -inf window keeps its index).
// Requires (the launcher checks): N*C % 4 == 0, H*W <= 64, OH <= 8, OW <= 8; main_plane also
// OH*OW % 4 == 0.
// Grid: one invocation per group of 4 planes, N*C / 4 of them, in x (spilling into y); main_plane
// (below) runs one plane per invocation, four invocations per group, the plane's place in z.
// Bindings: 0 x (read, as vec4s), 1 y (write, vec4s), 2 argmax (write, vec4<i32>s), 3 params.
// Reference: src/kernels/reference/pool.ts (maxPool2dRef). Launcher: src/kernels/pool.ts.

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
@group(0) @binding(2) var<storage, read_write> argmax4: array<vec4<i32>>;
@group(0) @binding(3) var<uniform> p: Pool2dParams;

override WG: u32 = 64u;
override H: u32 = 7u;
override W: u32 = 7u;
override OH: u32 = 4u;
override OW: u32 = 4u;
override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 2u;
override SW: u32 = 2u;
override PH: u32 = 1u;
override PW: u32 = 1u;
override DH: u32 = 1u;
override DW: u32 = 1u;
override NX: u32 = H * W;     // input vec4s per group of 4 planes (derived)
override NY: u32 = OH * OW;   // output vec4s per group (derived)

fn is_nan(v: f32) -> bool {   // on the bits: llvmpipe folds `v != v` to false
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// The floats of plane g, xs[A + i] = x[plane g, i] with A = (g * H * W) % 4: the vec4s that
// cover the plane (at most 17 for 64 floats).
var<private> xs: array<f32, 80>;
// The group's outputs as vec4s: output o of the group (plane o / (OH*OW)) is ys[o / 4][o % 4].
var<private> ys: array<vec4<f32>, 64>;
var<private> is: array<vec4<i32>, 64>;

// The end (exclusive) of the vec4s of plane g that output rows 0 .. oh read: through input row
// min(oh*SH - PH + KH, H) - 1 (all of the plane's vec4s for its last row).
fn rows_end(g: u32, oh: u32) -> u32 {
  let A = (g * H * W) % 4u;
  let last_row = select(min(oh * SH + KH, H + PH) - PH, H, oh + 1u >= OH);
  return (A + last_row * W + 3u) / 4u;
}

// Loads the vec4s of plane g from `start` to `end` (exclusive), counted from the plane's first.
fn load_vec4s(group: u32, g: u32, start: u32, end: u32) {
  let first = (g * H * W) / 4u;                  // the plane's first vec4 within the group
  for (var v = 0u; v < 20u; v++) {
    if (v >= start && v < end) {
      let x = x4[group * NX + first + v];
      xs[4u * v] = x.x;
      xs[4u * v + 1u] = x.y;
      xs[4u * v + 2u] = x.z;
      xs[4u * v + 3u] = x.w;
    }
  }
}

// Stores the output vec4s that outputs start .. end - 1 of the group complete (the ones before
// `start`'s vec4 were stored with earlier rows).
fn store_outputs(group: u32, start: u32, end: u32) {
  for (var q = 0u; q < 16u; q++) {
    let at = start / 4u + q;
    if (at < end / 4u) {
      y4[group * NY + at] = ys[at];
      argmax4[group * NY + at] = is[at];
    }
  }
}

// The window maximum in two steps (a max is separable): along each input row over every
// window's columns (hv, hi: value and index ih*W + iw), then down each window's rows. The order
// is the one-step scan's, so ties and NaNs come out the same (see max_pool2d_forward_strips.wgsl).
var<private> hv: array<array<f32, 8>, 8>;
var<private> hi: array<array<i32, 8>, 8>;

// Input row ih of plane g over the columns of every window.
fn across(g: u32, ih: u32) {
  let A = (g * H * W) % 4u;
  for (var ow = 0u; ow < OW; ow++) {
    var found = false;
    for (var kw = 0u; kw < KW; kw++) {
      let iw = i32(ow * SW + kw * DW) - i32(PW);
      if (iw < 0 || iw >= i32(W)) { continue; }   // padding: compile-time after unrolling
      let at = ih * W + u32(iw);
      let v = xs[A + at];
      let take = !found || v > hv[ih][ow] || is_nan(v);   // !found: compile-time
      hv[ih][ow] = select(hv[ih][ow], v, take);
      hi[ih][ow] = select(hi[ih][ow], i32(at), take);
      found = true;
    }
  }
}

// First input row that output row oh reads and no earlier output row did, and the end of its rows.
fn new_rows(oh: u32) -> vec2<u32> {
  let end = select(min(oh * SH + KH, H + PH) - PH, H, oh + 1u >= OH);
  let start = select(0u, min((oh - 1u) * SH + KH, H + PH) - PH, oh > 0u);
  return vec2<u32>(start, end);
}

// Output row oh of plane g. The row first loads the vec4s it is the first to read and takes the
// row maxima of the input rows it is the first to use, then stores the output vec4s it completes,
// so only a few rows of the plane are live in registers at a time.
fn pool_row(group: u32, g: u32, oh: u32) {
  if (oh >= OH) { return; }
  load_vec4s(group, g, select(0u, rows_end(g, oh - 1u), oh > 0u), rows_end(g, oh));
  let rows = new_rows(oh);
  for (var k = 0u; k < KH + SH; k++) {
    if (rows.x + k < rows.y) { across(g, rows.x + k); }
  }
  for (var ow = 0u; ow < OW; ow++) {
    var best = 0.0;
    var best_i = 0;
    var found = false;
    for (var kh = 0u; kh < KH; kh++) {
      let ih = i32(oh * SH + kh * DH) - i32(PH);
      if (ih < 0 || ih >= i32(H)) { continue; }   // padding: compile-time after unrolling
      let v = hv[ih][ow];
      let take = !found || v > best || is_nan(v);
      best = select(best, v, take);
      best_i = select(best_i, hi[ih][ow], take);
      found = true;
    }
    let o = g * OH * OW + oh * OW + ow;
    ys[o / 4u][o % 4u] = best;
    is[o / 4u][o % 4u] = best_i;
  }
  let done = g * OH * OW + oh * OW;
  store_outputs(group, done, select(done + OW, 4u * NY, g == 3u && oh + 1u == OH));
}

// Plane g of the group, one call per output row: Mesa unrolls a loop only while the unrolled
// code stays small (~800 NIR instructions, counted before the indices fold to constants), so a
// loop over the rows would stay a loop and index xs at run time (slow: a per-lane gather).
fn pool_plane(group: u32, g: u32) {
  pool_row(group, g, 0u);
  pool_row(group, g, 1u);
  pool_row(group, g, 2u);
  pool_row(group, g, 3u);
  pool_row(group, g, 4u);
  pool_row(group, g, 5u);
  pool_row(group, g, 6u);
  pool_row(group, g, 7u);
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

// One plane per invocation, when each plane's outputs are whole vec4s (OH*OW % 4 == 0, e.g. 4x4
// from 7x7), so no two invocations store into one vec4. The plane's place in its group, g, comes
// from workgroup_id.z: the same for the whole workgroup, so the switch is a uniform branch and a
// workgroup runs a quarter of the kernel's code. Why that should pay: llvmpipe runs all of a
// workgroup's lanes on one CPU thread, and four unrolled planes are ~25,000 instructions
// (GALLIVM_DEBUG=asm), over 100 KB, three times the core's 32 KB instruction cache; one plane's
// quarter comes close to fitting. (This VM exposes no cache counters to confirm it.) The loads and
// stores per plane are the same as in `main`; on [32, 512, 7, 7] it takes 0.76-0.85x `main`'s
// CPU time (three alternating runs).
// Grid: x (spilling into y) as for `main`, z = 4.
@compute @workgroup_size(WG)
fn main_plane(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let group = gid.x + gid.y * nwg.x * WG;
  if (group >= p.planes / 4u) { return; }
  switch (wid.z) {
    case 0u: { pool_plane(group, 0u); }
    case 1u: { pool_plane(group, 1u); }
    case 2u: { pool_plane(group, 2u); }
    default: { pool_plane(group, 3u); }
  }
}
