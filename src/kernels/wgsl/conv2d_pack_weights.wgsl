// conv2d_pack_weights.wgsl — lay out conv2d weights for the implicit-GEMM kernels.
//
// The fast kernels compute 16 "rows" (output channels for the forward pass, input channels for
// the input gradient) per invocation and read the weights of those 16 rows as vec4s along the
// reduction channel. This kernel writes them in exactly that order, zero-padded, so each read in
// the inner loop is one aligned vec4 and no bounds checks are needed there:
//
//   forward       (TRANSPOSED = false): rows = output channel k, cols = input channel c
//   input grad    (TRANSPOSED = true):  rows = input channel c,  cols = output channel k
//
//   w:  (K, C_g, R, S)                              the user's OIHW weights
//   wp: (G, ROW_BLOCKS, R, S, COL_QUADS, 16) vec4   wp[g, rb, r, s, cq, i] =
//         (w[row 16*rb + i, col 4*cq + 0..3, r, s])  within group g, zero where row/col overflow
//   with ROW_BLOCKS = ceil(rows / 16), COL_QUADS = ceil(cols / 4).
//
// One invocation writes one f32 of wp. Launcher: packConvWeights() in src/kernels/conv2d.ts.

struct Conv2dParams {                 // packed by packConv2dParams(), same field order
  N: u32, C: u32, H: u32, W: u32,
  K: u32, R: u32, S: u32, G: u32,
  P: u32, Q: u32, stride_h: u32, stride_w: u32,
  pad_h: u32, pad_w: u32, dil_h: u32, dil_w: u32,
  C_g: u32, K_g: u32, CRS_g: u32, PQ: u32,
}

@group(0) @binding(0) var<storage, read>       w: array<f32>;    // (K, C_g, R, S)
@group(0) @binding(1) var<storage, read_write> wp: array<f32>;   // see above, as f32s
@group(0) @binding(2) var<uniform>             p: Conv2dParams;

override WG: u32 = 64;
override TRANSPOSED: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let rows = select(p.K_g, p.C_g, TRANSPOSED);
  let cols = select(p.C_g, p.K_g, TRANSPOSED);
  let row_blocks = (rows + 15u) / 16u;
  let col_quads = (cols + 3u) / 4u;
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.G * row_blocks * p.R * p.S * col_quads * 64u) { return; }
  // Peel the indices off from the fastest-varying end: component, lane, col quad, s, r, block, g.
  let comp = i % 4u;
  let lane = (i / 4u) % 16u;
  var rest = i / 64u;
  let cq = rest % col_quads;   rest /= col_quads;
  let s = rest % p.S;          rest /= p.S;
  let r = rest % p.R;          rest /= p.R;
  let rb = rest % row_blocks;
  let g = rest / row_blocks;
  let row = rb * 16u + lane;
  let col = cq * 4u + comp;
  var v = 0.0;
  if (row < rows && col < cols) {
    let k = select(row, col, TRANSPOSED);   // output channel within the group
    let c = select(col, row, TRANSPOSED);   // input channel within the group
    v = w[(((g * p.K_g + k) * p.C_g + c) * p.R + r) * p.S + s];
  }
  wp[i] = v;
}
