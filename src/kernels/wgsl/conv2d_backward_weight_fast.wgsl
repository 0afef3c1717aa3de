// conv2d_backward_weight_fast.wgsl — gradient of conv2d w.r.t. its weights as an implicit GEMM
// reducing over N*P*Q, for adapters without subgroups. NCHW, f32.
// Same result as conv2d_backward_weight.wgsl (its oracle).
//
// Legend: N batch, C input channels, H x W input, K output channels, R x S kernel, P x Q output,
// G groups, C_g = C / G, K_g = K / G.
//   gy: (N, K, P, Q)   x: (N, C, H, W)   dw: (SPLITS, K, C_g, R, S)
//
// The structure of conv2d_backward_weight_fast_subgroup.wgsl (read its header: 16 output
// channels x 2 filter taps per invocation, 4 pixels per step, SPLITS over the images), except
// that every lane reads the gy values of all 16 channels itself (same address in every lane)
// instead of receiving them by subgroupBroadcast.
//
// Grid: x, y = tiles of WG*2 taps over C_g*R*S, z = (split, group, block of 16 channels).
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

override WG: u32 = 8;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let k_blocks = (p.K_g + 15u) / 16u;
  let kb = wid.z % k_blocks;            // block of 16 output channels (within the group)
  let g = (wid.z / k_blocks) % p.G;
  let splits = nwg.z / (k_blocks * p.G);   // ranges of images, summed by the launcher
  let split = wid.z / (k_blocks * p.G);
  let tile = (wid.x + wid.y * nwg.x) * WG * 2u;
  if (tile >= p.CRS_g) { return; }      // uniform: the whole workgroup is past the end

  // This lane's two filter taps t = (c, r, s): the x plane they read and their offsets.
  var t: array<u32, 2>;
  var plane: array<u32, 2>;             // (g*C_g + c) * H * W
  var row_off: array<i32, 2>;           // r*dil_h - pad_h: input row = oh*stride_h + row_off
  var col_off: array<i32, 2>;           // s*dil_w - pad_w: input col = ow*stride_w + col_off
  for (var j = 0u; j < 2u; j++) {
    t[j] = tile + j * WG + li;
    let tc = min(t[j], p.CRS_g - 1u);
    let c = tc / (p.R * p.S);
    let r = (tc / p.S) % p.R;
    let s = tc % p.S;
    plane[j] = (g * p.C_g + c) * p.H * p.W;
    row_off[j] = i32(r * p.dil_h) - i32(p.pad_h);
    col_off[j] = i32(s * p.dil_w) - i32(p.pad_w);
  }

  let n_per = (p.N + splits - 1u) / splits;
  let n_end = min(p.N, (split + 1u) * n_per);
  var acc: array<vec2<f32>, 16>;        // acc[j] = dw[k0 + j, (tap 0, tap 1)]
  for (var n = split * n_per; n < n_end; n++) {
    let xn = n * p.C * p.H * p.W;
    let gyn = (n * p.K + g * p.K_g) * p.PQ;
    var oh = 0u;                        // output position of pixel pq, kept incrementally
    var ow = 0u;
    for (var pq = 0u; pq < p.PQ; pq += 4u) {
      var xm: mat4x2<f32>;              // xm[i] = (x for tap 0, x for tap 1) at pixel pq + i
      for (var i = 0u; i < 4u; i++) {
        let live = pq + i < p.PQ;       // false in the tail of the last quad
        let ih0 = i32(oh * p.stride_h);
        let iw0 = i32(ow * p.stride_w);
        for (var j = 0u; j < 2u; j++) {
          let ih = ih0 + row_off[j];
          let iw = iw0 + col_off[j];
          let ok = live && ih >= 0 && ih < i32(p.H) && iw >= 0 && iw < i32(p.W);
          let xi = select(0u, xn + plane[j] + u32(ih) * p.W + u32(iw), ok);
          xm[i][j] = select(0.0, x[xi], ok);
        }
        ow += 1u;
        if (ow == p.Q) { ow = 0u; oh += 1u; }
      }
      let last = p.PQ - 1u;             // keep the tail's loads inside this image's plane
      let q = vec4<u32>(pq, min(pq + 1u, last), min(pq + 2u, last), min(pq + 3u, last));
      for (var j = 0u; j < 16u; j++) {
        // gy of channel k0 + j (clamped: channels past K_g are never stored) at the 4 pixels;
        // tail pixels have x = 0 in xm, so the duplicated values there add nothing.
        let row = gyn + min(kb * 16u + j, p.K_g - 1u) * p.PQ;
        let gj = vec4<f32>(gy[row + q.x], gy[row + q.y], gy[row + q.z], gy[row + q.w]);
        acc[j] += xm * gj;
      }
    }
  }

  let out = split * p.K * p.CRS_g;
  for (var j = 0u; j < 2u; j++) {
    if (t[j] >= p.CRS_g) { break; }
    for (var i = 0u; i < 16u; i++) {
      let kk = kb * 16u + i;
      if (kk >= p.K_g) { break; }
      dw[out + (g * p.K_g + kk) * p.CRS_g + t[j]] = acc[i][j];
    }
  }
}
