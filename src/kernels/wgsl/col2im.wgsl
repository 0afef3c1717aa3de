// col2im.wgsl — fold columns back into an image, summing overlaps ("col2im", the adjoint of
// im2col.wgsl): the second half of a convolution's input gradient computed as a GEMM.
//   cols: (N, T, P*Q)    cols[n, t, p] for t = (c, r, s) < T = C*R*S, p = (oh, ow): what tap
//                        (r, s) of output pixel (oh, ow) sends back to its input pixel
//   dx:   (N, C, H, W)   dx[n, c, ih, iw] = sum of cols[n, (c, r, s), (oh, ow)] over the taps with
//                        ih = oh*SH - PH + r, iw = ow*SW - PW + s   (dilation 1)
// With cols = w^T @ gy (per image) this is the input gradient: dx = col2im(w^T gy). Used for the
// channel-poor ImageNet stem (3 channels, 7x7, stride 2), whose phase-class kernel wastes 13 of
// 16 channel lanes (the gradient a saliency map or an adversarial example needs).
//
// A gather, one invocation per dx element, deterministic: output rows that can reach ih are
// oh = ceil((ih + PH - R + 1) / SH) .. floor((ih + PH) / SH), at most CH = ceil(R / SH) of them
// (CW likewise); the candidate loops run CH x CW times (pipeline constants) in a fixed order,
// masked candidates read a clamped address and add 0. For a 7x7 window at stride 2: 16
// candidates, ~12 of them real, instead of scanning all 49 taps.
// The geometry is in pipeline constants (a division by a runtime value is done lane by lane on a
// CPU adapter). Launcher: conv2dBackwardInputCol2im() in src/kernels/conv2d.ts.
// Bindings: 0 cols (read), 1 dx (write), 2 params.

struct Col2imParams {    // packed by conv2dBackwardInputCol2im()
  N: u32,
}

@group(0) @binding(0) var<storage, read>       cols: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<uniform>             p: Col2imParams;

override WG: u32 = 256u;
override C: u32 = 1u;
override H: u32 = 1u;
override W: u32 = 1u;
override R: u32 = 1u;
override S: u32 = 1u;
override SH: u32 = 1u;
override SW: u32 = 1u;
override PH: u32 = 0u;
override PW: u32 = 0u;
override P: u32 = 1u;
override Q: u32 = 1u;
override CH: u32 = (R + SH - 1u) / SH;   // candidate output rows per input row (derived)
override CW: u32 = (S + SW - 1u) / SW;

// floor(a / b) for b > 0 (WGSL's integer division truncates towards zero).
fn floor_div(a: i32, b: i32) -> i32 {
  return select(a / b, -((b - 1 - a) / b), a < 0);
}

// First output position whose window reaches `pos`: ceil((pos + pad - k + 1) / stride); may be
// negative (such candidates are masked).
fn first_output(pos: u32, pad: u32, k: u32, stride: u32) -> i32 {
  return floor_div(i32(pos + pad + stride) - i32(k), i32(stride));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N * C * H * W) { return; }
  let iw = i % W;
  let ih = (i / W) % H;
  let c = (i / (W * H)) % C;
  let n = i / (W * H * C);
  let oh0 = first_output(ih, PH, R, SH);
  let ow0 = first_output(iw, PW, S, SW);
  let T = C * R * S;
  var acc = 0.0;
  for (var a = 0u; a < CH; a++) {
    let oh = oh0 + i32(a);
    let r = i32(ih + PH) - oh * i32(SH);     // the tap of output row oh that lands on ih
    let row_ok = oh >= 0 && oh < i32(P) && r >= 0 && r < i32(R);
    for (var b = 0u; b < CW; b++) {
      let ow = ow0 + i32(b);
      let s = i32(iw + PW) - ow * i32(SW);
      let ok = row_ok && ow >= 0 && ow < i32(Q) && s >= 0 && s < i32(S);
      let t = (c * R + u32(r)) * S + u32(s);
      let at = (n * T + t) * P * Q + u32(oh) * Q + u32(ow);
      acc += select(0.0, cols[select(0u, at, ok)], ok);
    }
  }
  dx[i] = acc;
}
