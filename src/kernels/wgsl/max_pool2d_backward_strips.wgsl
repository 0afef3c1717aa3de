// max_pool2d_backward_strips.wgsl — gradient of 2-D max pooling as a gather, NCHW f32,
// deterministic: one invocation walks a strip of 4*SW input columns down a run of RUN blocks of
// SH input rows, reading and writing vec4s. Same result, bit for bit, as max_pool2d_backward.wgsl
// (the one-input gather, its oracle); the CPU adapters' kernel where
// max_pool2d_backward_rows.wgsl would run.
//
// Legend as in max_pool2d_forward.wgsl. Each input element collects the gradients of the
// outputs whose saved argmax points at it:
//   dx[n, c, ih, iw] = sum over (oh, ow) with argmax[n, c, oh, ow] == ih*W + iw of gy[n, c, oh, ow]
// The blocks, candidates and order are max_pool2d_backward_rows.wgsl's with one row of outputs
// per block (read its header): block i (dx rows i*SH .. i*SH + SH-1, columns 4j*SW .. + 4SW-1)
// gathers from the outputs in rows i + A0 .. i + A1 and vec4s j + VB0 .. j + VB0 + NVB-1. Block
// i + 1 needs the same rows but the first, plus row i + 1 + A1: so walking down the strip, the
// invocation keeps the gy and argmax of the candidate rows in registers and loads one new row of
// NVB vec4s of each per block (2 x 3 vec4 loads and 4 vec4 stores per 16 inputs for 3x3/s2/p1,
// against 2 x 9 and 8 per 32 inputs in the row kernel's blocks of two output rows).
// Requires (the launcher checks): the row kernel's geometries (W % 4 == 0, OW % 4 == 0,
// dilation 1, SW in {1, 2}, at most 4 candidate rows and 3 vec4s of candidate columns).
// Grid: one invocation per strip and run, planes * ceil(ceil(H / SH) / RUN) * CB of them (CB =
// ceil(W / (4 SW))), in x (spilling into y).
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
override CB: u32 = 1u;         // column blocks per row: ceil(W / (4 SW)), and invocations per
override PER_PLANE: u32 = 1u;  // plane: constants, so dividing by them is a multiply
override RUN: u32 = 32u;       // blocks (of SH input rows) per invocation
// Candidate output offsets (derived): a in A0 .. A1, b in B0 .. B1; B0 and A0 are <= 0.
// ceil(n / s) for n <= 0 is -floor(-n / s), computed on non-negative values.
override A0: i32 = -i32((KH - 1u - PH) / SH);
override A1: i32 = i32((SH - 1u + PH) / SH);
override B0: i32 = -i32((KW - 1u - PW) / SW);
override B1: i32 = i32((4u * SW - 1u + PW) / SW);
override VB0: i32 = (B0 - 3) / 4;          // vec4 holding column B0: floor(B0 / 4), as B0 <= 0
override NVB: i32 = B1 / 4 - VB0 + 1;      // vec4s per candidate row
override NA: i32 = A1 - A0 + 1;            // candidate rows per block

// Candidate (a, b) reaches block row r / column c (see max_pool2d_backward_rows.wgsl).
// For integers, ceil(n / s) <= a <=> a*s >= n, and a <= floor(n / s) <=> a*s <= n.
fn reaches(a: i32, r: u32, pad: u32, k: u32, s: u32) -> bool {
  return a * i32(s) >= i32(r + pad + 1u) - i32(k) && a * i32(s) <= i32(r + pad);
}

// gy and argmax of the candidate rows of the current block: slot (a - A0) * NVB + v.
var<private> g: array<vec4<f32>, 12>;
var<private> m: array<vec4<i32>, 12>;

// Loads output row oh (vec4s j + VB0 .. + NVB-1) into candidate row slot `row`.
fn load_row(out_plane4: u32, oh: i32, j: u32, row: i32) {
  let QW = i32(p.OW / 4u);
  let row_ok = oh >= 0 && oh < i32(p.OH);
  let row4 = out_plane4 + u32(clamp(oh, 0, i32(p.OH) - 1) * QW);
  for (var v = 0; v < NVB; v++) {
    let cv = i32(j) + VB0 + v;
    let ok = row_ok && cv >= 0 && cv < QW;
    let at = row4 + u32(clamp(cv, 0, QW - 1));
    g[row * NVB + v] = gy4[at];
    m[row * NVB + v] = select(vec4<i32>(-1), argmax4[at], ok);   // -1 matches no input
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let index = gid.x + gid.y * nwg.x * WG;
  let plane = index / PER_PLANE;
  let cell = index - plane * PER_PLANE;
  if (plane >= p.planes) { return; }
  let run = cell / CB;
  let j = cell - run * CB;
  let W4 = p.W / 4u;
  let out_plane4 = plane * p.OH * (p.OW / 4u);
  let dx_plane4 = plane * p.H * W4;
  let iw0 = j * 4u * SW;
  let i0 = run * RUN;

  // The candidate rows of block i0 but the last: i0 + A0 .. i0 + A1 - 1.
  for (var a = A0; a < A1; a++) { load_row(out_plane4, i32(i0) + a, j, a - A0); }
  for (var bi = 0u; bi < RUN; bi++) {
    let i = i0 + bi;
    if (i * SH >= p.H) { break; }
    load_row(out_plane4, i32(i) + A1, j, NA - 1);
    for (var r = 0u; r < SH; r++) {
      let ih = i * SH + r;
      for (var s = 0u; s < SW; s++) {
        var acc = vec4<f32>(0.0);
        for (var e = 0u; e < 4u; e++) {
          let c = s * 4u + e;                     // column within the block
          let me = i32(ih * p.W + iw0 + c);
          for (var a = A0; a <= A1; a++) {
            for (var b = B0; b <= B1; b++) {
              if (reaches(a, r, PH, KH, SH) && reaches(b, c, PW, KW, SW)) {   // compile-time
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
    // Block i + 1's candidate rows are this block's but the first.
    for (var q = 0; q < NA - 1; q++) {
      for (var v = 0; v < NVB; v++) {
        g[q * NVB + v] = g[(q + 1) * NVB + v];
        m[q * NVB + v] = m[(q + 1) * NVB + v];
      }
    }
  }
}
