// conv2d_backward_input.wgsl — gradient of conv2d with respect to its input, NCHW, f32.
// The readable reference kernel: one invocation computes one element of dx (a gather, so no
// atomics and no zero-inserted copy of gy are needed for stride > 1).
//
// Legend as in conv2d_forward.wgsl: N batch, C input channels, H x W input, K output channels,
// R x S kernel, P x Q output, G groups, C_g = C / G, K_g = K / G.
//   gy: (N, K, P, Q)   w: (K, C_g, R, S)   dx: (N, C, H, W)
//
// Input pixel h was read by output row p through tap r when h = p*stride_h - pad_h + r*dil_h,
// i.e. p = (h + pad_h - r*dil_h) / stride_h when that division is exact and 0 <= p < P
// (likewise for w / q / s). So
//   dx[n, c, h, w] = sum_{k in group(c), r, s, exact taps} gy[n, k, p, q] * w[k, c mod C_g, r, s]
//
// Grid: x = input pixels (h, w) in workgroups of WG, y = c, z = n.
// The fast version is conv2d_backward_input_fast.wgsl; this one is its oracle.
// Reference: src/kernels/reference/conv2d.ts (conv2dBackwardInputRef). Launcher: src/kernels/conv2d.ts.

struct Conv2dParams {                 // packed by packConv2dParams(), same field order
  N: u32, C: u32, H: u32, W: u32,
  K: u32, R: u32, S: u32, G: u32,
  P: u32, Q: u32, stride_h: u32, stride_w: u32,
  pad_h: u32, pad_w: u32, dil_h: u32, dil_w: u32,
  C_g: u32, K_g: u32, CRS_g: u32, PQ: u32,
}

@group(0) @binding(0) var<storage, read>       gy: array<f32>;  // (N, K, P, Q)
@group(0) @binding(1) var<storage, read>       w: array<f32>;   // (K, C_g, R, S)
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;  // (N, C, H, W)
@group(0) @binding(3) var<uniform>             p: Conv2dParams;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let pixel = gid.x;                        // flattened (h, w)
  let c = gid.y;
  let n = gid.z;
  if (pixel >= p.H * p.W) { return; }
  let ih = i32(pixel / p.W);
  let iw = i32(pixel % p.W);
  let g = c / p.C_g;                        // this input channel's group
  let c_in_group = c % p.C_g;

  var acc = 0.0;
  for (var kk = 0u; kk < p.K_g; kk++) {
    let k = g * p.K_g + kk;
    for (var r = 0u; r < p.R; r++) {
      let ph = ih + i32(p.pad_h) - i32(r * p.dil_h);     // = p * stride_h if tap r hit row ih
      if (ph < 0 || ph % i32(p.stride_h) != 0) { continue; }
      let oh = u32(ph) / p.stride_h;
      if (oh >= p.P) { continue; }
      for (var s = 0u; s < p.S; s++) {
        let qw = iw + i32(p.pad_w) - i32(s * p.dil_w);
        if (qw < 0 || qw % i32(p.stride_w) != 0) { continue; }
        let ow = u32(qw) / p.stride_w;
        if (ow >= p.Q) { continue; }
        let gi = ((n * p.K + k) * p.P + oh) * p.Q + ow;
        let wi = ((k * p.C_g + c_in_group) * p.R + r) * p.S + s;
        acc += gy[gi] * w[wi];
      }
    }
  }
  dx[(n * p.C + c) * p.H * p.W + pixel] = acc;
}
