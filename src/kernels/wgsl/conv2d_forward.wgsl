// conv2d_forward.wgsl — 2D convolution, NCHW, f32, the readable reference kernel.
// One invocation computes one output element.
//
// Legend: N batch, C input channels, H x W input size, K output channels, R x S kernel size,
// P x Q output size, G groups (C_g = C / G input and K_g = K / G output channels per group).
//   x: (N, C, H, W)   w: (K, C_g, R, S)   b: (K)   y: (N, K, P, Q)
//
//   y[n, k, p, q] = b[k] + sum_{c < C_g, r < R, s < S} x[n, g*C_g + c, h, w'] * w[k, c, r, s]
//     where g = k / K_g, h = p*stride_h - pad_h + r*dil_h, w' = q*stride_w - pad_w + s*dil_w,
//     and taps with h or w' outside the input read zero (zero padding).
//
// Grid: x = output pixels (p, q) in workgroups of WG, y = k, z = n.
// The fast version is conv2d_forward_fast.wgsl (implicit GEMM); this one is its oracle.
// Reference: src/kernels/reference/conv2d.ts (conv2dForwardRef). Launcher: src/kernels/conv2d.ts.

struct Conv2dParams {                 // packed by packConv2dParams(), same field order
  N: u32, C: u32, H: u32, W: u32,
  K: u32, R: u32, S: u32, G: u32,
  P: u32, Q: u32, stride_h: u32, stride_w: u32,
  pad_h: u32, pad_w: u32, dil_h: u32, dil_w: u32,
  C_g: u32, K_g: u32, CRS_g: u32, PQ: u32,
}

@group(0) @binding(0) var<storage, read>       x: array<f32>;   // (N, C, H, W)
@group(0) @binding(1) var<storage, read>       w: array<f32>;   // (K, C_g, R, S)
@group(0) @binding(2) var<storage, read>       b: array<f32>;   // (K); unused when HAS_BIAS is false
@group(0) @binding(3) var<storage, read_write> y: array<f32>;   // (N, K, P, Q)
@group(0) @binding(4) var<uniform>             p: Conv2dParams;

override WG: u32 = 64;
override HAS_BIAS: bool = true;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let pixel = gid.x;                        // flattened (oh, ow)
  let k = gid.y;
  let n = gid.z;
  if (pixel >= p.PQ) { return; }            // the grid is rounded up to a multiple of WG
  let oh = pixel / p.Q;
  let ow = pixel % p.Q;
  let g = k / p.K_g;                        // this output channel's group

  var acc = 0.0;
  if (HAS_BIAS) { acc = b[k]; }
  for (var c = 0u; c < p.C_g; c++) {
    let x_plane = (n * p.C + g * p.C_g + c) * p.H * p.W;
    for (var r = 0u; r < p.R; r++) {
      // input row for this kernel tap; signed because padding can push it above row 0
      let ih = i32(oh * p.stride_h + r * p.dil_h) - i32(p.pad_h);
      if (ih < 0 || ih >= i32(p.H)) { continue; }   // zero padding: skip the tap
      for (var s = 0u; s < p.S; s++) {
        let iw = i32(ow * p.stride_w + s * p.dil_w) - i32(p.pad_w);
        if (iw < 0 || iw >= i32(p.W)) { continue; }
        let xi = x_plane + u32(ih) * p.W + u32(iw);
        let wi = ((k * p.C_g + c) * p.R + r) * p.S + s;
        acc += x[xi] * w[wi];
      }
    }
  }
  y[(n * p.K + k) * p.PQ + pixel] = acc;
}
