// conv2d_forward_fast_subgroup.wgsl — conv2d forward as an implicit GEMM, weights shared
// across subgroup lanes. NCHW, f32. Same result as conv2d_forward.wgsl (its oracle).
enable subgroups;
//
// Legend: N batch, C input channels, H x W input, K output channels, R x S kernel, P x Q output,
// G groups, C_g = C / G, K_g = K / G.
//   x: (N, C, H, W)   wp: packed weights, see conv2d_pack_weights.wgsl (TRANSPOSED = false,
//                         QUADS_PER_TAP as here)
//   b: (K)            y: (N, K, P, Q)
//
// As a GEMM: y[k, pixel] = sum_t w[k, t] * im2col[t, pixel], with pixel = (n, p, q) and
// t = (r, s, c). im2col is never stored: each x value is gathered where it is needed.
//
// Work per invocation: 16 output channels x 2 pixels (32 accumulators). The 16 channels are
// the same for the whole workgroup; the pixels differ per lane. For every 4 elements of the
// reduction (4 input channels of one kernel tap), a lane
//   - gathers 4 x 2 values of x (its 2 pixels, 4 channels) into a mat4x2,
//   - loads ONE vec4 of weights per group of 8 channels: lane i holds channel i's 4 weights,
//   - gets the other lanes' weight vec4s with subgroupBroadcast (a register shuffle, no load),
//   - does 16 x 2 x 4 multiply-adds: acc[j] += xm * w_j.
// On llvmpipe a per-lane load is the expensive operation (lanes are SIMD elements of one CPU
// thread, and every load is a bounds-checked gather); sharing weight loads across the subgroup
// is what makes this ~3-4x faster than one output per invocation (shared/docs/lavapipe.md).
// Requires a subgroup size of at least 8 (lanes 0..7 hold the 8 weight vectors of a block).
//
// Two walks over t, chosen by QUADS_PER_TAP (the launcher sets it when C_g % 4 == 0):
//   true   quads of 4 channels within one tap: whether a pixel's tap falls into the padding is
//          decided once per tap, outside the channel loop (the common case, C = 16, 64, ...).
//   false  quads over the flattened (r, s, c) with the padding test per element, so that a
//          first layer with C_g = 3 does not pad every tap to 4 channels (a quarter wasted).
//
// Zero padding: a tap outside the input reads address 0 and is replaced by 0 with select().
// Grid: x, y = tiles of WG*2 pixels over N*P*Q (y spills when x would pass 65535),
//       z = (group, block of 16 output channels).
// Fallback without subgroups: conv2d_forward_fast.wgsl. Launcher: src/kernels/conv2d.ts.

struct Conv2dParams {                 // packed by packConv2dParams(), same field order
  N: u32, C: u32, H: u32, W: u32,
  K: u32, R: u32, S: u32, G: u32,
  P: u32, Q: u32, stride_h: u32, stride_w: u32,
  pad_h: u32, pad_w: u32, dil_h: u32, dil_w: u32,
  C_g: u32, K_g: u32, CRS_g: u32, PQ: u32,
}

@group(0) @binding(0) var<storage, read>       x: array<f32>;         // (N, C, H, W)
@group(0) @binding(1) var<storage, read>       wp: array<vec4<f32>>;  // (G, K_g/16, T/4, 16)
@group(0) @binding(2) var<storage, read>       b: array<f32>;         // (K); unused without bias
@group(0) @binding(3) var<storage, read_write> y: array<f32>;         // (N, K, P, Q)
@group(0) @binding(4) var<uniform>             p: Conv2dParams;

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
override HAS_BIAS: bool = true;
override QUADS_PER_TAP: bool = true;

// acc[j] += xm * (weights of channel k0 + j for the 4 reduction elements of xm). The 16 weight
// vec4s are wp[wi .. wi + 16) of the current quad; lane i (i < 8) reads vectors i and 8 + i and
// every lane receives all 16 by subgroupBroadcast: two loads per lane instead of sixteen.
fn accumulate(acc: ptr<function, array<vec2<f32>, 16>>, xm: mat4x2<f32>, wi: u32) {
  let wa = wp[wi];                      // channel k0 + lane     (lanes 0..7 matter)
  let wb = wp[wi + 8u];                 // channel k0 + 8 + lane
  (*acc)[0] += xm * subgroupBroadcast(wa, 0u);
  (*acc)[1] += xm * subgroupBroadcast(wa, 1u);
  (*acc)[2] += xm * subgroupBroadcast(wa, 2u);
  (*acc)[3] += xm * subgroupBroadcast(wa, 3u);
  (*acc)[4] += xm * subgroupBroadcast(wa, 4u);
  (*acc)[5] += xm * subgroupBroadcast(wa, 5u);
  (*acc)[6] += xm * subgroupBroadcast(wa, 6u);
  (*acc)[7] += xm * subgroupBroadcast(wa, 7u);
  (*acc)[8] += xm * subgroupBroadcast(wb, 0u);
  (*acc)[9] += xm * subgroupBroadcast(wb, 1u);
  (*acc)[10] += xm * subgroupBroadcast(wb, 2u);
  (*acc)[11] += xm * subgroupBroadcast(wb, 3u);
  (*acc)[12] += xm * subgroupBroadcast(wb, 4u);
  (*acc)[13] += xm * subgroupBroadcast(wb, 5u);
  (*acc)[14] += xm * subgroupBroadcast(wb, 6u);
  (*acc)[15] += xm * subgroupBroadcast(wb, 7u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let q = geometry();
  let k_blocks = (q.K_g + 15u) / 16u;
  let kb = wid.z % k_blocks;            // block of 16 output channels (within the group)
  let g = wid.z / k_blocks;
  let total = q.N * q.PQ;
  let tile = (wid.x + wid.y * nwg.x) * WG * 2u;
  if (tile >= total) { return; }        // whole workgroup past the end (y spill rounding)

  // This lane's two pixels, and where their receptive fields start in x.
  var pix: array<u32, 2>;
  var ih0: array<i32, 2>;               // top-left input row/col of the receptive field
  var iw0: array<i32, 2>;
  var base: array<i32, 2>;              // index of x[n, g*C_g, ih0, iw0] (may lie outside)
  for (var j = 0u; j < 2u; j++) {
    pix[j] = tile + j * WG + li;
    let pc = min(pix[j], total - 1u);   // clamp the tail; its results are not stored
    let n = pc / q.PQ;
    let oh = (pc % q.PQ) / q.Q;
    let ow = pc % q.Q;
    ih0[j] = i32(oh * q.stride_h) - i32(q.pad_h);
    iw0[j] = i32(ow * q.stride_w) - i32(q.pad_w);
    base[j] = i32((n * q.C + g * q.C_g) * q.H * q.W) + ih0[j] * i32(q.W) + iw0[j];
  }
  let HW = q.H * q.W;
  let slot = lane % 8u;                 // which of 8 weight vectors this lane loads
  let t_quads = (q.R * q.S * select(q.C_g, (q.C_g + 3u) / 4u * 4u, QUADS_PER_TAP) + 3u) / 4u;
  var wi = (g * k_blocks + kb) * t_quads * 16u + slot;

  var acc: array<vec2<f32>, 16>;        // acc[j] = y[k0 + j, (pixel 0, pixel 1)]
  if (QUADS_PER_TAP) {
    for (var r = 0u; r < q.R; r++) {
      for (var s = 0u; s < q.S; s++) {
        // Per tap: which of the two pixels read inside the image, and from where.
        let tap = i32(r * q.dil_h) * i32(q.W) + i32(s * q.dil_w);
        var ok: array<bool, 2>;
        var off: array<u32, 2>;
        for (var j = 0u; j < 2u; j++) {
          let ih = ih0[j] + i32(r * q.dil_h);
          let iw = iw0[j] + i32(s * q.dil_w);
          ok[j] = ih >= 0 && ih < i32(q.H) && iw >= 0 && iw < i32(q.W);
          off[j] = u32(select(0, base[j] + tap, ok[j]));
        }
        for (var c = 0u; c < q.C_g; c += 4u) {
          // xm[i] = (x at pixel 0, x at pixel 1) for input channel c + i
          var xm: mat4x2<f32>;
          for (var i = 0u; i < 4u; i++) {
            let ci = (c + i) * HW;
            xm[i] = vec2<f32>(select(0.0, x[off[0] + ci], ok[0]), select(0.0, x[off[1] + ci], ok[1]));
          }
          accumulate(&acc, xm, wi);
          wi += 16u;
        }
      }
    }
  } else {
    var c = 0u;                         // the next reduction element t = (r, s, c)
    var s = 0u;
    var r = 0u;
    for (var tq = 0u; tq < t_quads; tq++) {
      var xm: mat4x2<f32>;
      for (var i = 0u; i < 4u; i++) {
        let live = r < q.R;             // false past the end, in the last quad
        let dh = i32(r * q.dil_h);
        let dw = i32(s * q.dil_w);
        let tap = i32(c * HW) + dh * i32(q.W) + dw;
        for (var j = 0u; j < 2u; j++) {
          let ih = ih0[j] + dh;
          let iw = iw0[j] + dw;
          let ok = live && ih >= 0 && ih < i32(q.H) && iw >= 0 && iw < i32(q.W);
          xm[i][j] = select(0.0, x[u32(select(0, base[j] + tap, ok))], ok);
        }
        c += 1u;
        if (c == q.C_g) { c = 0u; s += 1u; if (s == q.S) { s = 0u; r += 1u; } }
      }
      accumulate(&acc, xm, wi);
      wi += 16u;
    }
  }

  for (var j = 0u; j < 2u; j++) {
    if (pix[j] >= total) { break; }
    let n = pix[j] / q.PQ;
    let pq = pix[j] % q.PQ;
    for (var i = 0u; i < 16u; i++) {
      let kk = kb * 16u + i;
      if (kk >= q.K_g) { break; }
      let k = g * q.K_g + kk;
      var v = acc[i][j];
      if (HAS_BIAS) { v += b[k]; }
      y[(n * q.K + k) * q.PQ + pq] = v;
    }
  }
}
