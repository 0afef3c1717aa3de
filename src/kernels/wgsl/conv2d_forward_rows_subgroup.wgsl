// conv2d_forward_rows_subgroup.wgsl — conv2d forward for kernels 3 taps wide at unit width
// dilation and width stride 1 or 2 (the 3x3 layers of a ResNet), as an implicit GEMM that
// reuses every loaded x value across the 3 taps of a kernel row. NCHW, f32.
// Same result as conv2d_forward.wgsl (its oracle).
enable subgroups;
//
// Legend: N batch, C input channels, H x W input, K output channels, R x S kernel (S = 3),
// P x Q output, G groups, C_g = C / G, K_g = K / G.
//   x: (N, C, H, W)   wp: packed weights, see conv2d_pack_weights_rows.wgsl
//   b: (K)            y: (N, K, P, Q)
//
// Why rows. On llvmpipe a load whose address differs per lane is a loop over the 8 lanes with a
// bounds check each (shared/docs/lavapipe.md): loaded floats per multiply-add is the cost. A lane
// here owns 4 neighbouring output pixels of one output row (q0 .. q0+3) and 16 output channels
// (the numbers below; BLOCK_K and PIX further down trade them for 32 channels or 8 pixels).
// For one input channel c and kernel row r, those 4 pixels read input columns q0-pad .. q0-pad+5:
// 6 floats serve all 3 taps (x0 = cols 0..3 for s = 0, x1 = 1..4 for s = 1, x2 = 2..5 for s = 2),
// where the 2-pixel kernel (conv2d_forward_fast_subgroup.wgsl) loads 2 per tap, 6 per 2 pixels.
// The 16 x 3 weights of (c, r) are 12 vec4s: lane i loads vec4 i and 8 + i, and every lane gets
// them all by subgroupBroadcast (a register shuffle). Per (c, r) a lane loads 6 + 8 floats and
// does 16 x 4 x 3 = 192 multiply-adds (the 2-pixel kernel: 16 floats per 128).
//
// Zero padding: columns or rows outside the input read address 0 and are replaced by 0 with
// select(). Pixels past the right edge (Q not a multiple of 4) are computed and not stored.
// Grid: x, y = tiles of WG groups of PIX pixels over N * P * ceil(Q / PIX) (y spills past 65535),
//       z = (group, block of 16 output channels). Requires a subgroup size of at least 8.
// Launcher: conv2dForwardFast() in src/kernels/conv2d.ts, which picks this kernel when S = 3,
// stride_w is 1 (or 2, forward only) and dil_w = 1.

struct Conv2dParams {                 // packed by packConv2dParams(), same field order
  N: u32, C: u32, H: u32, W: u32,
  K: u32, R: u32, S: u32, G: u32,
  P: u32, Q: u32, stride_h: u32, stride_w: u32,
  pad_h: u32, pad_w: u32, dil_h: u32, dil_w: u32,
  C_g: u32, K_g: u32, CRS_g: u32, PQ: u32,
}

@group(0) @binding(0) var<storage, read>       x: array<f32>;         // (N, C, H, W)
@group(0) @binding(1) var<storage, read>       wp: array<vec4<f32>>;  // (G, K_g/16, C_g, R, 12) + 4
@group(0) @binding(2) var<storage, read>       b: array<f32>;         // (K); unused without bias
@group(0) @binding(3) var<storage, read_write> y: array<f32>;         // (N, K, P, Q)
@group(0) @binding(4) var<uniform>             p: Conv2dParams;
@group(0) @binding(5) var<storage, read>       x4: array<vec4<f32>>;  // x again, as vec4s
@group(0) @binding(6) var<storage, read>       res: array<f32>;       // (N, K, P, Q), HAS_RESIDUAL
@group(0) @binding(7) var<storage, read_write> y4: array<vec4<f32>>;  // y as vec4s, with Y_VEC4
@group(0) @binding(8) var<storage, read>       res4: array<vec4<f32>>; // res again, as vec4s
// (Only one of y and y4 is bound to the output: WebGPU forbids two writable bindings of one
// buffer in a dispatch, so the launcher binds a stand-in to the other.)

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
override HAS_BIAS: bool = true;
// Epilogue at inference (a batch norm folded into the weights and bias, then the residual add
// and the ReLU of a ResNet block, in the store instead of passes of their own):
// y = relu?(conv + bias + res).
override HAS_RESIDUAL: bool = false;
override RELU: bool = false;
// Y_VEC4 (Q % 4 == 0): a lane's 4 pixels of a row are one aligned vec4 of y, stored at once (and
// the residual read likewise) instead of 4 scalars. On lavapipe 0.76-0.84x the CPU time on 8x8
// rows (CIFAR's last stage, forward and input gradient), unchanged on 16x16 to 56x56.
override Y_VEC4: bool = false;
// The launcher sets ALIGNED_ROWS when W % 4 == 0, pad_w == 1 and Q == W (3x3 "same" layers):
// then the middle 4 window columns are always inside the image and start at a multiple of 4.
// On llvmpipe a vec4 load walks the lanes once where 4 scalar loads walk them 4 times.
override ALIGNED_ROWS: bool = false;
// Output channels per lane: 16, or 32 when there are at least 32 (more multiply-adds per loaded
// weight and x value; 128 accumulator floats, as the GEMM, matmul_subgroup.wgsl).
override BLOCK_K: u32 = 16u;
// Pixels per lane along the output row: 4, or 8 with 16-channel blocks (the 64 accumulator
// floats freed by the smaller block hold the second 4; a 10-column window serves 8 pixels).
override PIX: u32 = 4u;
// Width stride 1 or 2 (PIX = 4): at stride 2 the 4 pixels read a 9-column window, 9 loads for 12
// tap values (two aligned vec4s and a scalar when ALIGNED_ROWS).
override STRIDE_W: u32 = 1u;
override VECS = 3u * BLOCK_K / 4u;   // weight vec4s per (c, r): 12 or 24 (derived; not set by the launcher)

// All 3 taps for 4 output channels: acc[j0 + i] += x0 * w0[i] + x1 * w1[i] + x2 * w2[i], where
// wS holds the weights of channels j0 .. j0+3 for tap s = S of this (c, r). Each accumulator is
// read and written once per (c, r): with 64 accumulator floats per lane the compiler keeps some
// in memory, and one update instead of three saves those loads and stores.
fn taps3(acc: ptr<function, array<vec4<f32>, 32>>, j0: u32, x0: vec4<f32>, x1: vec4<f32>, x2: vec4<f32>,
         w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>) {
  (*acc)[j0] += x0 * w0.x + x1 * w1.x + x2 * w2.x;
  (*acc)[j0 + 1u] += x0 * w0.y + x1 * w1.y + x2 * w2.y;
  (*acc)[j0 + 2u] += x0 * w0.z + x1 * w1.z + x2 * w2.z;
  (*acc)[j0 + 3u] += x0 * w0.w + x1 * w1.w + x2 * w2.w;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let q = geometry();
  let k_blocks = (q.K_g + BLOCK_K - 1u) / BLOCK_K;
  let kb = wid.z % k_blocks;            // block of BLOCK_K output channels (within the group)
  let g = wid.z / k_blocks;
  let quads_per_row = (q.Q + PIX - 1u) / PIX;   // pixel groups ("quads" of PIX pixels) per row
  let quads = q.N * q.P * quads_per_row;
  let tile = (wid.x + wid.y * nwg.x) * WG;
  if (tile >= quads) { return; }        // whole workgroup past the end (y spill rounding)

  // This lane's PIX pixels: image n, output row oh, columns q0 .. q0+PIX-1.
  let quad = min(tile + li, quads - 1u); // clamp the tail; its results are not stored
  let n = quad / (q.P * quads_per_row);
  let oh = (quad / quads_per_row) % q.P;
  let q0 = (quad % quads_per_row) * PIX;
  let ih0 = i32(oh * q.stride_h) - i32(q.pad_h);
  let iw0 = i32(q0 * STRIDE_W) - i32(q.pad_w);   // first input column of the row window
  let last = i32((PIX - 1u) * STRIDE_W) + 2;     // its last column: 5, 9 (PIX 8) or 8 (stride 2)
  // Which window columns lie inside the image (the same for every row and channel).
  var col_ok: array<bool, 10>;
  for (var i = 0; i <= last; i++) { col_ok[i] = iw0 + i >= 0 && iw0 + i < i32(q.W); }

  let HW = q.H * q.W;
  let x_image = (n * q.C + g * q.C_g) * HW;
  var wi = (g * k_blocks + kb) * q.C_g * q.R * VECS + lane;

  // acc[j] = y[k0 + j, oh, q0 .. q0+3], j < BLOCK_K; with PIX = 8, acc[16 + j] = columns q0+4 .. q0+7.
  var acc: array<vec4<f32>, 32>;
  for (var c = 0u; c < q.C_g; c++) {
    for (var r = 0u; r < q.R; r++) {
      let ih = ih0 + i32(r * q.dil_h);
      let row_ok = ih >= 0 && ih < i32(q.H);
      let row = i32(x_image + c * HW) + ih * i32(q.W) + iw0;
      var win: array<f32, 10>;          // window columns 0 .. last
      if (ALIGNED_ROWS) {
        // Window columns 1..4 (and 5..8 for PIX = 8 or stride 2) are aligned vec4s: one load
        // instead of four; the edge columns are scalars.
        let mid = select(vec4<f32>(), x4[u32(select(0, row + 1, row_ok)) / 4u], row_ok);
        win[1] = mid.x;
        win[2] = mid.y;
        win[3] = mid.z;
        win[4] = mid.w;
        if (last >= 8) {
          let mid2 = select(vec4<f32>(), x4[u32(select(0, row + 5, row_ok)) / 4u], row_ok && col_ok[5]);
          win[5] = mid2.x;
          win[6] = mid2.y;
          win[7] = mid2.z;
          win[8] = mid2.w;
        }
        win[0] = select(0.0, x[u32(select(0, row, row_ok && col_ok[0]))], row_ok && col_ok[0]);
        if (last != 8) {   // with stride 2 the window ends with the second vec4
          win[last] = select(0.0, x[u32(select(0, row + last, row_ok && col_ok[last]))], row_ok && col_ok[last]);
        }
      } else {
        for (var i = 0; i <= last; i++) {
          let ok = row_ok && col_ok[i];
          win[i] = select(0.0, x[u32(select(0, row + i, ok))], ok);
        }
      }
      // Tap s of the 4 pixels: window columns s, s + STRIDE_W, s + 2 STRIDE_W, s + 3 STRIDE_W.
      let x0 = vec4<f32>(win[0], win[STRIDE_W], win[2u * STRIDE_W], win[3u * STRIDE_W]);
      let x1 = vec4<f32>(win[1], win[1u + STRIDE_W], win[1u + 2u * STRIDE_W], win[1u + 3u * STRIDE_W]);
      let x2 = vec4<f32>(win[2], win[2u + STRIDE_W], win[2u + 2u * STRIDE_W], win[2u + 3u * STRIDE_W]);
      if (BLOCK_K == 16u) {
        // Vec4 v of (c, r) holds the weights of channels 4*(v%4) .. +3 for tap s = v/4:
        // vectors 0..7 come from wa (lane v), 8..11 from wb (lane v - 8).
        let wa = wp[wi];
        let wb = wp[wi + 8u];
        taps3(&acc, 0u, x0, x1, x2, subgroupBroadcast(wa, 0u), subgroupBroadcast(wa, 4u), subgroupBroadcast(wb, 0u));
        taps3(&acc, 4u, x0, x1, x2, subgroupBroadcast(wa, 1u), subgroupBroadcast(wa, 5u), subgroupBroadcast(wb, 1u));
        taps3(&acc, 8u, x0, x1, x2, subgroupBroadcast(wa, 2u), subgroupBroadcast(wa, 6u), subgroupBroadcast(wb, 2u));
        taps3(&acc, 12u, x0, x1, x2, subgroupBroadcast(wa, 3u), subgroupBroadcast(wa, 7u), subgroupBroadcast(wb, 3u));
        if (PIX == 8u) {
          // Columns q0+4 .. q0+7: the same weights, the window shifted by 4.
          let x4_0 = vec4<f32>(win[4], win[5], win[6], win[7]);
          let x4_1 = vec4<f32>(win[5], win[6], win[7], win[8]);
          let x4_2 = vec4<f32>(win[6], win[7], win[8], win[9]);
          taps3(&acc, 16u, x4_0, x4_1, x4_2, subgroupBroadcast(wa, 0u), subgroupBroadcast(wa, 4u), subgroupBroadcast(wb, 0u));
          taps3(&acc, 20u, x4_0, x4_1, x4_2, subgroupBroadcast(wa, 1u), subgroupBroadcast(wa, 5u), subgroupBroadcast(wb, 1u));
          taps3(&acc, 24u, x4_0, x4_1, x4_2, subgroupBroadcast(wa, 2u), subgroupBroadcast(wa, 6u), subgroupBroadcast(wb, 2u));
          taps3(&acc, 28u, x4_0, x4_1, x4_2, subgroupBroadcast(wa, 3u), subgroupBroadcast(wa, 7u), subgroupBroadcast(wb, 3u));
        }
      } else {
        // Vec4 v of (c, r) holds channels 4*(v%8) .. +3 for tap s = v/8: ws comes from lane v%8
        // of the load for tap s.
        let w0 = wp[wi];
        let w1 = wp[wi + 8u];
        let w2 = wp[wi + 16u];
        taps3(&acc, 0u, x0, x1, x2, subgroupBroadcast(w0, 0u), subgroupBroadcast(w1, 0u), subgroupBroadcast(w2, 0u));
        taps3(&acc, 4u, x0, x1, x2, subgroupBroadcast(w0, 1u), subgroupBroadcast(w1, 1u), subgroupBroadcast(w2, 1u));
        taps3(&acc, 8u, x0, x1, x2, subgroupBroadcast(w0, 2u), subgroupBroadcast(w1, 2u), subgroupBroadcast(w2, 2u));
        taps3(&acc, 12u, x0, x1, x2, subgroupBroadcast(w0, 3u), subgroupBroadcast(w1, 3u), subgroupBroadcast(w2, 3u));
        taps3(&acc, 16u, x0, x1, x2, subgroupBroadcast(w0, 4u), subgroupBroadcast(w1, 4u), subgroupBroadcast(w2, 4u));
        taps3(&acc, 20u, x0, x1, x2, subgroupBroadcast(w0, 5u), subgroupBroadcast(w1, 5u), subgroupBroadcast(w2, 5u));
        taps3(&acc, 24u, x0, x1, x2, subgroupBroadcast(w0, 6u), subgroupBroadcast(w1, 6u), subgroupBroadcast(w2, 6u));
        taps3(&acc, 28u, x0, x1, x2, subgroupBroadcast(w0, 7u), subgroupBroadcast(w1, 7u), subgroupBroadcast(w2, 7u));
      }
      wi += VECS;
    }
  }

  if (tile + li >= quads) { return; }
  let y_row = n * q.K * q.PQ + oh * q.Q + q0;
  for (var j = 0u; j < BLOCK_K; j++) {
    let kk = kb * BLOCK_K + j;
    if (kk >= q.K_g) { break; }
    let k = g * q.K_g + kk;
    var bias = 0.0;
    if (HAS_BIAS) { bias = b[k]; }
    if (Y_VEC4) {
      // Q % 4 == 0: each 4 pixels of the group lie wholly inside or past the row, as one aligned vec4.
      for (var h = 0u; h < PIX / 4u; h++) {
        if (q0 + 4u * h >= q.Q) { break; }
        let at4 = (y_row + k * q.PQ) / 4u + h;
        var v = acc[16u * h + j] + vec4<f32>(bias);
        if (HAS_RESIDUAL) { v += res4[at4]; }
        if (RELU) { v = max(v, vec4<f32>(0.0)); }
        y4[at4] = v;
      }
      continue;
    }
    for (var i = 0u; i < PIX; i++) {
      // Columns 4..7 of an 8-pixel group live in acc[16 + j].
      if (q0 + i >= q.Q) { continue; }
      let at = y_row + k * q.PQ + i;
      var v = acc[select(j, 16u + j, i >= 4u)][i % 4u] + bias;
      if (HAS_RESIDUAL) { v += res[at]; }
      if (RELU) { v = max(v, 0.0); }
      y[at] = v;
    }
  }
}
