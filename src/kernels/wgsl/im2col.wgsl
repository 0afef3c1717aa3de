// im2col.wgsl — unfold the input of a convolution into columns ("im2col"), so that the
// convolution becomes one GEMM per image: y[n] (K x PQ) = w (K x T) @ cols[n] (T x PQ).
//   x:    (N, C, H, W)
//   cols: (N, T4, P*Q)   cols[n, t, p] = x[n, c, ih, iw] for t = (c, r, s) < T = C*R*S and
//                        p = (oh, ow), ih = oh*SH - PH + r*DH, iw = ow*SW - PW + s*DW;
//                        0 where (ih, iw) is in the padding and in the rows t >= T that pad T to
//                        T4 = a multiple of 4 (the GEMM reads 4 rows of the reduction at a time).
// Used for the channel-poor first layer of the ImageNet ResNets (3 channels, 7x7, stride 2): with
// T = 147 its implicit-GEMM kernels waste most lanes, while the cols buffer is only ~T/(SH*SW)
// times x and the subgroup GEMM runs at its usual rate. Not used where the direct kernels win
// (large C: the cols buffer would be R*S times the input).
// `main`: one invocation writes one element of cols. `main_vec4` (when Q % 4 == 0): one
// invocation writes 4 neighbouring pixels of one output row as a vec4 of cols, so the index arithmetic and
// the store happen once per 4 values (the 7x7 stem's cols are ~60 MB at batch 8, and one element
// per invocation took half as long as the GEMM that reads them; 4 per invocation ~1/4 of that).
// The geometry is in pipeline constants: the index arithmetic divides by them, and on a CPU
// adapter a division by a runtime value is done lane by lane.
// Launcher: conv2dForwardIm2col() in src/kernels/conv2d.ts.

struct Im2colParams {    // packed by conv2dForwardIm2col()
  N: u32,
}

@group(0) @binding(0) var<storage, read>       x: array<f32>;
@group(0) @binding(1) var<storage, read_write> cols: array<f32>;
@group(0) @binding(1) var<storage, read_write> cols4: array<vec4<f32>>;
@group(0) @binding(2) var<uniform>             p: Im2colParams;

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
override DH: u32 = 1u;
override DW: u32 = 1u;
override P: u32 = 1u;
override Q: u32 = 1u;
override T4: u32 = 4u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N * T4 * P * Q) { return; }
  cols[i] = tap_value(i / (P * Q * T4), (i / (P * Q)) % T4, i % (P * Q));
}

// x at tap t of output pixel pix of image n, 0 in the padding and in the rows t >= C*R*S.
fn tap_value(n: u32, t: u32, pix: u32) -> f32 {
  let c = t / (R * S);
  let r = (t / S) % R;
  let s = t % S;
  let ih = i32((pix / Q) * SH + r * DH) - i32(PH);
  let iw = i32((pix % Q) * SW + s * DW) - i32(PW);
  let inside = c < C && ih >= 0 && ih < i32(H) && iw >= 0 && iw < i32(W);
  let at = ((n * C + c) * H + u32(ih)) * W + u32(iw);
  return select(0.0, x[select(0u, at, inside)], inside);
}

@compute @workgroup_size(WG)
fn main_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;             // vec4 index into cols
  if (i >= p.N * T4 * (P * Q / 4u)) { return; }
  // Q % 4 == 0: the 4 pixels share an output row, so the tap and the input row are found once.
  let pix = (i % (P * Q / 4u)) * 4u;
  let t = (i / (P * Q / 4u)) % T4;
  let n = i / (P * Q / 4u * T4);
  let c = t / (R * S);
  let r = (t / S) % R;
  let s = t % S;
  let ih = i32((pix / Q) * SH + r * DH) - i32(PH);
  let iw0 = i32((pix % Q) * SW + s * DW) - i32(PW);
  let row_ok = c < C && ih >= 0 && ih < i32(H);
  let row = ((n * C + c) * H + u32(ih)) * W;
  var v: vec4<f32>;
  for (var k = 0u; k < 4u; k++) {
    let iw = iw0 + i32(k * SW);
    let inside = row_ok && iw >= 0 && iw < i32(W);
    v[k] = select(0.0, x[select(0u, row + u32(iw), inside)], inside);
  }
  cols4[i] = v;
}
