// avg_pool2d_forward_rows.wgsl — 2-D average pooling, NCHW f32: 4 neighbouring outputs in each of
// ROWS output rows per invocation, read and written as vec4s. Same result, bit for bit, as
// avg_pool2d_forward.wgsl (its oracle and the general path): the same sums in the same order.
//
// Legend and divisor rule as in avg_pool2d_forward.wgsl (PyTorch's): for output (oh, ow)
//   hstart = oh*SH - PH,  hend = min(hstart + KH, H + PH)      (same for w)
//   y = sum over the window clipped to the input / (count_include_pad ? (hend - hstart) *
//       (wend - wstart) : clipped area),   0 for a window wholly in the padding (ceilMode).
// The load structure is max_pool2d_forward_rows.wgsl's (read its header for the why): the 4
// outputs of a row read NV aligned vec4s per input row, the ROWS output rows share the input
// rows between them, and every tap's place in the window is a compile-time constant.
// Requires (the launcher checks): W % 4 == 0, OW % 4 == 0, OFF + 3*SW + KW <= 16.
// INSIDE (every window within the input) drops the bounds checks and per-window divisors.
// Grid: one invocation per cell of ROWS x 4 outputs, planes * ceil(OH / ROWS) * QW of them, in x
// (spilling into y).
// Bindings: 0 x (read, vec4s), 1 y (write, vec4s), 2 params.
// Reference: src/kernels/reference/pool.ts (avgPool2dRef). Launcher: src/kernels/pool.ts.

struct Pool2dParams {     // the same struct as max_pool2d_forward.wgsl (packPool2dParams)
  planes: u32,
  H: u32,
  W: u32,
  OH: u32,
  OW: u32,
  pH: u32,                // (PH and PW below are the same values, as constants)
  pW: u32,
  count_include_pad: u32,
  inv_W: f32,
  inv_OW: f32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Pool2dParams;

override WG: u32 = 64u;
override KH: u32 = 2u;
override KW: u32 = 2u;
override SH: u32 = 2u;
override SW: u32 = 2u;
override PH: u32 = 0u;
override PW: u32 = 0u;
override QW: u32 = 1u;                          // OW / 4 and ceil(OH / ROWS) * QW: constants,
override PER_PLANE: u32 = 1u;                   // so dividing by them compiles to a multiply
override ROWS: u32 = 2u;                        // output rows per invocation: 1 or 2
override OFF: u32 = (4u - PW % 4u) % 4u;        // where column c0 sits in its vec4 (derived)
override NV: u32 = (OFF + 3u * SW + KW + 3u) / 4u;   // vec4s per window row (derived)
override NR: u32 = (ROWS - 1u) * SH + KH;       // input rows the ROWS output rows read (derived)
// Every window wholly inside the input (no padding, no ceil-mode overhang; the launcher decides):
// then no load needs a bounds check and every divisor is KH*KW, so the kernel is loads, adds and
// stores. The general path spends ~20 integer and select operations per output vec4 on divisors.
override INSIDE: bool = false;

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

  var acc: array<vec4<f32>, 2>;
  // Input rows h0 .. h0 + NR - 1 in order; row r is window row kh = r - o*SH of output row oh0 + o.
  for (var r = 0u; r < NR; r++) {
    let ih = h0 + i32(r);
    let row_ok = ih >= 0 && ih < i32(p.H);
    let row4 = plane4 + u32(clamp(ih, 0, i32(p.H) - 1) * W4);
    // The window row as NV vec4s; a vec4 lies wholly inside or outside the row (W % 4 == 0).
    var win: array<vec4<f32>, 4>;
    for (var v = 0u; v < NV; v++) {
      let cv = v0 + i32(v);
      if (INSIDE) {
        win[v] = x4[row4 + u32(cv)];
      } else {
        win[v] = select(vec4<f32>(0.0), x4[row4 + u32(clamp(cv, 0, W4 - 1))], row_ok && cv >= 0 && cv < W4);
      }
    }
    for (var o = 0u; o < ROWS; o++) {
      if (r < o * SH || r >= o * SH + KH) { continue; }   // compile-time after unrolling
      for (var k = 0u; k < 4u; k++) {
        for (var kw = 0u; kw < KW; kw++) {
          let t = OFF + k * SW + kw;              // this tap's column in the window
          acc[o][k] += win[t / 4u][t % 4u];       // padding taps add 0.0 (the sum is unchanged)
        }
      }
    }
  }

  // The divisors of the 4 x ROWS windows (avg_pool2d_forward.wgsl's rule, 4 columns at once).
  let ws = vec4<i32>(c0) + vec4<i32>(0, 1, 2, 3) * i32(SW);
  let we = min(ws + i32(KW), vec4<i32>(i32(p.W + PW)));
  let ws_in = max(ws, vec4<i32>(0));
  let we_in = min(we, vec4<i32>(i32(p.W)));
  let out4 = plane * p.OH * QW + oh0 * QW + jq;
  if (INSIDE) {
    for (var o = 0u; o < ROWS; o++) {
      if (oh0 + o < p.OH) { y4[out4 + o * QW] = acc[o] / f32(KH * KW); }
    }
    return;
  }
  for (var o = 0u; o < ROWS; o++) {
    let hs = h0 + i32(o * SH);
    let he = min(hs + i32(KH), i32(p.H + PH));
    let hs_in = max(hs, 0);
    let he_in = min(he, i32(p.H));
    let pool = vec4<f32>((he - hs) * (we - ws));
    let area = vec4<f32>((he_in - hs_in) * (we_in - ws_in));
    let divisor = select(area, pool, p.count_include_pad != 0u);
    let empty = vec4<bool>(he_in <= hs_in) | (we_in <= ws_in);
    if (oh0 + o < p.OH) { y4[out4 + o * QW] = select(acc[o] / divisor, vec4<f32>(0.0), empty); }
  }
}
