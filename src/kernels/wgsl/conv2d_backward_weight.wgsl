// conv2d_backward_weight.wgsl — gradient of conv2d with respect to its weights, NCHW, f32.
// The readable reference kernel: one invocation computes one element of dw by a sequential
// sum over every output position that used it.
//
// Legend as in conv2d_forward.wgsl: N batch, C input channels, H x W input, K output channels,
// R x S kernel, P x Q output, G groups, C_g = C / G, K_g = K / G.
//   gy: (N, K, P, Q)   x: (N, C, H, W)   dw: (K, C_g, R, S)
//
//   dw[k, c, r, s] = sum_{n, p, q} gy[n, k, p, q] * x[n, g*C_g + c, p*stride_h - pad_h + r*dil_h,
//                                                      q*stride_w - pad_w + s*dil_w]
//   with g = k / K_g and out-of-range input positions reading zero.
//
// Grid: x = flattened (c, r, s) in workgroups of WG, y = k.
// The fast version is conv2d_backward_weight_fast.wgsl; this one is its oracle.
// Reference: src/kernels/reference/conv2d.ts (conv2dBackwardWeightRef). Launcher: src/kernels/conv2d.ts.

struct Conv2dParams {                 // packed by packConv2dParams(), same field order
  N: u32, C: u32, H: u32, W: u32,
  K: u32, R: u32, S: u32, G: u32,
  P: u32, Q: u32, stride_h: u32, stride_w: u32,
  pad_h: u32, pad_w: u32, dil_h: u32, dil_w: u32,
  C_g: u32, K_g: u32, CRS_g: u32, PQ: u32,
}

@group(0) @binding(0) var<storage, read>       gy: array<f32>;  // (N, K, P, Q)
@group(0) @binding(1) var<storage, read>       x: array<f32>;   // (N, C, H, W)
@group(0) @binding(2) var<storage, read_write> dw: array<f32>;  // (K, C_g, R, S)
@group(0) @binding(3) var<uniform>             p: Conv2dParams;

override WG: u32 = 64;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let crs = gid.x;                          // flattened (c, r, s) within the group
  let k = gid.y;
  if (crs >= p.CRS_g) { return; }
  let c = crs / (p.R * p.S);
  let r = (crs / p.S) % p.R;
  let s = crs % p.S;
  let g = k / p.K_g;

  var acc = 0.0;
  for (var n = 0u; n < p.N; n++) {
    let x_plane = (n * p.C + g * p.C_g + c) * p.H * p.W;
    let gy_plane = (n * p.K + k) * p.PQ;
    for (var oh = 0u; oh < p.P; oh++) {
      let ih = i32(oh * p.stride_h + r * p.dil_h) - i32(p.pad_h);
      if (ih < 0 || ih >= i32(p.H)) { continue; }
      for (var ow = 0u; ow < p.Q; ow++) {
        let iw = i32(ow * p.stride_w + s * p.dil_w) - i32(p.pad_w);
        if (iw < 0 || iw >= i32(p.W)) { continue; }
        acc += gy[gy_plane + oh * p.Q + ow] * x[x_plane + u32(ih) * p.W + u32(iw)];
      }
    }
  }
  dw[k * p.CRS_g + crs] = acc;
}
