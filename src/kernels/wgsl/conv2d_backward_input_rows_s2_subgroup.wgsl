// conv2d_backward_input_rows_s2_subgroup.wgsl — gradient of a 3-wide conv2d w.r.t. its input at
// stride 2 (the downsampling 3x3 layers of a ResNet), with every loaded gy value reused across
// the taps that read it. NCHW, f32. Same result as conv2d_backward_input.wgsl (its oracle).
enable subgroups;
//
// Legend: N batch, C input channels, H x W input, K output channels, R x 3 kernel, P x Q output,
// G groups, C_g = C / G, K_g = K / G; stride 2 x 2, padding [pad_h, 1], dilation 1.
//   gy: (N, K, P, Q)   wp: weights, conv2d_pack_weights_rows.wgsl with TRANSPOSED and BLOCK_K 16
//                          (rows = input channels c, reduction over k, taps flipped: the stride-1
//                          input gradient's layout; this kernel reads tap (r, s) at (R-1-r, 2-s))
//   dx: (N, C, H, W)
//
// Which taps reach an input pixel. With stride 2 and pad_w = 1, input column w was read by
// output column q through tap s when w = 2q - 1 + s, so an even column has one tap (s = 1,
// q = w/2) and an odd column two (s = 0, q = (w+1)/2 and s = 2, q = (w-1)/2). A lane owns 8
// neighbouring columns w0 .. w0+7 (w0 a multiple of 8) of one input row and 16 input channels.
// With q0 = w0/2 and g = gy[q0 .. q0+4] (5 values: an aligned vec4 and a scalar), for every
// output channel k and kernel row r:
//   even columns w0, w0+2, w0+4, w0+6:  += g[0..3] * w[k, c, r, 1]
//   odd columns  w0+1, .., w0+7:        += g[1..4] * w[k, c, r, 0] + g[0..3] * w[k, c, r, 2]
// — 12 multiply-adds per channel for 5 loaded floats, like the forward row kernel's 3 taps x 4
// pixels, where the phase-class kernel (conv2d_backward_input_fast_subgroup.wgsl) loads per tap.
// Rows work the same way: input row h was read by output row p through kernel row r when
// h = 2p - pad_h + r, so only the r of one parity reach a row. The rows are split into their two
// parity classes (grid z), so the r loop of a workgroup skips the other parity as a whole and no
// multiply-add is spent on the zeros of a zero-inserted gy.
// The 16 x 3 weights of (k, r) are 12 vec4s shared by subgroupBroadcast, as in the forward.
// Results: even and odd columns interleave back into two aligned vec4 stores per channel.
// Requires W % 8 == 0 (whole octets of columns; then Q = W / 2 is a multiple of 4 and the gy
// loads are aligned). The launcher keeps the phase-class kernel for other widths: measured on
// lavapipe, a half-empty last octet (W = 28, 14) made this kernel slower than that one.
// Grid: x, y = tiles of WG lanes over N * rows_a * ceil(W / 8), rows_a = the rows of class a;
//       z = (group, block of 16 input channels, row parity a). Requires a subgroup size >= 8.
// Launcher: conv2dBackwardInputRowsS2() in src/kernels/conv2d.ts.

struct Conv2dParams {                 // packed by packConv2dParams(), same field order
  N: u32, C: u32, H: u32, W: u32,
  K: u32, R: u32, S: u32, G: u32,
  P: u32, Q: u32, stride_h: u32, stride_w: u32,
  pad_h: u32, pad_w: u32, dil_h: u32, dil_w: u32,
  C_g: u32, K_g: u32, CRS_g: u32, PQ: u32,
}

@group(0) @binding(0) var<storage, read>       gy: array<f32>;        // (N, K, P, Q)
@group(0) @binding(1) var<storage, read>       wp: array<vec4<f32>>;  // (G, C_g/16, K_g, R, 12) + 4
@group(0) @binding(2) var<storage, read_write> dx4: array<vec4<f32>>; // (N, C, H, W) as vec4s
@group(0) @binding(3) var<uniform>             p: Conv2dParams;
@group(0) @binding(4) var<storage, read>       gy4: array<vec4<f32>>; // gy again, as vec4s


// Specialisation, as in conv2d_forward_fast_subgroup.wgsl: with SPECIALIZED the geometry (all
// but N) comes from override constants, so loop bounds and divisors are compile-time constants.
override SPECIALIZED: bool = false;
override SPEC_C: u32 = 1u;
override SPEC_H: u32 = 1u;
override SPEC_W: u32 = 1u;
override SPEC_K: u32 = 1u;
override SPEC_R: u32 = 1u;
override SPEC_S: u32 = 1u;
override SPEC_G: u32 = 1u;
override SPEC_P: u32 = 1u;
override SPEC_Q: u32 = 1u;
override SPEC_stride_h: u32 = 1u;
override SPEC_stride_w: u32 = 1u;
override SPEC_pad_h: u32 = 1u;
override SPEC_pad_w: u32 = 1u;
override SPEC_dil_h: u32 = 1u;
override SPEC_dil_w: u32 = 1u;
override SPEC_C_g: u32 = 1u;
override SPEC_K_g: u32 = 1u;
override SPEC_CRS_g: u32 = 1u;
override SPEC_PQ: u32 = 1u;

fn geometry() -> Conv2dParams {
  if (!SPECIALIZED) { return p; }
  return Conv2dParams(p.N, SPEC_C, SPEC_H, SPEC_W, SPEC_K, SPEC_R, SPEC_S, SPEC_G, SPEC_P, SPEC_Q, SPEC_stride_h, SPEC_stride_w, SPEC_pad_h, SPEC_pad_w, SPEC_dil_h, SPEC_dil_w, SPEC_C_g, SPEC_K_g, SPEC_CRS_g, SPEC_PQ);
}

override WG: u32 = 8;

// For 4 input channels j0 .. j0+3: the even columns get g[0..3] * tap 1, the odd ones
// g[1..4] * tap 0 + g[0..3] * tap 2. wS holds the 4 channels' weights of tap S.
fn taps(acc: ptr<function, array<vec4<f32>, 32>>, j0: u32, g0: vec4<f32>, g1: vec4<f32>,
        w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>) {
  (*acc)[j0] += g0 * w1.x;
  (*acc)[j0 + 1u] += g0 * w1.y;
  (*acc)[j0 + 2u] += g0 * w1.z;
  (*acc)[j0 + 3u] += g0 * w1.w;
  (*acc)[16u + j0] += g1 * w0.x + g0 * w2.x;
  (*acc)[17u + j0] += g1 * w0.y + g0 * w2.y;
  (*acc)[18u + j0] += g1 * w0.z + g0 * w2.z;
  (*acc)[19u + j0] += g1 * w0.w + g0 * w2.w;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let q = geometry();
  let c_blocks = (q.C_g + 15u) / 16u;
  let a = wid.z % 2u;                   // row parity class: rows h = 2i + a
  let cb = (wid.z / 2u) % c_blocks;     // block of 16 input channels (within the group)
  let g = wid.z / (2u * c_blocks);
  let rows_a = (q.H + 1u - a) / 2u;     // rows of this class
  let octets_per_row = q.W / 8u;
  let lanes = q.N * rows_a * octets_per_row;
  let tile = (wid.x + wid.y * nwg.x) * WG;
  if (tile >= lanes) { return; }        // uniform: the whole workgroup is past the end

  // This lane's 8 columns: image n, input row h, columns w0 .. w0+7.
  let lidx = min(tile + li, lanes - 1u);    // clamp the tail; its results are not stored
  let n = lidx / (rows_a * octets_per_row);
  let h = 2u * ((lidx / octets_per_row) % rows_a) + a;
  let w0 = (lidx % octets_per_row) * 8u;
  let q0 = w0 / 2u;                     // gy columns q0 .. q0+4; q0 + 4 == Q in the last octet
  let last_ok = q0 + 4u < q.Q;

  // The kernel rows of this parity: h = 2p - pad_h + r, so r = (a + pad_h) mod 2, +2, ...
  let r_first = (a + q.pad_h) % 2u;
  let wstride = q.R * 12u;              // vec4s per k in wp
  var acc: array<vec4<f32>, 32>;        // [j] even columns of channel j, [16 + j] odd columns
  for (var kk = 0u; kk < q.K_g; kk++) {
    let plane = (n * q.K + g * q.K_g + kk) * q.PQ;
    for (var r = r_first; r < q.R; r += 2u) {
      let pr = i32(h + q.pad_h) - i32(r);   // 2p; even by construction
      let p_row = pr / 2;
      let row_ok = pr >= 0 && p_row < i32(q.P);
      let row = plane + u32(select(0, p_row, row_ok)) * q.Q + q0;
      let g0 = select(vec4<f32>(), gy4[row / 4u], row_ok);             // columns q0 .. q0+3
      let g4 = select(0.0, gy[select(0u, row + 4u, row_ok && last_ok)], row_ok && last_ok);
      let g1 = vec4<f32>(g0.y, g0.z, g0.w, g4);                          // columns q0+1 .. q0+4
      // The packed taps are flipped: w tap (r, s) is wp tap (R-1-r, 2-s). Vec4 v of a wp (k, r)
      // holds channels 4*(v%4) .. +3 of wp tap v/4; 0..7 come from wa, 8..11 from wb. So w tap 0
      // is wp tap 2 (wb, lane j), tap 1 is wp tap 1 (wa, lane 4 + j), tap 2 is wp tap 0 (wa, lane j).
      let wi = ((g * c_blocks + cb) * q.K_g + kk) * wstride + (q.R - 1u - r) * 12u + lane;
      let wa = wp[wi];
      let wb = wp[wi + 8u];
      taps(&acc, 0u, g0, g1, subgroupBroadcast(wb, 0u), subgroupBroadcast(wa, 4u), subgroupBroadcast(wa, 0u));
      taps(&acc, 4u, g0, g1, subgroupBroadcast(wb, 1u), subgroupBroadcast(wa, 5u), subgroupBroadcast(wa, 1u));
      taps(&acc, 8u, g0, g1, subgroupBroadcast(wb, 2u), subgroupBroadcast(wa, 6u), subgroupBroadcast(wa, 2u));
      taps(&acc, 12u, g0, g1, subgroupBroadcast(wb, 3u), subgroupBroadcast(wa, 7u), subgroupBroadcast(wa, 3u));
    }
  }

  if (tile + li >= lanes) { return; }
  for (var j = 0u; j < 16u; j++) {
    let cc = cb * 16u + j;
    if (cc >= q.C_g) { break; }
    let at = (((n * q.C + g * q.C_g + cc) * q.H + h) * q.W + w0) / 4u;
    let e = acc[j];                     // columns w0, w0+2, w0+4, w0+6
    let o = acc[16u + j];               // columns w0+1, .., w0+7
    dx4[at] = vec4<f32>(e.x, o.x, e.y, o.y);
    dx4[at + 1u] = vec4<f32>(e.z, o.z, e.w, o.w);
  }
}
