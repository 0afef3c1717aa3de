// max_pool2d_backward_planes.wgsl — gradient of 2-D max pooling of small planes as a gather,
// NCHW f32, deterministic: one invocation owns four whole planes, read and written as vec4s.
// Same result, bit for bit, as max_pool2d_backward.wgsl (the one-input gather, its oracle).
//
// Legend as in max_pool2d_forward.wgsl. Each input element collects the gradients of the
// outputs whose saved argmax points at it:
//   dx[n, c, ih, iw] = sum over (oh, ow) with argmax[n, c, oh, ow] == ih*W + iw of gy[n, c, oh, ow]
// Candidates: the windows that contain (ih, iw), oh*SH - PH <= ih <= oh*SH - PH + KH - 1 (ow
// likewise), added in the one-input gather's order (oh, then ow).
// The structure is max_pool2d_forward_planes.wgsl's (read its header for the why): four
// consecutive planes are H*W aligned vec4s of dx and OH*OW aligned vec4s of gy and argmax; for
// each plane the invocation loads the vec4s of gy and argmax covering its outputs once, then one
// call per input row (gather_row; H <= 8) keeps the loops short enough for Mesa to unroll, so
// every candidate's place is a compile-time constant and candidates outside the plane vanish.
// dx vec4s are stored once complete. Per 4 planes of 7x7 (3x3/s2/p1): 2 x 17 vec4 loads and 49
// vec4 stores, against 4 x 196 scalar loads and 196 scalar stores one input per invocation.
// What is left is the candidate tests: 100 per 7x7 plane (10 candidate rows x 10 columns), ~30%
// of the time; with plain adds in their place (a wrong result) the pass ran at relu's byte rate.
// Requires (the launcher checks): N*C % 4 == 0, H <= 8, W <= 8, OH*OW <= 64, dilation 1;
// main_plane also H*W % 4 == 0.
// Grid: one invocation per group of 4 planes, N*C / 4 of them, in x (spilling into y); main_plane
// (below) runs one plane per invocation, four invocations per group, the plane's place in z.
// Bindings: 0 gy (read, vec4s), 1 argmax (read, vec4<i32>s), 2 dx (write, vec4s), 3 params.
// Reference: src/kernels/reference/pool.ts (maxPool2dBackwardRef). Launcher: src/kernels/pool.ts.

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

@group(0) @binding(0) var<storage, read> gy4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> argmax4: array<vec4<i32>>;
@group(0) @binding(2) var<storage, read_write> dx4: array<vec4<f32>>;
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
override CH: u32 = (KH + SH - 1u) / SH;   // candidate windows per row / column (derived)
override CW: u32 = (KW + SW - 1u) / SW;
override NX: u32 = H * W;     // input vec4s per group of 4 planes (derived)
override NY: u32 = OH * OW;   // output vec4s per group (derived)

// gy and argmax of plane g's outputs: gs[B + o], ms[B + o] for output o of the plane, with
// B = (g * OH * OW) % 4.
var<private> gs: array<f32, 80>;
var<private> ms: array<i32, 80>;
// The group's dx as vec4s: input i of the group is dxs[i / 4][i % 4].
var<private> dxs: array<vec4<f32>, 64>;

fn load_outputs(group: u32, g: u32) {
  let first = (g * OH * OW) / 4u;                // the plane's first output vec4 in the group
  let count = (g * OH * OW + OH * OW + 3u) / 4u - first;
  for (var v = 0u; v < 20u; v++) {
    if (v < count) {
      let gv = gy4[group * NY + first + v];
      let mv = argmax4[group * NY + first + v];
      for (var e = 0u; e < 4u; e++) {
        gs[4u * v + e] = gv[e];
        ms[4u * v + e] = mv[e];
      }
    }
  }
}

// First window whose taps reach position `pos`: max(ceil((pos + pad - k + 1) / stride), 0).
fn first_window(pos: u32, pad: u32, k: u32, stride: u32) -> u32 {
  return u32(max(i32(pos + pad) - i32(k) + i32(stride), 0)) / stride;
}

// Input row ih of plane g.
fn gather_row(g: u32, ih: u32) {
  if (ih >= H) { return; }
  let B = (g * OH * OW) % 4u;
  for (var iw = 0u; iw < W; iw++) {
    var acc = 0.0;
    // Windows oh_lo .. oh_end - 1 and ow_lo .. ow_end - 1 contain (ih, iw); at most CH x CW.
    let oh_lo = first_window(ih, PH, KH, SH);
    let oh_end = min((ih + PH) / SH + 1u, OH);
    let ow_lo = first_window(iw, PW, KW, SW);
    let ow_end = min((iw + PW) / SW + 1u, OW);
    for (var a = 0u; a < CH; a++) {
      let oh = oh_lo + a;
      if (oh >= oh_end) { continue; }             // compile-time after unrolling
      for (var b = 0u; b < CW; b++) {
        let ow = ow_lo + b;
        if (ow >= ow_end) { continue; }
        let o = B + oh * OW + ow;
        acc += select(0.0, gs[o], ms[o] == i32(ih * W + iw));
      }
    }
    let i = g * H * W + ih * W + iw;
    dxs[i / 4u][i % 4u] = acc;
  }
}

// Plane g of the group: one call per input row, then the dx vec4s it completed (the one it shares
// with plane g + 1 waits for it).
fn gather_plane(group: u32, g: u32) {
  load_outputs(group, g);
  gather_row(g, 0u);
  gather_row(g, 1u);
  gather_row(g, 2u);
  gather_row(g, 3u);
  gather_row(g, 4u);
  gather_row(g, 5u);
  gather_row(g, 6u);
  gather_row(g, 7u);
  let lo = (g * H * W) / 4u;                   // first vec4 not stored by plane g - 1
  let hi = select(((g + 1u) * H * W) / 4u, NX, g == 3u);
  for (var q = 0u; q < 16u; q++) {
    if (lo + q < hi) { dx4[group * NX + lo + q] = dxs[lo + q]; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let group = gid.x + gid.y * nwg.x * WG;
  if (group >= p.planes / 4u) { return; }
  gather_plane(group, 0u);
  gather_plane(group, 1u);
  gather_plane(group, 2u);
  gather_plane(group, 3u);
}

// One plane per invocation, the plane's place in its group from workgroup_id.z (uniform, so a
// workgroup runs a quarter of the code: see max_pool2d_forward_planes.wgsl's main_plane), for
// planes of whole vec4s (H*W % 4 == 0), so no two invocations write one dx vec4. The launcher
// takes it where a plane's dx is whole 64-byte lines (8x8). On 7x7 planes, with the previous
// plane's shared vec4 gathered by the next invocation, it was ~1.15x faster in most processes
// but ran at half speed in about one in four, CPU time doubling with it (the four-plane `main`
// never did): eleventh session, bench/RESULTS.md; again in 5 of 6 processes of one series in the
// fourteenth.
// Grid: x (spilling into y) as for `main`, z = 4.
@compute @workgroup_size(WG)
fn main_plane(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let group = gid.x + gid.y * nwg.x * WG;
  if (group >= p.planes / 4u) { return; }
  switch (wid.z) {
    case 0u: { gather_plane(group, 0u); }
    case 1u: { gather_plane(group, 1u); }
    case 2u: { gather_plane(group, 2u); }
    default: { gather_plane(group, 3u); }
  }
}
