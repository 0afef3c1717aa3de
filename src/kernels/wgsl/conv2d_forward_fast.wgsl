// conv2d_forward_fast.wgsl — conv2d forward as an implicit GEMM with register blocking, for
// adapters without subgroups. NCHW, f32. Same result as conv2d_forward.wgsl (its oracle).
//
// Legend: N batch, C input channels, H x W input, K output channels, R x S kernel, P x Q output,
// G groups, C_g = C / G, K_g = K / G.
//   x: (N, C, H, W)   wp: packed weights, see conv2d_pack_weights.wgsl (TRANSPOSED = false,
//                         QUADS_PER_TAP as here)
//   b: (K)            y: (N, K, P, Q)
//
// The structure of conv2d_forward_fast_subgroup.wgsl (read its header: 16 output channels x 2
// pixels per invocation, the two walks over the reduction chosen by QUADS_PER_TAP), except in
// accumulate(): every lane reads all 16 weight vec4s itself. Their address is the same in every
// lane, which llvmpipe turns into one scalar load plus a broadcast, but that still costs several
// times the subgroupBroadcast of the subgroup version (shared/docs/lavapipe.md: ~17% vs ~50% of
// the FMA ceiling). Each x value is still reused 16 times from a register.
//
// Grid: x, y = tiles of WG*2 pixels over N*P*Q (y spills when x would pass 65535),
//       z = (group, block of 16 output channels).
// Launcher: src/kernels/conv2d.ts.

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

override WG: u32 = 8;
override HAS_BIAS: bool = true;
override QUADS_PER_TAP: bool = true;

// acc[j] += xm * (weights of channel k0 + j for the 4 reduction elements of xm): the 16 weight
// vec4s wp[wi .. wi + 16) of the current quad, read by every lane.
fn accumulate(acc: ptr<function, array<vec2<f32>, 16>>, xm: mat4x2<f32>, wi: u32) {
  for (var j = 0u; j < 16u; j++) {
    (*acc)[j] += xm * wp[wi + j];
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let k_blocks = (p.K_g + 15u) / 16u;
  let kb = wid.z % k_blocks;            // block of 16 output channels (within the group)
  let g = wid.z / k_blocks;
  let total = p.N * p.PQ;
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
    let n = pc / p.PQ;
    let oh = (pc % p.PQ) / p.Q;
    let ow = pc % p.Q;
    ih0[j] = i32(oh * p.stride_h) - i32(p.pad_h);
    iw0[j] = i32(ow * p.stride_w) - i32(p.pad_w);
    base[j] = i32((n * p.C + g * p.C_g) * p.H * p.W) + ih0[j] * i32(p.W) + iw0[j];
  }
  let HW = p.H * p.W;
  let t_quads = (p.R * p.S * select(p.C_g, (p.C_g + 3u) / 4u * 4u, QUADS_PER_TAP) + 3u) / 4u;
  var wi = (g * k_blocks + kb) * t_quads * 16u;

  var acc: array<vec2<f32>, 16>;        // acc[j] = y[k0 + j, (pixel 0, pixel 1)]
  if (QUADS_PER_TAP) {
    for (var r = 0u; r < p.R; r++) {
      for (var s = 0u; s < p.S; s++) {
        // Per tap: which of the two pixels read inside the image, and from where.
        let tap = i32(r * p.dil_h) * i32(p.W) + i32(s * p.dil_w);
        var ok: array<bool, 2>;
        var off: array<u32, 2>;
        for (var j = 0u; j < 2u; j++) {
          let ih = ih0[j] + i32(r * p.dil_h);
          let iw = iw0[j] + i32(s * p.dil_w);
          ok[j] = ih >= 0 && ih < i32(p.H) && iw >= 0 && iw < i32(p.W);
          off[j] = u32(select(0, base[j] + tap, ok[j]));
        }
        for (var c = 0u; c < p.C_g; c += 4u) {
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
        let live = r < p.R;             // false past the end, in the last quad
        let dh = i32(r * p.dil_h);
        let dw = i32(s * p.dil_w);
        let tap = i32(c * HW) + dh * i32(p.W) + dw;
        for (var j = 0u; j < 2u; j++) {
          let ih = ih0[j] + dh;
          let iw = iw0[j] + dw;
          let ok = live && ih >= 0 && ih < i32(p.H) && iw >= 0 && iw < i32(p.W);
          xm[i][j] = select(0.0, x[u32(select(0, base[j] + tap, ok))], ok);
        }
        c += 1u;
        if (c == p.C_g) { c = 0u; s += 1u; if (s == p.S) { s = 0u; r += 1u; } }
      }
      accumulate(&acc, xm, wi);
      wi += 16u;
    }
  }

  for (var j = 0u; j < 2u; j++) {
    if (pix[j] >= total) { break; }
    let n = pix[j] / p.PQ;
    let pq = pix[j] % p.PQ;
    for (var i = 0u; i < 16u; i++) {
      let kk = kb * 16u + i;
      if (kk >= p.K_g) { break; }
      let k = g * p.K_g + kk;
      var v = acc[i][j];
      if (HAS_BIAS) { v += b[k]; }
      y[(n * p.K + k) * p.PQ + pq] = v;
    }
  }
}
