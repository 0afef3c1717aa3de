// conv2d_backward_input_fast_subgroup.wgsl — gradient of conv2d w.r.t. its input as an
// implicit GEMM, weights shared across subgroup lanes. NCHW, f32.
// Same result as conv2d_backward_input.wgsl (its oracle).
enable subgroups;
//
// Legend: N batch, C input channels, H x W input, K output channels, R x S kernel, P x Q output,
// G groups, C_g = C / G, K_g = K / G.
//   gy: (N, K, P, Q)   wp: packed weights, see conv2d_pack_weights.wgsl (TRANSPOSED = true,
//                          QUADS_PER_TAP = true)
//   dx: (N, C, H, W)
//
// Input pixel h was read by output row p through tap r when h = p*stride_h - pad_h + r*dil_h.
// As a GEMM: dx[c, pixel] = sum_{k, r, s} w[k, c, r, s] * gy[k, p(h, r), q(w, s)], the terms
// with no exact (p, q) being zero. It is the forward kernel's structure (16 channels of dx x 2
// pixels per invocation, weight vec4s shared with subgroupBroadcast) with gy gathered instead
// of x — no transposed or zero-inserted copy of anything is made.
//
// Strides: with stride 2 only one tap in four hits a given pixel, and which ones depends only
// on (h mod stride_h, w mod stride_w). So pixels are processed in these "phase" classes, one
// class per workgroup: a tap that misses the class is skipped as a whole (a uniform branch),
// and no multiply-add is spent on the zeros that a zero-inserted gy would contain.
//
// Grid: x, y = tiles of WG*2 pixels of one phase class (sized for the largest class);
//       z = (group, block of 16 input channels, phase class). Requires subgroup size >= 8.
// Fallback without subgroups: conv2d_backward_input_fast.wgsl. Launcher: src/kernels/conv2d.ts.

struct Conv2dParams {                 // packed by packConv2dParams(), same field order
  N: u32, C: u32, H: u32, W: u32,
  K: u32, R: u32, S: u32, G: u32,
  P: u32, Q: u32, stride_h: u32, stride_w: u32,
  pad_h: u32, pad_w: u32, dil_h: u32, dil_w: u32,
  C_g: u32, K_g: u32, CRS_g: u32, PQ: u32,
}

@group(0) @binding(0) var<storage, read>       gy: array<f32>;        // (N, K, P, Q)
@group(0) @binding(1) var<storage, read>       wp: array<vec4<f32>>;  // (G, C_g/16, R, S, K_g/4, 16)
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;        // (N, C, H, W)
@group(0) @binding(3) var<uniform>             p: Conv2dParams;

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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) lane: u32) {
  let q = geometry();
  let c_blocks = (q.C_g + 15u) / 16u;
  let phases = q.stride_h * q.stride_w;
  let phase = wid.z % phases;
  let cb = (wid.z / phases) % c_blocks;  // block of 16 input channels (within the group)
  let g = wid.z / (phases * c_blocks);
  // This phase class: rows h = ph + i*stride_h (i < Hc), columns w = pw + j*stride_w (j < Wc).
  let ph = phase / q.stride_w;
  let pw = phase % q.stride_w;
  let Hc = (q.H + q.stride_h - 1u - ph) / q.stride_h;
  let Wc = (q.W + q.stride_w - 1u - pw) / q.stride_w;
  let total = q.N * Hc * Wc;
  let tile = (wid.x + wid.y * nwg.x) * WG * 2u;
  if (tile >= total) { return; }        // uniform: the whole workgroup is past its class

  var pix: array<u32, 2>;               // index within the class, to store the result
  var n: array<u32, 2>;
  var h: array<i32, 2>;
  var w: array<i32, 2>;
  for (var j = 0u; j < 2u; j++) {
    pix[j] = tile + j * WG + li;
    let pc = min(pix[j], total - 1u);
    n[j] = pc / (Hc * Wc);
    h[j] = i32(ph + ((pc / Wc) % Hc) * q.stride_h);
    w[j] = i32(pw + (pc % Wc) * q.stride_w);
  }
  let k_quads = (q.K_g + 3u) / 4u;
  let slot = lane % 8u;                 // which of 8 weight vectors this lane loads

  var acc: array<vec2<f32>, 16>;        // acc[j] = dx[c0 + j, (pixel 0, pixel 1)]
  for (var r = 0u; r < q.R; r++) {
    // Does tap r reach rows of this class at all? (h + pad_h - r*dil_h) must divide by stride_h.
    let oh_num = i32(ph + q.pad_h) - i32(r * q.dil_h);
    if (((oh_num % i32(q.stride_h)) + i32(q.stride_h)) % i32(q.stride_h) != 0) { continue; }
    for (var s = 0u; s < q.S; s++) {
      let ow_num = i32(pw + q.pad_w) - i32(s * q.dil_w);
      if (((ow_num % i32(q.stride_w)) + i32(q.stride_w)) % i32(q.stride_w) != 0) { continue; }
      // The output position (oh, ow) each pixel takes through this tap, if inside gy.
      var ok: array<bool, 2>;
      var off: array<u32, 2>;
      for (var j = 0u; j < 2u; j++) {
        let num_h = h[j] + i32(q.pad_h) - i32(r * q.dil_h);   // = oh * stride_h, exactly
        let num_w = w[j] + i32(q.pad_w) - i32(s * q.dil_w);
        let oh = num_h / i32(q.stride_h);
        let ow = num_w / i32(q.stride_w);
        ok[j] = num_h >= 0 && oh < i32(q.P) && num_w >= 0 && ow < i32(q.Q);
        off[j] = select(0u, (n[j] * q.K + g * q.K_g) * q.PQ + u32(oh) * q.Q + u32(ow), ok[j]);
      }
      var wi = ((g * c_blocks + cb) * q.R * q.S + r * q.S + s) * k_quads * 16u + slot;
      for (var k = 0u; k < q.K_g; k += 4u) {
        // gm[i] = (gy at pixel 0, gy at pixel 1) for output channel k + i (0 past K_g)
        var gm: mat4x2<f32>;
        for (var i = 0u; i < 4u; i++) {
          let ki = (k + i) * q.PQ;
          let live = k + i < q.K_g;
          gm[i] = vec2<f32>(select(0.0, gy[off[0] + ki], ok[0] && live),
                            select(0.0, gy[off[1] + ki], ok[1] && live));
        }
        let wa = wp[wi];                // input channels c0 + slot      (lanes 0..7 matter)
        let wb = wp[wi + 8u];           // input channels c0 + 8 + slot
        wi += 16u;
        acc[0] += gm * subgroupBroadcast(wa, 0u);
        acc[1] += gm * subgroupBroadcast(wa, 1u);
        acc[2] += gm * subgroupBroadcast(wa, 2u);
        acc[3] += gm * subgroupBroadcast(wa, 3u);
        acc[4] += gm * subgroupBroadcast(wa, 4u);
        acc[5] += gm * subgroupBroadcast(wa, 5u);
        acc[6] += gm * subgroupBroadcast(wa, 6u);
        acc[7] += gm * subgroupBroadcast(wa, 7u);
        acc[8] += gm * subgroupBroadcast(wb, 0u);
        acc[9] += gm * subgroupBroadcast(wb, 1u);
        acc[10] += gm * subgroupBroadcast(wb, 2u);
        acc[11] += gm * subgroupBroadcast(wb, 3u);
        acc[12] += gm * subgroupBroadcast(wb, 4u);
        acc[13] += gm * subgroupBroadcast(wb, 5u);
        acc[14] += gm * subgroupBroadcast(wb, 6u);
        acc[15] += gm * subgroupBroadcast(wb, 7u);
      }
    }
  }

  let HW = q.H * q.W;
  for (var j = 0u; j < 2u; j++) {
    if (pix[j] >= total) { break; }
    let pixel = u32(h[j]) * q.W + u32(w[j]);
    for (var i = 0u; i < 16u; i++) {
      let cc = cb * 16u + i;
      if (cc >= q.C_g) { break; }
      dx[(n[j] * q.C + g * q.C_g + cc) * HW + pixel] = acc[i][j];
    }
  }
}
