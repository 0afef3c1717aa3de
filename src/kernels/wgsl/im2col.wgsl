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
// `main_rows` (below) loads each input row span once for all S taps of a kernel row: 0.36x
// `main_vec4`'s CPU time for the stem at batch 8 on lavapipe.
// Launcher: conv2dForwardIm2col() in src/kernels/conv2d.ts (im2colLayout() picks the entry).

struct Im2colParams {    // packed by conv2dForwardIm2col()
  N: u32,
}

@group(0) @binding(0) var<storage, read>       x: array<f32>;
@group(0) @binding(0) var<storage, read>       x4: array<vec4<f32>>;
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
override OFF: u32 = (4u - PW % 4u) % 4u;               // main_rows: where the first tap sits in its vec4
override NV: u32 = (OFF + 3u * SW + (S - 1u) * DW + 4u) / 4u;   // main_rows: vec4s per input span

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

// `main_rows` (when W % 4 == 0 and Q % 4 == 0): one invocation writes 4 neighbouring pixels of
// one output row for all S taps of one kernel row (c, r): S vec4s of cols. The 4 pixels' S taps
// span 3*SW + (S-1)*DW + 1 input columns of one input row (13 for the stem), which it loads once
// as NV aligned vec4s (4) and picks from registers, where `main_vec4` loads 4 scalars for each
// of the S vec4s it writes (28 for the stem): the stores are then most of the work.
// Grid: one invocation per (n, c, r, oh, group of 4 ow): N*C*R*P*Q/4, in x (spilling into y).
// The invocation of the last (c, r) also writes the zero rows t = C*R*S .. T4 - 1.
@compute @workgroup_size(WG)
fn main_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let QV = Q / 4u;
  if (i >= p.N * C * R * P * QV) { return; }
  let jq = i % QV;
  let oh = (i / QV) % P;
  let r = (i / (QV * P)) % R;
  let c = (i / (QV * P * R)) % C;
  let n = i / (QV * P * R * C);
  let ih = i32(oh * SH + r * DH) - i32(PH);
  let row_ok = ih >= 0 && ih < i32(H);
  let W4 = i32(W / 4u);
  let row4 = ((n * C + c) * H + u32(clamp(ih, 0, i32(H) - 1))) * W / 4u;
  // The span's first column c0 = 4*jq*SW - PW sits OFF floats into vec4 v0; a vec4 lies wholly
  // inside or outside the row (W % 4 == 0), so the padding is whole zero vec4s.
  let c0 = i32(jq * 4u * SW) - i32(PW);
  let v0 = (c0 - i32(OFF)) / 4;
  var span: array<vec4<f32>, 8>;
  for (var v = 0u; v < NV; v++) {
    let cv = v0 + i32(v);
    let inside = row_ok && cv >= 0 && cv < W4;
    span[v] = select(vec4<f32>(0.0), x4[row4 + u32(clamp(cv, 0, W4 - 1))], inside);
  }
  let pixel4 = (oh * Q) / 4u + jq;                // this vec4's place in a cols row, in vec4s
  let row_t = (c * R + r) * S;                    // the first tap (row of cols) written here
  for (var s = 0u; s < S; s++) {
    var v: vec4<f32>;
    for (var k = 0u; k < 4u; k++) {
      let at = OFF + k * SW + s * DW;
      v[k] = span[at / 4u][at % 4u];
    }
    cols4[((n * T4 + row_t + s) * P * Q) / 4u + pixel4] = v;
  }
  if (c == C - 1u && r == R - 1u) {
    for (var t = C * R * S; t < T4; t++) {
      cols4[((n * T4 + t) * P * Q) / 4u + pixel4] = vec4<f32>(0.0);
    }
  }
}
