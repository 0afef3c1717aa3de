// conv2d_backward_weight_fast_subgroup.wgsl — gradient of conv2d w.r.t. its weights as an
// implicit GEMM reducing over N*P*Q, gy shared across subgroup lanes. NCHW, f32.
// Same result as conv2d_backward_weight.wgsl (its oracle).
enable subgroups;
//
// Legend: N batch, C input channels, H x W input, K output channels, R x S kernel, P x Q output,
// G groups, C_g = C / G, K_g = K / G.
//   gy: (N, K, P, Q)   x: (N, C, H, W)   dw: (SPLITS, K, C_g, R, S)
//
// As a GEMM: dw[k, t] = sum_{pixel} gy[k, pixel] * im2col[t, pixel], with t = (c, r, s) and
// pixel = (n, p, q). Work per invocation: 16 output channels k x 2 filter taps t (32
// accumulators); the 16 channels are shared by the workgroup, the taps differ per lane. For
// every 4 consecutive output pixels of one image, a lane
//   - gathers x for its 2 taps at those 4 pixels into a mat4x2 (im2col on the fly),
//   - loads 4 consecutive gy values of ONE channel (lane i: channel k0 + i) as a vec4,
//   - gets the other lanes' gy vec4s with subgroupBroadcast (no load),
//   - does 16 x 2 x 4 multiply-adds: acc[j] += xm * gy_j.
// The pixel counters (oh, ow) are the same in every lane, so their arithmetic is cheap. When
// Q % 4 == 0 (every CIFAR and most ImageNet layers) the pixels are walked row by row: the row
// bounds test is made once per row and each gy quad is one aligned vec4 load (binding gy4).
//
// Splits: when K * C_g*R*S alone gives too few workgroups to keep the machine busy, the images
// are divided into SPLITS ranges (grid z = SPLITS * G * K_g/16), each writing its partial sums
// to dw[split]; the launcher then adds them with the sum reduction. SPLITS = 1 writes dw.
// Grid: x, y = tiles of WG*2 taps over C_g*R*S, z = (split, group, block of 16 channels).
// Requires subgroup size >= 8. Fallback: conv2d_backward_weight_fast.wgsl.
// Launcher: src/kernels/conv2d.ts.

struct Conv2dParams {                 // packed by packConv2dParams(), same field order
  N: u32, C: u32, H: u32, W: u32,
  K: u32, R: u32, S: u32, G: u32,
  P: u32, Q: u32, stride_h: u32, stride_w: u32,
  pad_h: u32, pad_w: u32, dil_h: u32, dil_w: u32,
  C_g: u32, K_g: u32, CRS_g: u32, PQ: u32,
}

@group(0) @binding(0) var<storage, read>       gy: array<f32>;   // (N, K, P, Q)
@group(0) @binding(1) var<storage, read>       x: array<f32>;    // (N, C, H, W)
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;   // (SPLITS, K, C_g, R, S)
@group(0) @binding(3) var<uniform>             p: Conv2dParams;
@group(0) @binding(4) var<storage, read>       gy4: array<vec4<f32>>;  // gy again, as quads

// Specialisation: with SPECIALIZED the launcher passes the layer's geometry (all but the batch N)
// as override constants, so the compiler sees constant loop bounds, strides and sizes: it unrolls
// the tap loops, turns the divisions into multiplies and folds the index arithmetic (on llvmpipe
// varying loop bounds and integer division are what the inner loops paid for). Without it the
// kernel reads everything from the uniform struct p. One pipeline per layer shape.
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

// The geometry the kernel runs with: p, or p.N and the specialised constants.
fn geometry() -> Conv2dParams {
  if (!SPECIALIZED) { return p; }
  return Conv2dParams(p.N, SPEC_C, SPEC_H, SPEC_W, SPEC_K, SPEC_R, SPEC_S, SPEC_G, SPEC_P, SPEC_Q, SPEC_stride_h, SPEC_stride_w, SPEC_pad_h, SPEC_pad_w, SPEC_dil_h, SPEC_dil_w, SPEC_C_g, SPEC_K_g, SPEC_CRS_g, SPEC_PQ);
}

override WG: u32 = 8;

// acc[j] += xm * (gy of channel k0 + j at the 4 pixels of xm). Lane i (i < 8) loaded channel
// k0 + i's quad into ga and k0 + 8 + i's into gc; every lane receives all 16 by subgroupBroadcast.
fn accumulate(acc: ptr<function, array<vec2<f32>, 16>>, xm: mat4x2<f32>, ga: vec4<f32>, gc: vec4<f32>) {
  (*acc)[0] += xm * subgroupBroadcast(ga, 0u);
  (*acc)[1] += xm * subgroupBroadcast(ga, 1u);
  (*acc)[2] += xm * subgroupBroadcast(ga, 2u);
  (*acc)[3] += xm * subgroupBroadcast(ga, 3u);
  (*acc)[4] += xm * subgroupBroadcast(ga, 4u);
  (*acc)[5] += xm * subgroupBroadcast(ga, 5u);
  (*acc)[6] += xm * subgroupBroadcast(ga, 6u);
  (*acc)[7] += xm * subgroupBroadcast(ga, 7u);
  (*acc)[8] += xm * subgroupBroadcast(gc, 0u);
  (*acc)[9] += xm * subgroupBroadcast(gc, 1u);
  (*acc)[10] += xm * subgroupBroadcast(gc, 2u);
  (*acc)[11] += xm * subgroupBroadcast(gc, 3u);
  (*acc)[12] += xm * subgroupBroadcast(gc, 4u);
  (*acc)[13] += xm * subgroupBroadcast(gc, 5u);
  (*acc)[14] += xm * subgroupBroadcast(gc, 6u);
  (*acc)[15] += xm * subgroupBroadcast(gc, 7u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let q = geometry();
  let k_blocks = (q.K_g + 15u) / 16u;
  let kb = wid.z % k_blocks;            // block of 16 output channels (within the group)
  let g = (wid.z / k_blocks) % q.G;
  let splits = nwg.z / (k_blocks * q.G);   // ranges of images, summed by the launcher
  let split = wid.z / (k_blocks * q.G);
  let tile = (wid.x + wid.y * nwg.x) * WG * 2u;
  if (tile >= q.CRS_g) { return; }      // uniform: the whole workgroup is past the end

  // This lane's two filter taps t = (c, r, s): the x plane they read and their offsets.
  var t: array<u32, 2>;
  var plane: array<u32, 2>;             // (g*C_g + c) * H * W
  var row_off: array<i32, 2>;           // r*dil_h - pad_h: input row = oh*stride_h + row_off
  var col_off: array<i32, 2>;           // s*dil_w - pad_w: input col = ow*stride_w + col_off
  for (var j = 0u; j < 2u; j++) {
    t[j] = tile + j * WG + li;
    let tc = min(t[j], q.CRS_g - 1u);
    let c = tc / (q.R * q.S);
    let r = (tc / q.S) % q.R;
    let s = tc % q.S;
    plane[j] = (g * q.C_g + c) * q.H * q.W;
    row_off[j] = i32(r * q.dil_h) - i32(q.pad_h);
    col_off[j] = i32(s * q.dil_w) - i32(q.pad_w);
  }
  let slot = lane % 8u;                 // which 8 channels' gy this lane loads
  let ka = g * q.K_g + min(kb * 16u + slot, q.K_g - 1u);        // clamped: never stored
  let kc = g * q.K_g + min(kb * 16u + 8u + slot, q.K_g - 1u);

  let n_per = (q.N + splits - 1u) / splits;
  let n_end = min(q.N, (split + 1u) * n_per);
  var acc: array<vec2<f32>, 16>;        // acc[j] = dw[k0 + j, (tap 0, tap 1)]
  if (q.Q % 4u == 0u) {
    // Rows of whole quads (Q % 4 == 0; a constant test when specialised): a quad of pixels lies
    // in one output row, so the row test is made once per row and the 4 gy values of a channel
    // are one aligned vec4 load ((n*K + k)*PQ and pq are multiples of 4).
    for (var n = split * n_per; n < n_end; n++) {
      let xn = n * q.C * q.H * q.W;
      let gya = (n * q.K + ka) * q.PQ / 4u;
      let gyc = (n * q.K + kc) * q.PQ / 4u;
      for (var oh = 0u; oh < q.P; oh++) {
        var row_ok: array<bool, 2>;
        var row: array<u32, 2>;         // index of x[n, c, ih, 0] for each tap (0 when outside)
        for (var j = 0u; j < 2u; j++) {
          let ih = i32(oh * q.stride_h) + row_off[j];
          row_ok[j] = ih >= 0 && ih < i32(q.H);
          row[j] = select(0u, xn + plane[j] + u32(ih) * q.W, row_ok[j]);
        }
        for (var ow = 0u; ow < q.Q; ow += 4u) {
          var xm: mat4x2<f32>;          // xm[i] = (x for tap 0, x for tap 1) at pixel ow + i
          for (var i = 0u; i < 4u; i++) {
            let iw0 = i32((ow + i) * q.stride_w);
            for (var j = 0u; j < 2u; j++) {
              let iw = iw0 + col_off[j];
              let ok = row_ok[j] && iw >= 0 && iw < i32(q.W);
              xm[i][j] = select(0.0, x[select(0u, row[j] + u32(iw), ok)], ok);
            }
          }
          let pq4 = (oh * q.Q + ow) / 4u;
          accumulate(&acc, xm, gy4[gya + pq4], gy4[gyc + pq4]);
        }
      }
    }
  } else {
    for (var n = split * n_per; n < n_end; n++) {
      let xn = n * q.C * q.H * q.W;
      let gya = (n * q.K + ka) * q.PQ;
      let gyc = (n * q.K + kc) * q.PQ;
      var oh = 0u;                        // output position of pixel pq, kept incrementally
      var ow = 0u;
      for (var pq = 0u; pq < q.PQ; pq += 4u) {
        var xm: mat4x2<f32>;              // xm[i] = (x for tap 0, x for tap 1) at pixel pq + i
        for (var i = 0u; i < 4u; i++) {
          let live = pq + i < q.PQ;       // false in the tail of the last quad
          let ih0 = i32(oh * q.stride_h);
          let iw0 = i32(ow * q.stride_w);
          for (var j = 0u; j < 2u; j++) {
            let ih = ih0 + row_off[j];
            let iw = iw0 + col_off[j];
            let ok = live && ih >= 0 && ih < i32(q.H) && iw >= 0 && iw < i32(q.W);
            let xi = select(0u, xn + plane[j] + u32(ih) * q.W + u32(iw), ok);
            xm[i][j] = select(0.0, x[xi], ok);
          }
          ow += 1u;
          if (ow == q.Q) { ow = 0u; oh += 1u; }
        }
        let last = q.PQ - 1u;             // keep the tail's loads inside this image's plane
        let ga = vec4<f32>(gy[gya + pq], gy[gya + min(pq + 1u, last)],
                           gy[gya + min(pq + 2u, last)], gy[gya + min(pq + 3u, last)]);
        let gc = vec4<f32>(gy[gyc + pq], gy[gyc + min(pq + 1u, last)],
                           gy[gyc + min(pq + 2u, last)], gy[gyc + min(pq + 3u, last)]);
        // Tail pixels have x = 0 in xm, so the duplicated gy values there add nothing.
        accumulate(&acc, xm, ga, gc);
      }
    }
  }

  let out = split * q.K * q.CRS_g;
  for (var j = 0u; j < 2u; j++) {
    if (t[j] >= q.CRS_g) { break; }
    for (var i = 0u; i < 16u; i++) {
      let kk = kb * 16u + i;
      if (kk >= q.K_g) { break; }
      dw[out + (g * q.K_g + kk) * q.CRS_g + t[j]] = acc[i][j];
    }
  }
}
