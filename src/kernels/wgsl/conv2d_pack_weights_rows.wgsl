// conv2d_pack_weights_rows.wgsl — lay out 3-tap-wide conv2d weights for
// conv2d_forward_rows_subgroup.wgsl.
//
// That kernel computes 16 "rows" (output channels of the convolution it runs) per lane and, for
// each reduction channel col and kernel row r, needs the 16 x 3 weights of taps s = 0, 1, 2 as
// 12 vec4s: vec4 v = 4 * s + jq holds rows 4*jq .. 4*jq+3. This kernel writes them in that
// order, zero where a row block overhangs, plus 4 zero vec4s at the end (lanes 4..7 read past the
// last (col, r) and discard it):
//
//   w:  (K, C_g, R, 3)                                the user's OIHW weights
//   wp: (G, ROW_BLOCKS, COLS, R, 12) vec4, then 4     ROW_BLOCKS = ceil(rows / 16)
//
//   TRANSPOSED = false (forward):  rows = output channel k, cols = input channel c, taps as is.
//   TRANSPOSED = true  (input gradient at stride 1, a convolution of gy with the transposed,
//     flipped kernel): rows = c, cols = k, wp tap (r, s) = w tap (R-1-r, 2-s).
//
// One invocation writes one f32 of wp. Launcher: packWeightsRows() in src/kernels/conv2d.ts.

struct Conv2dParams {                 // packed by packConv2dParams(), same field order
  N: u32, C: u32, H: u32, W: u32,
  K: u32, R: u32, S: u32, G: u32,
  P: u32, Q: u32, stride_h: u32, stride_w: u32,
  pad_h: u32, pad_w: u32, dil_h: u32, dil_w: u32,
  C_g: u32, K_g: u32, CRS_g: u32, PQ: u32,
}

@group(0) @binding(0) var<storage, read>       w: array<f32>;    // (K, C_g, R, 3)
@group(0) @binding(1) var<storage, read_write> wp: array<f32>;   // see above, as f32s
@group(0) @binding(2) var<uniform>             p: Conv2dParams;  // the geometry of w's conv

override WG: u32 = 64;
override TRANSPOSED: bool = false;
override BLOCK_K: u32 = 16u;          // rows per block: 16 or 32, as the kernel's BLOCK_K

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let rows = select(p.K_g, p.C_g, TRANSPOSED);
  let cols = select(p.C_g, p.K_g, TRANSPOSED);
  let row_blocks = (rows + BLOCK_K - 1u) / BLOCK_K;
  let vecs = 3u * BLOCK_K / 4u;         // vec4s per (col, r)
  let i = gid.x + gid.y * nwg.x * WG;
  let packed = p.G * row_blocks * cols * p.R * vecs * 4u;
  if (i >= packed + 16u) { return; }
  var v = 0.0;
  if (i < packed) {
    // Peel the indices off from the fastest-varying end: component, vec4 (s, jq), r, col, block, g.
    let comp = i % 4u;
    let vec = (i / 4u) % vecs;
    let r = (i / (4u * vecs)) % p.R;
    let rest = i / (4u * vecs * p.R);
    let col = rest % cols;
    let rb = (rest / cols) % row_blocks;
    let g = rest / (cols * row_blocks);
    let row = rb * BLOCK_K + (vec % (BLOCK_K / 4u)) * 4u + comp;
    let s = vec / (BLOCK_K / 4u);
    if (row < rows) {
      let k = select(row, col, TRANSPOSED);   // output channel within the group
      let c = select(col, row, TRANSPOSED);   // input channel within the group
      let tap = select(r * 3u + s, (p.R - 1u - r) * 3u + (2u - s), TRANSPOSED);
      v = w[((g * p.K_g + k) * p.C_g + c) * p.R * 3u + tap];
    }
  }
  wp[i] = v;
}
