// conv2d_backward_weight_rows_subgroup.wgsl — gradient of conv2d w.r.t. its weights for kernels
// 3 taps wide at unit width stride and dilation, reusing every loaded x value across the 3 taps
// of a kernel row. NCHW, f32. Same result as conv2d_backward_weight.wgsl (its oracle).
enable subgroups;
//
// Legend: N batch, C input channels, H x W input, K output channels, R x S kernel (S = 3),
// P x Q output (Q % 4 == 0), G groups, C_g = C / G, K_g = K / G.
//   gy4: (N, K, P, Q) as vec4s   x: (N, C, H, W)   dw: (SPLITS, K, C_g, R, 3)
//
// As a GEMM: dw[k, (c, r, s)] = sum over pixels (n, p, q) of gy[n, k, p, q] * x[n, c, ih, iw],
// ih = p*stride_h - pad_h + r*dil_h, iw = q*stride_w - pad_w + s (stride_w 1 or 2). A lane owns
// one (c, r) — all 3 taps s — (or two, c and c + 1: PAIRS below) and BLOCK_K output channels (the
// same for the whole workgroup). For
// every 4 neighbouring output pixels q0 .. q0+3 of a row it
//   - loads the 6 input columns q0-pad .. q0-pad+5 of row ih (stride 1): x0 = cols 0..3 are the
//     tap-0 values of the 4 pixels, x1 = cols 1..4 tap 1, x2 = cols 2..5 tap 2 (one load, 3
//     taps); at stride 2 the 9 columns 2q0-pad .. 2q0-pad+8, tap s at cols s, s+2, s+4, s+6,
//   - loads BLOCK_K/8 vec4s of gy (lane i: channels i, 8+i, ...; 4 pixels each, aligned because
//     Q % 4 == 0) and gets the other lanes' by subgroupBroadcast,
//   - adds dot(xs, gy_j) to acc[j][s]: BLOCK_K x 3 x 4 multiply-adds.
// Per 4 pixels: 6 + BLOCK_K/2 loaded floats for 12 * BLOCK_K multiply-adds (the 2-tap kernel,
// conv2d_backward_weight_fast_subgroup.wgsl: 16 floats for 128). On llvmpipe loads are the cost.
//
// Splits: C_g * R lanes are few, so the images are divided into SPLITS ranges (grid z = SPLITS *
// G * ceil(K_g / BLOCK_K)), each writing partial sums to dw[split]; the launcher adds them.
// Grid: x, y = tiles of WG (c, r) rows over C_g * R (C_g / 2 * R with PAIRS), z = (split, group,
// block of BLOCK_K).
// Requires a subgroup size of at least 8. Launcher: src/kernels/conv2d.ts.

struct Conv2dParams {                 // packed by packConv2dParams(), same field order
  N: u32, C: u32, H: u32, W: u32,
  K: u32, R: u32, S: u32, G: u32,
  P: u32, Q: u32, stride_h: u32, stride_w: u32,
  pad_h: u32, pad_w: u32, dil_h: u32, dil_w: u32,
  C_g: u32, K_g: u32, CRS_g: u32, PQ: u32,
}

@group(0) @binding(0) var<storage, read>       gy4: array<vec4<f32>>;  // (N, K, P, Q / 4)
@group(0) @binding(1) var<storage, read>       x: array<f32>;          // (N, C, H, W)
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;         // (SPLITS, K, C_g, R, 3)
@group(0) @binding(3) var<uniform>             p: Conv2dParams;
@group(0) @binding(4) var<storage, read>       x4: array<vec4<f32>>;   // x again, as vec4s

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
// Output channels per lane: 16, or 32 when there are at least 32 (96 accumulator floats).
override BLOCK_K: u32 = 16u;
// Set by the launcher (alignedRows) when W % 4 == 0 and pad_w == 1, at stride 1 with every quad's
// middle 4 window columns inside the row (Q == W, or x padded to whole vec4 rows by alignRows) and
// at stride 2: those columns are then aligned vec4s (see the forward kernel).
override ALIGNED_ROWS: bool = false;
// Width stride 1 or 2: at stride 2 the 4 pixels of a quad read a 9-column window.
override STRIDE_W: u32 = 1u;
// PAIRS (BLOCK_K 16, aligned rows, C_g even): a lane owns the same kernel row r of
// two input channels, c and c + 1, in acc[j] and acc[16 + j]. Each gy value a lane gets by
// subgroupBroadcast then serves both channels: 24 multiply-adds per broadcast instead of 12,
// with the 96 accumulators of a 32-channel block and 4 loads per quad instead of its 5. The
// broadcasts (a shuffle per component) weighed as much as the loads: 0.74-0.92x the CPU time
// on lavapipe at stride 1, 0.86-0.95x at stride 2 (CIFAR ResNet-20's and ResNet-18's 3x3 shapes).
override PAIRS: bool = false;

// For the 8 channels j0 + i whose gy quads lane i loaded as gv: acc[j0 + i][s] += dot(xs, gy).
fn accumulate8(acc: ptr<function, array<vec3<f32>, 32>>, j0: u32, x0: vec4<f32>, x1: vec4<f32>,
               x2: vec4<f32>, gv: vec4<f32>) {
  var g = subgroupBroadcast(gv, 0u);
  (*acc)[j0] += vec3<f32>(dot(x0, g), dot(x1, g), dot(x2, g));
  g = subgroupBroadcast(gv, 1u);
  (*acc)[j0 + 1u] += vec3<f32>(dot(x0, g), dot(x1, g), dot(x2, g));
  g = subgroupBroadcast(gv, 2u);
  (*acc)[j0 + 2u] += vec3<f32>(dot(x0, g), dot(x1, g), dot(x2, g));
  g = subgroupBroadcast(gv, 3u);
  (*acc)[j0 + 3u] += vec3<f32>(dot(x0, g), dot(x1, g), dot(x2, g));
  g = subgroupBroadcast(gv, 4u);
  (*acc)[j0 + 4u] += vec3<f32>(dot(x0, g), dot(x1, g), dot(x2, g));
  g = subgroupBroadcast(gv, 5u);
  (*acc)[j0 + 5u] += vec3<f32>(dot(x0, g), dot(x1, g), dot(x2, g));
  g = subgroupBroadcast(gv, 6u);
  (*acc)[j0 + 6u] += vec3<f32>(dot(x0, g), dot(x1, g), dot(x2, g));
  g = subgroupBroadcast(gv, 7u);
  (*acc)[j0 + 7u] += vec3<f32>(dot(x0, g), dot(x1, g), dot(x2, g));
}

// One quad of 4 pixels: the taps' x values x[0..2] against the gy quads of the lane's
// BLOCK_K/8 channels (gy4 indices gy_at), shared across the subgroup by accumulate8.
fn accumulate_quad(acc: ptr<function, array<vec3<f32>, 32>>, gy_at: vec4<u32>, x: array<vec4<f32>, 3>) {
  accumulate8(acc, 0u, x[0], x[1], x[2], gy4[gy_at[0]]);
  accumulate8(acc, 8u, x[0], x[1], x[2], gy4[gy_at[1]]);
  if (BLOCK_K == 32u) {
    accumulate8(acc, 16u, x[0], x[1], x[2], gy4[gy_at[2]]);
    accumulate8(acc, 24u, x[0], x[1], x[2], gy4[gy_at[3]]);
  }
}

// With PAIRS: one quad of channel c (taps xa) and of channel c + 1 (xb), 16 output channels.
fn accumulate_quad_pair(acc: ptr<function, array<vec3<f32>, 32>>, gy_at: vec4<u32>, xa: array<vec4<f32>, 3>, xb: array<vec4<f32>, 3>) {
  accumulate8_pair(acc, 0u, xa[0], xa[1], xa[2], xb[0], xb[1], xb[2], gy4[gy_at[0]]);
  accumulate8_pair(acc, 8u, xa[0], xa[1], xa[2], xb[0], xb[1], xb[2], gy4[gy_at[1]]);
}

// Stride 1: the taps of a quad whose window is column `left` (the previous quad's last), the
// aligned vec4 `mid` (columns 1..4) and column 5 (`next.x`, the next quad's first).
fn carried_taps(left: f32, mid: vec4<f32>, next: vec4<f32>) -> array<vec4<f32>, 3> {
  return array<vec4<f32>, 3>(vec4<f32>(left, mid.x, mid.y, mid.z), mid, vec4<f32>(mid.y, mid.z, mid.w, next.x));
}

// Window columns 0 .. 3*STRIDE_W + 2 of one input row for a quad: x index `at` is column 0, at
// input column iw0; columns outside the row read 0 (the padding).
fn load_window(at: i32, iw0: i32, row_ok: bool, first_quad: bool, W: u32) -> array<f32, 9> {
  var win: array<f32, 9>;
  if (ALIGNED_ROWS) {
    // Stride 2 (stride 1 takes the carried path in main): window columns 1..8 are two aligned
    // vec4s, one load instead of four each; column 0 is a scalar.
    let mid = select(vec4<f32>(), x4[u32(select(0, at + 1, row_ok)) / 4u], row_ok);
    win[1] = mid.x;
    win[2] = mid.y;
    win[3] = mid.z;
    win[4] = mid.w;
    let ok0 = row_ok && !first_quad;
    win[0] = select(0.0, x[u32(select(0, at, ok0))], ok0);
    let ok5 = row_ok && iw0 + 5 < i32(W);
    let mid2 = select(vec4<f32>(), x4[u32(select(0, at + 5, ok5)) / 4u], ok5);
    win[5] = mid2.x;
    win[6] = mid2.y;
    win[7] = mid2.z;
    win[8] = mid2.w;
  } else {
    for (var i = 0; i <= i32(3u * STRIDE_W) + 2; i++) {
      let ok = row_ok && iw0 + i >= 0 && iw0 + i < i32(W);
      win[i] = select(0.0, x[u32(select(0, at + i, ok))], ok);
    }
  }
  return win;
}

// Tap s of the 4 pixels: window columns s, s + STRIDE_W, s + 2 STRIDE_W, s + 3 STRIDE_W.
fn quad_taps(win: array<f32, 9>) -> array<vec4<f32>, 3> {
  return array<vec4<f32>, 3>(
    vec4<f32>(win[0], win[STRIDE_W], win[2u * STRIDE_W], win[3u * STRIDE_W]),
    vec4<f32>(win[1], win[1u + STRIDE_W], win[1u + 2u * STRIDE_W], win[1u + 3u * STRIDE_W]),
    vec4<f32>(win[2], win[2u + STRIDE_W], win[2u + 2u * STRIDE_W], win[2u + 3u * STRIDE_W]));
}

// acc[j] += dots of xa with gy, acc[16 + j] += dots of xb with gy, for the 8 channels j0 + i.
fn accumulate8_pair(acc: ptr<function, array<vec3<f32>, 32>>, j0: u32, xa0: vec4<f32>, xa1: vec4<f32>, xa2: vec4<f32>,
                    xb0: vec4<f32>, xb1: vec4<f32>, xb2: vec4<f32>, gv: vec4<f32>) {
  // (subgroupBroadcast takes a constant lane, hence the spelled-out calls.)
  pair_dots(acc, j0, xa0, xa1, xa2, xb0, xb1, xb2, subgroupBroadcast(gv, 0u));
  pair_dots(acc, j0 + 1u, xa0, xa1, xa2, xb0, xb1, xb2, subgroupBroadcast(gv, 1u));
  pair_dots(acc, j0 + 2u, xa0, xa1, xa2, xb0, xb1, xb2, subgroupBroadcast(gv, 2u));
  pair_dots(acc, j0 + 3u, xa0, xa1, xa2, xb0, xb1, xb2, subgroupBroadcast(gv, 3u));
  pair_dots(acc, j0 + 4u, xa0, xa1, xa2, xb0, xb1, xb2, subgroupBroadcast(gv, 4u));
  pair_dots(acc, j0 + 5u, xa0, xa1, xa2, xb0, xb1, xb2, subgroupBroadcast(gv, 5u));
  pair_dots(acc, j0 + 6u, xa0, xa1, xa2, xb0, xb1, xb2, subgroupBroadcast(gv, 6u));
  pair_dots(acc, j0 + 7u, xa0, xa1, xa2, xb0, xb1, xb2, subgroupBroadcast(gv, 7u));
}

fn pair_dots(acc: ptr<function, array<vec3<f32>, 32>>, j: u32, xa0: vec4<f32>, xa1: vec4<f32>, xa2: vec4<f32>,
             xb0: vec4<f32>, xb1: vec4<f32>, xb2: vec4<f32>, g: vec4<f32>) {
  (*acc)[j] += vec3<f32>(dot(xa0, g), dot(xa1, g), dot(xa2, g));
  (*acc)[16u + j] += vec3<f32>(dot(xb0, g), dot(xb1, g), dot(xb2, g));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let q = geometry();
  let k_blocks = (q.K_g + BLOCK_K - 1u) / BLOCK_K;
  let kb = wid.z % k_blocks;            // block of BLOCK_K output channels (within the group)
  let g = (wid.z / k_blocks) % q.G;
  let splits = nwg.z / (k_blocks * q.G);   // ranges of images, summed by the launcher
  let split = wid.z / (k_blocks * q.G);
  let lanes = q.C_g * q.R / select(1u, 2u, PAIRS);
  let tile = (wid.x + wid.y * nwg.x) * WG;
  if (tile >= lanes) { return; }        // uniform: the whole workgroup is past the end

  // This lane's (c, r): its x plane and the offset of its input rows from the output rows.
  let cr = min(tile + li, lanes - 1u);  // clamped: the tail is computed, not stored
  let c = (cr / q.R) * select(1u, 2u, PAIRS);   // with PAIRS, channels c and c + 1
  let r = cr % q.R;
  let plane = (g * q.C_g + c) * q.H * q.W;
  let row_off = i32(r * q.dil_h) - i32(q.pad_h);
  // The gy channels this lane loads: k0 + lane, k0 + 8 + lane, ... (clamped, never stored).
  var kl: array<u32, 4>;
  for (var i = 0u; i < BLOCK_K / 8u; i++) {
    kl[i] = g * q.K_g + min(kb * BLOCK_K + 8u * i + lane, q.K_g - 1u);
  }

  let quads_per_row = q.Q / 4u;
  let n_per = (q.N + splits - 1u) / splits;
  let n_end = min(q.N, (split + 1u) * n_per);
  var acc: array<vec3<f32>, 32>;        // acc[j][s] = dw[k0 + j, c, r, s], j < BLOCK_K
  for (var n = split * n_per; n < n_end; n++) {
    let xn = n * q.C * q.H * q.W + plane;
    for (var oh = 0u; oh < q.P; oh++) {
      let ih = i32(oh * q.stride_h) + row_off;
      let row_ok = ih >= 0 && ih < i32(q.H);
      let row = i32(xn) + ih * i32(q.W) - i32(q.pad_w);   // x index of window column 0 at q0 = 0
      // gy4 index of quad 0 of this output row, for each of the lane's BLOCK_K/8 channels.
      var gy_row: vec4<u32>;
      for (var i = 0u; i < BLOCK_K / 8u; i++) { gy_row[i] = (n * q.K + kl[i]) * q.PQ / 4u + oh * quads_per_row; }
      if (ALIGNED_ROWS && STRIDE_W == 1u) {
        // Stride 1 on aligned rows: window column 0 of a quad is the previous quad's column 4
        // and column 5 the next quad's column 1, so each quad loads one aligned vec4 of x (the
        // next quad's middle, carried into the next iteration) where it loaded a vec4 and two
        // scalars: with BLOCK_K 16, 3 loads per quad instead of 5. Same sums, bit for bit; on
        // lavapipe 0.88-1.02x the CPU time (mean 0.96x; CIFAR's three 3x3 shapes at batch 128,
        // ResNet-18's 64->64 @56 at batch 8): the broadcasts and dots weigh as much as the loads.
        var left = 0.0;                   // window column 0 of quad 0: the left padding (pad_w == 1)
        var mid = select(vec4<f32>(), x4[u32(select(0, row + 1, row_ok)) / 4u], row_ok);
        // With PAIRS, the same row of channel c + 1, one plane further.
        let row_b = row + i32(q.H * q.W);
        var left_b = 0.0;
        var mid_b = vec4<f32>();
        if (PAIRS) { mid_b = select(vec4<f32>(), x4[u32(select(0, row_b + 1, row_ok)) / 4u], row_ok); }
        for (var qd = 0u; qd < quads_per_row; qd++) {
          let next_ok = row_ok && qd + 1u < quads_per_row;   // the right padding after the last quad
          let next = select(vec4<f32>(), x4[u32(select(0, row + i32(4u * qd) + 5, next_ok)) / 4u], next_ok);
          let xa = carried_taps(left, mid, next);
          left = mid.w;
          mid = next;
          if (PAIRS) {
            let next_b = select(vec4<f32>(), x4[u32(select(0, row_b + i32(4u * qd) + 5, next_ok)) / 4u], next_ok);
            accumulate_quad_pair(&acc, gy_row + vec4<u32>(qd), xa, carried_taps(left_b, mid_b, next_b));
            left_b = mid_b.w;
            mid_b = next_b;
          } else {
            accumulate_quad(&acc, gy_row + vec4<u32>(qd), xa);
          }
        }
        continue;
      }
      for (var qd = 0u; qd < quads_per_row; qd++) {
        let first = qd * 4u * STRIDE_W;   // input column of window column 0, plus pad_w
        let iw0 = i32(first) - i32(q.pad_w);
        let at = row + i32(first);        // x index of window column 0
        let xa = quad_taps(load_window(at, iw0, row_ok, qd == 0u, q.W));
        if (PAIRS) {
          accumulate_quad_pair(&acc, gy_row + vec4<u32>(qd), xa, quad_taps(load_window(at + i32(q.H * q.W), iw0, row_ok, qd == 0u, q.W)));
        } else {
          accumulate_quad(&acc, gy_row + vec4<u32>(qd), xa);
        }
      }
    }
  }

  if (tile + li >= lanes) { return; }
  let out = split * q.K * q.CRS_g;
  for (var j = 0u; j < BLOCK_K; j++) {
    let kk = kb * BLOCK_K + j;
    if (kk >= q.K_g) { break; }
    let at = out + ((g * q.K_g + kk) * q.C_g + c) * q.R * 3u + r * 3u;
    dw[at] = acc[j].x;
    dw[at + 1u] = acc[j].y;
    dw[at + 2u] = acc[j].z;
    if (PAIRS) {   // channel c + 1: the next (c, r, s) block of the same output channel
      let at_b = at + q.R * 3u;
      dw[at_b] = acc[16u + j].x;
      dw[at_b + 1u] = acc[16u + j].y;
      dw[at_b + 2u] = acc[16u + j].z;
    }
  }
}
