// max_pool2d_forward_rows.wgsl — 2-D max pooling, NCHW f32, with the argmax of every window:
// four neighbouring outputs in each of ROWS output rows per invocation, read and written as
// vec4s. Same result, bit for bit, as max_pool2d_forward.wgsl (its oracle and the general path).
//
// Legend: x (N, C, H, W); y and argmax (N, C, OH, OW); a "plane" is one (n, c) image.
//   y[n, c, oh, ow] = max over kh < KH, kw < KW of x[n, c, oh*SH - PH + kh, ow*SW - PW + kw]
//   argmax[...]     = ih * W + iw of that maximum, int32, within its plane (PyTorch's convention)
//
// Why four outputs per invocation. On llvmpipe a load whose address differs per lane is a loop
// over the lanes (shared/docs/lavapipe.md), so what costs is the number of loads, and a vec4 load
// costs about what a scalar one does. The 4 outputs ow0 .. ow0+3 of one row read, in each of the
// KH input rows, the columns c0 = ow0*SW - PW .. c0 + 3*SW + KW - 1 (9 for a 3x3 window at stride
// 2): NV aligned vec4s hold them all (3 for 3x3/s2/p1), where one output per invocation loads
// KW scalars per row for each output (12). The window starts OFF columns into its first vec4;
// OFF and every tap's place in `win` are compile-time constants, so the unrolled loops index
// registers. y and argmax are stored as one vec4 each per row. With ROWS = 2 the two output rows
// share their middle input row (5 input rows for 2 output rows of a 3x3/s2 window).
//
// Same rules as the general kernel: padding taps never win (loaded from a clamped address and
// replaced by -inf), a strictly larger value or a NaN replaces the best, so the first maximum in
// scan order (kh, then kw) wins ties, as in PyTorch.
// Requires (the launcher checks): W % 4 == 0, OW % 4 == 0, dilation 1, OFF + 3*SW + KW <= 16.
// Grid: one invocation per cell of ROWS x 4 outputs, planes * ceil(OH / ROWS) * QW of them
// (QW = OW / 4), in x (spilling into y). Flat, not a workgroup row per plane: a 16x16 output
// plane has only 32 cells, and a row of 256 lanes per plane would leave most of them idle.
// Bindings: 0 x (read, as vec4s), 1 y (write), 2 argmax (write, i32), 3 params.
// Reference: src/kernels/reference/pool.ts (maxPool2dRef). Launcher: src/kernels/pool.ts.

struct Pool2dParams {     // packed by packPool2dParams() in src/kernels/pool.ts, same order
  planes: u32,            // N * C
  H: u32,
  W: u32,
  OH: u32,
  OW: u32,
  pH: u32,                // (PH and PW below are the same values, as constants)
  pW: u32,
  count_include_pad: u32,
  inv_W: f32,
  inv_OW: f32,
  neg_inf: f32,           // -inf: a WGSL constant cannot be infinite, a uniform can
  _p1: u32,
}

@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> argmax4: array<vec4<i32>>;
@group(0) @binding(3) var<uniform> p: Pool2dParams;

override WG: u32 = 64u;
override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 2u;
override SW: u32 = 2u;
override PH: u32 = 1u;
override PW: u32 = 1u;
override QW: u32 = 1u;                          // OW / 4 and OH * QW: constants, so dividing
override PER_PLANE: u32 = 1u;                   // by them compiles to a multiply
override OFF: u32 = (4u - PW % 4u) % 4u;        // where column c0 sits in its vec4 (derived)
override NV: u32 = (OFF + 3u * SW + KW + 3u) / 4u;   // vec4s per window row (derived)
override ROWS: u32 = 2u;                        // output rows per invocation: 1 or 2
override NR: u32 = (ROWS - 1u) * SH + KH;       // input rows they read (derived)

// NaN test on the bits: WGSL lets compilers assume floats are never NaN, and llvmpipe folds
// `v != v` to false (found by a test), so the comparison cannot be trusted.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let index = gid.x + gid.y * nwg.x * WG;
  let plane = index / PER_PLANE;
  let cell = index - plane * PER_PLANE;
  if (plane >= p.planes) { return; }
  let oh0 = (cell / QW) * ROWS;
  let jq = cell - (cell / QW) * QW;
  let W4 = i32(p.W / 4u);
  let c0 = i32(jq * 4u * SW) - i32(PW);         // first window column (may be -PW)
  let v0 = (c0 - i32(OFF)) / 4;                  // its vec4 (exact: c0 - OFF is a multiple of 4)
  let plane4 = plane * p.H * u32(W4);
  let h0 = i32(oh0 * SH) - i32(PH);              // first window row of output row oh0

  // As PyTorch: start from -inf at the window's first valid tap (where an all -inf window keeps
  // its index), then take a strictly larger value or a NaN.
  var best: array<vec4<f32>, 2>;
  var best_i: array<vec4<i32>, 2>;
  for (var o = 0u; o < ROWS; o++) {
    let first_row = max(h0 + i32(o * SH), 0) * i32(p.W);
    best[o] = vec4<f32>(p.neg_inf);
    best_i[o] = vec4<i32>(first_row + max(c0, 0), first_row + max(c0 + i32(SW), 0),
                          first_row + max(c0 + 2 * i32(SW), 0), first_row + max(c0 + 3 * i32(SW), 0));
  }
  // Input rows h0 .. h0 + NR - 1 in order; row r is window row kh = r - o*SH of output row oh0 + o.
  for (var r = 0u; r < NR; r++) {
    let ih = h0 + i32(r);
    let row_ok = ih >= 0 && ih < i32(p.H);
    let row4 = plane4 + u32(clamp(ih, 0, i32(p.H) - 1) * W4);
    // The window row as NV vec4s; a vec4 lies wholly inside or outside the row (W % 4 == 0).
    // Padding reads as -inf, which never replaces the best (it starts at -inf), so the taps
    // need no mask of their own.
    var win: array<vec4<f32>, 4>;
    for (var v = 0u; v < NV; v++) {
      let cv = v0 + i32(v);
      win[v] = select(vec4<f32>(p.neg_inf), x4[row4 + u32(clamp(cv, 0, W4 - 1))], row_ok && cv >= 0 && cv < W4);
    }
    for (var o = 0u; o < ROWS; o++) {
      if (r < o * SH || r >= o * SH + KH) { continue; }   // compile-time after unrolling
      for (var k = 0u; k < 4u; k++) {
        for (var kw = 0u; kw < KW; kw++) {
          let t = OFF + k * SW + kw;              // this tap's column in the window
          let v = win[t / 4u][t % 4u];
          let take = v > best[o][k] || is_nan(v);
          best[o][k] = select(best[o][k], v, take);
          best_i[o][k] = select(best_i[o][k], ih * i32(p.W) + c0 + i32(k * SW + kw), take);
        }
      }
    }
  }
  let out4 = plane * p.OH * QW + oh0 * QW + jq;
  for (var o = 0u; o < ROWS; o++) {
    if (oh0 + o < p.OH) {
      y4[out4 + o * QW] = best[o];
      argmax4[out4 + o * QW] = best_i[o];
    }
  }
}
