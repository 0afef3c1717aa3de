// max_pool2d_backward_rows.wgsl — gradient of 2-D max pooling as a gather, NCHW f32,
// deterministic: a block of BR*SH x 4*SW inputs per invocation, read and written as vec4s. Same
// result, bit for bit, as max_pool2d_backward.wgsl (the one-input-per-invocation gather).
//
// Legend as in max_pool2d_forward.wgsl. Each input element collects the gradients of the
// outputs whose saved argmax points at it:
//   dx[n, c, ih, iw] = sum over (oh, ow) with argmax[n, c, oh, ow] == ih*W + iw of gy[n, c, oh, ow]
//
// The block. This invocation owns dx rows i*BR*SH .. (i+1)*BR*SH - 1, the inputs of BR rows of
// outputs, and columns 4j*SW .. 4j*SW + 4SW-1 (4 rows x 8 columns for a stride-2 window and BR =
// 2). Window (oh, ow) covers rows oh*SH - PH .. + KH-1, so input row i*BR*SH + r can only be
// reached from oh = i*BR + a with
//   ceil((r + PH - KH + 1) / SH) <= a <= floor((r + PH) / SH)
// and likewise column 4j*SW + c from ow = 4j + b. Over the whole block a runs over A0 .. A1 +
// BR-1 and b over B0 .. B1 (3 rows x 5 columns of outputs for 3x3/s2/p1 and BR = 2), all
// compile-time constants. The
// invocation loads those outputs' gy and argmax once, as vec4s (a vec4 load costs about what a
// scalar one does on llvmpipe, shared/docs/lavapipe.md), then every dx of the block adds, in a
// fixed order (a, then b: the same order as the one-input gather), the gy of each candidate whose
// argmax is this input. Which candidates can reach which dx is decided at compile time, so the
// unrolled loops keep only those compares (36 for the 16 inputs of a 3x3/s2/p1 block).
// Against one input per invocation (CH x CW = 4 candidates, 8 loads per input) this loads 18
// vec4s and stores 8 for 32 inputs (BR = 2; with BR = 1, 12 and 4 for 16 inputs: the candidate
// row above the block and the vec4s beside it are loaded for fewer inputs; BR = 2 was 1.0-1.1x
// as fast on [32, 64, 32, 32] and [8, 64, 56, 56], BR = 4 slower: 24 vec4s of candidates).
// Requires (the launcher checks): W % 4 == 0, OW % 4 == 0, dilation 1, SW in {1, 2},
// at most 4 candidate rows, 3 vec4s of candidate columns, 12 vec4s in all.
// Grid: one invocation per block, planes * RB * CB of them (RB = ceil(H / (BR*SH)), CB =
// ceil(W / (4 SW))), in x (spilling into y), flat as in max_pool2d_forward_rows.wgsl.
// Bindings: 0 gy (read, vec4s), 1 argmax (read, vec4<i32>s), 2 dx (write, vec4s), 3 params.
// Reference: src/kernels/reference/pool.ts (maxPool2dBackwardRef). Launcher: src/kernels/pool.ts.

struct Pool2dParams {     // the same struct as max_pool2d_forward.wgsl
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
@group(0) @binding(1) var<storage, read> argmax4: array<vec4<i32>>;
@group(0) @binding(2) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: Pool2dParams;

override WG: u32 = 64u;
override KH: u32 = 3u;
override KW: u32 = 3u;
override SH: u32 = 2u;
override SW: u32 = 2u;
override PH: u32 = 1u;
override PW: u32 = 1u;
override BR: u32 = 1u;         // rows of outputs per block: 1 or 2
override CB: u32 = 1u;         // column blocks per row: ceil(W / (4 SW)), and blocks per
override PER_PLANE: u32 = 1u;  // plane: constants, so dividing by them is a multiply
// Candidate output offsets (derived): a in A0 .. A1, b in B0 .. B1; B0 and A0 are <= 0.
// ceil(n / s) for n <= 0 is -floor(-n / s), computed on non-negative values.
override A0: i32 = -i32((KH - 1u - PH) / SH);
override A1: i32 = i32((SH - 1u + PH) / SH);
override B0: i32 = -i32((KW - 1u - PW) / SW);
override B1: i32 = i32((4u * SW - 1u + PW) / SW);
override VB0: i32 = (B0 - 3) / 4;          // vec4 holding column B0: floor(B0 / 4), as B0 <= 0
override NVB: i32 = B1 / 4 - VB0 + 1;      // vec4s per candidate row

// Candidate (a, b) reaches block row r / column c (see the header).
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

  // gy and argmax of the candidate outputs: rows i*BR + A0 .. i*BR + A1 + BR-1, vec4s j + VB0 ..
  // j + VB0 + NVB-1.
  var g: array<vec4<f32>, 12>;
  var m: array<vec4<i32>, 12>;
  let out_plane4 = plane * p.OH * u32(QW);
  for (var a = A0; a <= A1 + i32(BR) - 1; a++) {
    let oh = i32(i * BR) + a;
    let row_ok = oh >= 0 && oh < i32(p.OH);
    let row4 = out_plane4 + u32(clamp(oh, 0, i32(p.OH) - 1) * QW);
    for (var v = 0; v < NVB; v++) {
      let cv = i32(j) + VB0 + v;
      let ok = row_ok && cv >= 0 && cv < QW;
      let at = row4 + u32(clamp(cv, 0, QW - 1));
      let slot = (a - A0) * NVB + v;
      g[slot] = gy4[at];
      m[slot] = select(vec4<i32>(-1), argmax4[at], ok);   // -1 matches no input
    }
  }

  let ih0 = i * SH * BR;
  let iw0 = j * 4u * SW;
  let dx_plane4 = plane * p.H * W4;
  for (var r = 0u; r < SH * BR; r++) {
    let ih = ih0 + r;
    for (var s = 0u; s < SW; s++) {
      var acc = vec4<f32>(0.0);
      for (var e = 0u; e < 4u; e++) {
        let c = s * 4u + e;                     // column within the block
        let me = i32(ih * p.W + iw0 + c);
        for (var a = A0; a <= A1 + i32(BR) - 1; a++) {
          for (var b = B0; b <= B1; b++) {
            if (reaches(a, r, PH, KH, SH) && reaches(b, c, PW, KW, SW)) {   // compile-time once unrolled
              let col = b - 4 * VB0;              // column within the loaded vec4s (>= 0)
              let slot = (a - A0) * NVB + col / 4;
              acc[e] += select(0.0, g[slot][col % 4], m[slot][col % 4] == me);
            }
          }
        }
      }
      let w4 = j * SW + s;
      if (ih < p.H && w4 < W4) { dx4[dx_plane4 + ih * W4 + w4] = acc; }
    }
  }
}
