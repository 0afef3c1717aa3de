// avg_pool2d_backward_rows.wgsl — gradient of 2-D average pooling as a gather, NCHW f32,
// deterministic: a block of SH x 4*SW inputs per invocation, read and written as vec4s. Same
// result, bit for bit, as avg_pool2d_backward.wgsl (one input per invocation).
//
// Legend and divisor rule as in avg_pool2d_forward.wgsl. Each input sums the share of every
// window that contains it:
//   dx[n, c, ih, iw] = sum over windows (oh, ow) containing (ih, iw) of gy[n, c, oh, ow] / divisor(oh, ow)
// The block and its candidate windows are max_pool2d_backward_rows.wgsl's (read its header): this
// invocation owns dx rows i*SH .. + SH-1 and columns 4j*SW .. + 4SW-1, loads the gy of the
// candidate windows oh = i + a (a in A0 .. A1), ow = 4j + b (b in B0 .. B1) once as vec4s and
// divides each by its divisor once; which candidate contains which input is decided at compile
// time, and every input adds its candidates in the order a, then b, as the one-input gather does.
// For 2x2/s2 windows that is 1 vec4 load and 4 vec4 stores for 16 inputs.
// Requires (the launcher checks): W % 4 == 0, OW % 4 == 0, SW in {1, 2}, at most 4 candidate rows
// and 3 vec4s of candidate columns.
// Grid: one invocation per block, planes * ceil(H / SH) * CB of them (CB = ceil(W / (4 SW))), in
// x (spilling into y).
// Bindings: 0 gy (read, vec4s), 1 dx (write, vec4s), 2 params.
// Reference: src/kernels/reference/pool.ts (avgPool2dBackwardRef). Launcher: src/kernels/pool.ts.

struct Pool2dParams {     // the same struct as max_pool2d_forward.wgsl (packPool2dParams)
  planes: u32,
  H: u32,
  W: u32,
  OH: u32,
  OW: u32,
  pH: u32,
  pW: u32,
  count_include_pad: u32,
  inv_W: f32,
  inv_OW: f32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<storage, read> gy4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: Pool2dParams;

override WG: u32 = 64u;
override KH: u32 = 2u;
override KW: u32 = 2u;
override SH: u32 = 2u;
override SW: u32 = 2u;
override PH: u32 = 0u;
override PW: u32 = 0u;
override CB: u32 = 1u;         // column blocks per row: ceil(W / (4 SW)), and blocks per
override PER_PLANE: u32 = 1u;  // plane: constants, so dividing by them is a multiply
// Candidate window offsets (derived), as in max_pool2d_backward_rows.wgsl.
override A0: i32 = -i32((KH - 1u - PH) / SH);
override A1: i32 = i32((SH - 1u + PH) / SH);
override B0: i32 = -i32((KW - 1u - PW) / SW);
override B1: i32 = i32((4u * SW - 1u + PW) / SW);
override VB0: i32 = (B0 - 3) / 4;          // vec4 holding column B0: floor(B0 / 4), as B0 <= 0
override NVB: i32 = B1 / 4 - VB0 + 1;      // vec4s per candidate row

// For integers, ceil(n / s) <= a <=> a*s >= n, and a <= floor(n / s) <=> a*s <= n.
fn reaches(a: i32, r: u32, pad: u32, k: u32, s: u32) -> bool {
  return a * i32(s) >= i32(r + pad + 1u) - i32(k) && a * i32(s) <= i32(r + pad);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let index = gid.x + gid.y * nwg.x * WG;
  let plane = index / PER_PLANE;
  let block = index - plane * PER_PLANE;
  if (plane >= p.planes) { return; }
  let i = block / CB;
  let j = block - i * CB;
  let QW = i32(p.OW / 4u);
  let W4 = p.W / 4u;

  // gy / divisor of the candidate windows: rows i + A0 .. i + A1, vec4s j + VB0 .. + NVB-1;
  // 0 outside the output (those never count).
  var share: array<vec4<f32>, 12>;
  let out_plane4 = plane * p.OH * u32(QW);
  for (var a = A0; a <= A1; a++) {
    let oh = i32(i) + a;
    let hs = oh * i32(SH) - i32(PH);
    let he = min(hs + i32(KH), i32(p.H + PH));
    let rows_in = min(he, i32(p.H)) - max(hs, 0);
    let row4 = out_plane4 + u32(clamp(oh, 0, i32(p.OH) - 1) * QW);
    for (var v = 0; v < NVB; v++) {
      let cv = i32(j) + VB0 + v;
      let ws = (4 * cv + vec4<i32>(0, 1, 2, 3)) * i32(SW) - i32(PW);
      let we = min(ws + i32(KW), vec4<i32>(i32(p.W + PW)));
      let pool = (he - hs) * (we - ws);
      let area = rows_in * (min(we, vec4<i32>(i32(p.W))) - max(ws, vec4<i32>(0)));
      let divisor = vec4<f32>(select(area, pool, p.count_include_pad != 0u));
      let ok = oh >= 0 && oh < i32(p.OH) && cv >= 0 && cv < QW;
      share[(a - A0) * NVB + v] = select(vec4<f32>(0.0), gy4[row4 + u32(clamp(cv, 0, QW - 1))] / divisor, ok);
    }
  }

  let ih0 = i * SH;
  let dx_plane4 = plane * p.H * W4;
  for (var r = 0u; r < SH; r++) {
    let ih = ih0 + r;
    for (var s = 0u; s < SW; s++) {
      var acc = vec4<f32>(0.0);
      for (var e = 0u; e < 4u; e++) {
        let c = s * 4u + e;                     // column within the block
        for (var a = A0; a <= A1; a++) {
          for (var b = B0; b <= B1; b++) {
            if (reaches(a, r, PH, KH, SH) && reaches(b, c, PW, KW, SW)) {   // compile-time
              let col = b - 4 * VB0;              // column within the loaded vec4s (>= 0)
              acc[e] += share[(a - A0) * NVB + col / 4][col % 4];
            }
          }
        }
      }
      let w4 = j * SW + s;
      if (ih < p.H && w4 < W4) { dx4[dx_plane4 + ih * W4 + w4] = acc; }
    }
  }
}
