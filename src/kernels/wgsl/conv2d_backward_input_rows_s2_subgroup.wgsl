// conv2d_backward_input_rows_s2_subgroup.wgsl — gradient of a 3x3 conv2d w.r.t. its input at
// stride 2 with padding 1 (the downsampling 3x3 layers of a ResNet), with every loaded gy value
// reused by all the taps that read it. NCHW, f32. Same result as conv2d_backward_input.wgsl
// (its oracle).
enable subgroups;
//
// Legend: N batch, C input channels, H x W input, K output channels, P x Q output, G groups,
// C_g = C / G, K_g = K / G; kernel 3 x 3, stride 2 x 2, padding 1 x 1, dilation 1.
//   gy: (N, K, P, Q), Q % 4 == 0 (the launcher pads gy's rows otherwise)
//   wp: weights, conv2d_pack_weights_rows.wgsl with TRANSPOSED and BLOCK_K 8: per (group, block
//       of 8 input channels, k) 18 vec4s, vec4 6 r' + 2 s' + jq = channels 4 jq .. 4 jq + 3 of
//       tap (r', s') = w tap (2 - r', 2 - s') (the flipped layout of the stride-1 input gradient)
//   dx: (N, C, H, W)
//
// Which taps reach an input pixel. Input pixel (h, w) was read by output pixel (p, q) through
// tap (r, s) when h = 2p - 1 + r and w = 2q - 1 + s. So with m = floor(h / 2), j = floor(w / 2):
//   row 2m:   r = 1 from p = m                  column 2j:   s = 1 from q = j
//   row 2m+1: r = 0 from p = m+1, r = 2 from m  column 2j+1: s = 0 from q = j+1, s = 2 from j
// A lane owns the 2 x 8 block of rows 2m, 2m+1 and columns w0 .. w0+7 (w0 = 8 * octet), for 8
// input channels. For each output channel k it loads gy rows m and m+1 at columns q0 .. q0+4
// (q0 = w0 / 2: an aligned vec4 and a scalar each) and the 8 x 9 weights (18 vec4s, 3 loads per
// lane, shared by subgroupBroadcast), and adds all 9 taps:
//   (2m, even)    += gy[m][q0..]   * w11                    (2m, odd)    += gy[m][q0+1..] * w10 + gy[m][q0..] * w12
//   (2m+1, even)  += gy[m+1][q0..] * w01 + gy[m][q0..] * w21
//   (2m+1, odd)   += gy[m+1][q0+1..] * w00 + gy[m+1][q0..] * w02 + gy[m][q0+1..] * w20 + gy[m][q0..] * w22
// — 9 vec4 multiply-adds per channel (288 per k) for 4 gy loads, 3 weight loads and 4 x 8
// accumulator updates. Why two rows: each accumulator is read and written once per k whatever
// its number of taps (128 accumulator floats live partly in memory on llvmpipe), and the row
// of gy that both dx rows read is loaded once. Measured on lavapipe against one dx row per lane
// (16 channels, rows in parity classes: 192 multiply-adds per 32 accumulator updates): 1.2-1.45x;
// against the phase-class kernel (conv2d_backward_input_fast_subgroup.wgsl): 1.3-2x on the
// ResNet-18 and CIFAR ResNet stride-2 layers (bench/RESULTS.md).
// No multiply-add is spent on the zeros that a zero-inserted gy would contain.
//
// Results: even and odd columns interleave back into vec4s of dx (`main`, W % 4 == 0), or are
// stored one by one (`main_scalar`). With W % 8 != 0 the last octet of a row is partly outside
// and computed anyway (W = 28: 1/8 of the work).
// Grid: x, y = tiles of WG lanes over N * ceil(H / 2) * ceil(W / 8); z = (group, block of 8
// input channels). Requires a subgroup size >= 8. Launcher: conv2dBackwardInputRowsS2() in
// src/kernels/conv2d.ts.

struct Conv2dParams {                 // packed by packConv2dParams(), same field order
  N: u32, C: u32, H: u32, W: u32,
  K: u32, R: u32, S: u32, G: u32,
  P: u32, Q: u32, stride_h: u32, stride_w: u32,
  pad_h: u32, pad_w: u32, dil_h: u32, dil_w: u32,
  C_g: u32, K_g: u32, CRS_g: u32, PQ: u32,
}

@group(0) @binding(0) var<storage, read>       gy: array<f32>;        // (N, K, P, Q)
@group(0) @binding(1) var<storage, read>       wp: array<vec4<f32>>;  // (G, C_g/8, K_g, 3, 6) + 8
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;        // (N, C, H, W)
@group(0) @binding(2) var<storage, read_write> dx4: array<vec4<f32>>; // dx as vec4s (`main`)
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

// One channel's weights of the 9 taps: wRS = w[k, c, r, s].
struct Taps { w00: f32, w01: f32, w02: f32, w10: f32, w11: f32, w12: f32, w20: f32, w21: f32, w22: f32 }

// The 4 accumulators of channel j: [j] row 2m even columns, [8 + j] row 2m odd columns,
// [16 + j] row 2m+1 even, [24 + j] row 2m+1 odd. gm0 / gm1: gy row m, columns q0..q0+3 /
// q0+1..q0+4; gn0 / gn1 the same for row m+1.
fn update(acc: ptr<function, array<vec4<f32>, 32>>, j: u32, gm0: vec4<f32>, gm1: vec4<f32>,
          gn0: vec4<f32>, gn1: vec4<f32>, t: Taps) {
  (*acc)[j] += gm0 * t.w11;
  (*acc)[8u + j] += gm1 * t.w10 + gm0 * t.w12;
  (*acc)[16u + j] += gn0 * t.w01 + gm0 * t.w21;
  (*acc)[24u + j] += gn1 * t.w00 + gn0 * t.w02 + gm1 * t.w20 + gm0 * t.w22;
}

// Channel `comp` of a quad from the 9 tap vec4s of that quad.
fn channel(comp: u32, v00: vec4<f32>, v01: vec4<f32>, v02: vec4<f32>, v10: vec4<f32>, v11: vec4<f32>,
           v12: vec4<f32>, v20: vec4<f32>, v21: vec4<f32>, v22: vec4<f32>) -> Taps {
  return Taps(v00[comp], v01[comp], v02[comp], v10[comp], v11[comp], v12[comp], v20[comp], v21[comp], v22[comp]);
}

// This lane's block: image n, row pair m, first column w0, group g, channel block cb.
struct Block { n: u32, m: u32, w0: u32, g: u32, cb: u32, stored: bool }

fn block_of(wid: vec3<u32>, nwg: vec3<u32>, li: u32, q: Conv2dParams) -> Block {
  let c_blocks = (q.C_g + 7u) / 8u;
  let pairs = (q.H + 1u) / 2u;
  let octets = (q.W + 7u) / 8u;
  let lanes = q.N * pairs * octets;
  let index = (wid.x + wid.y * nwg.x) * WG + li;
  let l = min(index, lanes - 1u);       // clamp the tail; its results are not stored
  return Block(l / (pairs * octets), (l / octets) % pairs, (l % octets) * 8u, wid.z / c_blocks, wid.z % c_blocks, index < lanes);
}

// The block's 16 x 8 sums over all output channels k.
fn accumulate(b: Block, lane: u32, q: Conv2dParams) -> array<vec4<f32>, 32> {
  let q0 = b.w0 / 2u;
  let last_ok = q0 + 4u < q.Q;          // gy column q0 + 4 (odd columns, tap s = 0)
  let next_ok = b.m + 1u < q.P;         // gy row m + 1 (row 2m+1, tap r = 0)
  let c_blocks = (q.C_g + 7u) / 8u;
  var acc: array<vec4<f32>, 32>;
  for (var kk = 0u; kk < q.K_g; kk++) {
    let rm = (b.n * q.K + b.g * q.K_g + kk) * q.PQ + b.m * q.Q + q0;   // gy[n, k, m, q0]
    let rn = rm + q.Q;
    let gm0 = gy4[rm / 4u];
    let gm4 = select(0.0, gy[select(0u, rm + 4u, last_ok)], last_ok);
    let gm1 = vec4<f32>(gm0.y, gm0.z, gm0.w, gm4);
    let gn0 = select(vec4<f32>(), gy4[select(0u, rn, next_ok) / 4u], next_ok);
    let gn4 = select(0.0, gy[select(0u, rn + 4u, next_ok && last_ok)], next_ok && last_ok);
    let gn1 = vec4<f32>(gn0.y, gn0.z, gn0.w, gn4);
    // The 18 weight vec4s of this k: lane i loads vec4s i, 8 + i and 16 + i (the last read
    // runs past the 18 into the pack's zero tail and is discarded).
    let wi = ((b.g * c_blocks + b.cb) * q.K_g + kk) * 18u + lane;
    let la = wp[wi];
    let lb = wp[wi + 8u];
    let lc = wp[wi + 16u];
    // Tap (r, s) of quad jq is vec4 6 (2 - r) + 2 (2 - s) + jq.
    for (var jq = 0u; jq < 2u; jq++) {
      let a = jq == 1u;
      let v00 = select(subgroupBroadcast(lc, 0u), subgroupBroadcast(lc, 1u), a);
      let v01 = select(subgroupBroadcast(lb, 6u), subgroupBroadcast(lb, 7u), a);
      let v02 = select(subgroupBroadcast(lb, 4u), subgroupBroadcast(lb, 5u), a);
      let v10 = select(subgroupBroadcast(lb, 2u), subgroupBroadcast(lb, 3u), a);
      let v11 = select(subgroupBroadcast(lb, 0u), subgroupBroadcast(lb, 1u), a);
      let v12 = select(subgroupBroadcast(la, 6u), subgroupBroadcast(la, 7u), a);
      let v20 = select(subgroupBroadcast(la, 4u), subgroupBroadcast(la, 5u), a);
      let v21 = select(subgroupBroadcast(la, 2u), subgroupBroadcast(la, 3u), a);
      let v22 = select(subgroupBroadcast(la, 0u), subgroupBroadcast(la, 1u), a);
      for (var comp = 0u; comp < 4u; comp++) {
        update(&acc, jq * 4u + comp, gm0, gm1, gn0, gn1, channel(comp, v00, v01, v02, v10, v11, v12, v20, v21, v22));
      }
    }
  }
  return acc;
}

// W % 4 == 0: each row's 8 columns are two aligned vec4s of dx (the second may lie past W).
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let q = geometry();
  if ((wid.x + wid.y * nwg.x) * WG >= q.N * ((q.H + 1u) / 2u) * ((q.W + 7u) / 8u)) { return; }   // whole workgroup
  let b = block_of(wid, nwg, li, q);
  let acc = accumulate(b, lane, q);
  if (!b.stored) { return; }
  for (var j = 0u; j < 8u; j++) {
    let c = b.cb * 8u + j;
    if (c >= q.C_g) { break; }
    let row = ((b.n * q.C + b.g * q.C_g + c) * q.H + 2u * b.m) * q.W + b.w0;   // dx[n, c, 2m, w0]
    for (var half = 0u; half < 2u; half++) {        // rows 2m and 2m+1
      if (2u * b.m + half >= q.H) { break; }
      let e = acc[16u * half + j];
      let o = acc[16u * half + 8u + j];
      let at = (row + half * q.W) / 4u;
      dx4[at] = vec4<f32>(e.x, o.x, e.y, o.y);
      if (b.w0 + 4u < q.W) { dx4[at + 1u] = vec4<f32>(e.z, o.z, e.w, o.w); }
    }
  }
}

// Any W: the 16 values one by one, those past the right edge dropped.
@compute @workgroup_size(WG)
fn main_scalar(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let q = geometry();
  if ((wid.x + wid.y * nwg.x) * WG >= q.N * ((q.H + 1u) / 2u) * ((q.W + 7u) / 8u)) { return; }
  let b = block_of(wid, nwg, li, q);
  let acc = accumulate(b, lane, q);
  if (!b.stored) { return; }
  for (var j = 0u; j < 8u; j++) {
    let c = b.cb * 8u + j;
    if (c >= q.C_g) { break; }
    let row = ((b.n * q.C + b.g * q.C_g + c) * q.H + 2u * b.m) * q.W + b.w0;
    for (var half = 0u; half < 2u; half++) {
      if (2u * b.m + half >= q.H) { break; }
      let e = acc[16u * half + j];
      let o = acc[16u * half + 8u + j];
      for (var i = 0u; i < 4u; i++) {
        if (b.w0 + 2u * i < q.W) { dx[row + half * q.W + 2u * i] = e[i]; }
        if (b.w0 + 2u * i + 1u < q.W) { dx[row + half * q.W + 2u * i + 1u] = o[i]; }
      }
    }
  }
}
