// max_pool2d_forward_strips.wgsl — 2-D max pooling, NCHW f32, with the argmax of every window:
// one invocation walks a strip of four output columns down a run of RUN output rows, reading and
// writing vec4s. Same result, bit for bit, as max_pool2d_forward.wgsl (its oracle and the
// general path); the CPU adapters' kernel where max_pool2d_forward_rows.wgsl would run.
//
// Legend: x (N, C, H, W); y and argmax (N, C, OH, OW); a "plane" is one (n, c) image.
//   y[n, c, oh, ow] = max over kh < KH, kw < KW of x[n, c, oh*SH - PH + kh, ow*SW - PW + kw]
//   argmax[...]     = ih * W + iw of that maximum, int32, within its plane (PyTorch's convention)
//
// Why strips. On llvmpipe the cost is the number of loads (each one a loop over the lanes, see
// shared/docs/lavapipe.md). The row kernel reads, for 2 output rows of 4 outputs, 5 input rows
// of NV vec4s (3 for 3x3/s2/p1): the row the two windows share is read once, but the row shared
// with the next invocation's windows is read again by it. Here the maximum is taken in two steps
// (a max is separable): row_max() takes, for one input row, the maximum over each window's KW
// columns (with its index); then each output takes the maximum of its KH row maxima. Window
// rows of output row oh + 1 overlap those of oh by KEEP = KH - SH rows, so the invocation keeps
// those rows' maxima in registers and reads only SH new input rows per output row: SH * NV vec4
// loads (6) and 2 vec4 stores per 4 outputs, against 7.5 loads in the row kernel. 1.2-1.3x the
// row kernel's speed by CPU time on [32, 64, 32, 32], [8, 64, 56, 56], [8, 64, 112, 112] (32-56
// output rows per run; 8 was slower: the first KEEP rows of each run are read twice).
// The compares cost too: with the loads this lean, the NaN test and the argmax selects are a
// fifth of the time, so each window starts from its first tap (row step) and its first row
// (column step) instead of from -inf, saving one compare-and-select of KW and of KH: 1.05-1.07x
// on [32, 64, 32, 32] and [8, 64, 56, 56]. (Strips of 8 or 16 output columns, which read fewer
// overlapping vec4s, were slower: more live registers; taking the overlapping vec4 from the left
// lane with a subgroup or quad shuffle gained on 32x32 and lost on 56x56.)
// The order is the one-pass kernel's, so ties and NaNs come out the same: with no NaN, the first
// maximum of the first row holding the window's maximum is the first maximum in (kh, kw) order;
// with a NaN, the last NaN of the last row holding one is the last NaN in that order. Padding
// reads as -inf and never wins; each window starts from -inf at its first valid tap (an all -inf
// window keeps that index, as in PyTorch).
// Requires (the launcher checks): W % 4 == 0, OW % 4 == 0, dilation 1, OFF + 3*SW + KW <= 16,
// SH <= KH <= SH + 4, SH <= 4.
// Grid: one invocation per strip and run, planes * ceil(OH / RUN) * QW of them (QW = OW / 4), in
// x (spilling into y). Bindings: 0 x (read, as vec4s), 1 y (write), 2 argmax (write, i32), 3 params.
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
override QW: u32 = 1u;                          // OW / 4 and ceil(OH / RUN) * QW: constants, so
override PER_PLANE: u32 = 1u;                   // dividing by them compiles to a multiply
override RUN: u32 = 32u;                        // output rows per invocation
override OFF: u32 = (4u - PW % 4u) % 4u;        // where column c0 sits in its vec4 (derived)
override NV: u32 = (OFF + 3u * SW + KW + 3u) / 4u;   // vec4s per window row (derived)
override KEEP: u32 = KH - SH;                   // window rows shared by consecutive output rows

// NaN test on the bits: WGSL lets compilers assume floats are never NaN, and llvmpipe folds
// `v != v` to false (found by a test), so the comparison cannot be trusted.
fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

// One input row's maxima over the columns of the strip's 4 windows, and their indices ih*W + iw.
struct RowMax {
  v: vec4<f32>,
  i: vec4<i32>,
}

// Input row ih (padding rows read as -inf) over the 4 windows' columns c0 + k*SW .. + KW-1: the
// first maximum in kw order, or the last NaN. Each starts from -inf at its first valid column.
fn row_max(plane4: u32, ih: i32, c0: i32, v0: i32) -> RowMax {
  let W4 = i32(p.W / 4u);
  let row_ok = ih >= 0 && ih < i32(p.H);
  let row4 = plane4 + u32(clamp(ih, 0, i32(p.H) - 1) * W4);
  // The window row as NV vec4s; a vec4 lies wholly inside or outside the row (W % 4 == 0).
  var win: array<vec4<f32>, 4>;
  for (var v = 0u; v < NV; v++) {
    let cv = v0 + i32(v);
    win[v] = select(vec4<f32>(p.neg_inf), x4[row4 + u32(clamp(cv, 0, W4 - 1))], row_ok && cv >= 0 && cv < W4);
  }
  // Each window starts at its first column's value (-inf if that is padding), indexed at its
  // first valid column: the same as starting from -inf and taking that column (a -inf is not
  // taken, a NaN is), one comparison fewer of KW.
  var r: RowMax;
  let row = ih * i32(p.W);
  let base = row + c0;
  for (var k = 0u; k < 4u; k++) {
    let t0 = OFF + k * SW;
    r.v[k] = win[t0 / 4u][t0 % 4u];
    r.i[k] = row + max(c0 + i32(k * SW), 0);
    for (var kw = 1u; kw < KW; kw++) {
      let t = t0 + kw;
      let v = win[t / 4u][t % 4u];
      let take = v > r.v[k] || is_nan(v);
      r.v[k] = select(r.v[k], v, take);
      r.i[k] = select(r.i[k], base + i32(k * SW + kw), take);
    }
  }
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let index = gid.x + gid.y * nwg.x * WG;
  let plane = index / PER_PLANE;
  let cell = index - plane * PER_PLANE;
  if (plane >= p.planes) { return; }
  let ro = cell / QW;
  let jq = cell - ro * QW;
  let W4 = i32(p.W / 4u);
  let c0 = i32(jq * 4u * SW) - i32(PW);
  let v0 = (c0 - i32(OFF)) / 4;
  let plane4 = plane * p.H * u32(W4);
  let oh0 = ro * RUN;
  // kept[q]: the maxima of window row q of the next output row (read by the previous one).
  var kept: array<RowMax, 4>;
  for (var q = 0u; q < KEEP; q++) {
    kept[q] = row_max(plane4, i32(oh0 * SH + q) - i32(PH), c0, v0);
  }
  let out_plane4 = plane * p.OH * QW;
  for (var o = 0u; o < RUN; o++) {
    let oh = oh0 + o;
    if (oh >= p.OH) { break; }
    let h = i32(oh * SH) - i32(PH);
    var fresh: array<RowMax, 4>;                // its window rows KEEP .. KH - 1
    for (var q = 0u; q < SH; q++) { fresh[q] = row_max(plane4, h + i32(KEEP + q), c0, v0); }
    // Down the window rows: the first valid tap starts it (PyTorch's -inf window), then a strictly
    // larger row maximum or a NaN. The first row's maxima start it as they are (a padding row's
    // are -inf, and then the index is the first valid tap's, as the -inf start would leave it).
    var first: RowMax;
    if (KEEP > 0u) { first = kept[0]; } else { first = fresh[0]; }      // compile-time
    var best = first.v;
    let first_row = max(h, 0) * i32(p.W);
    let first_valid = vec4<i32>(first_row + max(c0, 0), first_row + max(c0 + i32(SW), 0),
                                first_row + max(c0 + 2 * i32(SW), 0), first_row + max(c0 + 3 * i32(SW), 0));
    var best_i = select(first_valid, first.i, h >= 0);
    for (var kh = 1u; kh < KH; kh++) {
      var r: RowMax;
      if (kh < KEEP) { r = kept[kh]; } else { r = fresh[kh - KEEP]; }   // compile-time
      for (var k = 0u; k < 4u; k++) {
        let take = r.v[k] > best[k] || is_nan(r.v[k]);
        best[k] = select(best[k], r.v[k], take);
        best_i[k] = select(best_i[k], r.i[k], take);
      }
    }
    y4[out_plane4 + oh * QW + jq] = best;
    argmax4[out_plane4 + oh * QW + jq] = best_i;
    // The last KEEP window rows of this output row are the first of the next one.
    for (var q = 0u; q < KEEP; q++) {
      if (q + SH < KEEP) { kept[q] = kept[q + SH]; } else { kept[q] = fresh[q + SH - KEEP]; }
    }
  }
}
