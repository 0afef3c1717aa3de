// conv2d_pack_weights_rows.wgsl — lay out 3-tap-wide conv2d weights for
// conv2d_forward_rows_subgroup.wgsl (and, with BLOCK_K = 8, TRANSPOSED, for
// conv2d_backward_input_rows_s2_subgroup.wgsl).
//
// That kernel computes BLOCK_K (16 or 32) "rows" (output channels of the convolution it runs)
// per lane and, for each reduction channel col and kernel row r, needs the BLOCK_K x 3 weights of
// taps s = 0, 1, 2 as VECS = 3 * BLOCK_K / 4 vec4s: vec4 v = (BLOCK_K / 4) * s + jq holds rows
// 4*jq .. 4*jq+3. This kernel writes them in that order, zero where a row block overhangs, plus
// 8 zero vec4s at the end (the kernels read a few vec4s past the last (col, r) and discard
// them: 4 with 16-row blocks, 6 in the stride-2 input gradient's 8-row blocks):
//
//   w:  (K, C_g, R, 3)                                  the user's OIHW weights
//   wp: (G, ROW_BLOCKS, COLS, R, VECS) vec4, then 8     ROW_BLOCKS = ceil(rows / BLOCK_K)
//
//   TRANSPOSED = false (forward):  rows = output channel k, cols = input channel c, taps as is.
//   TRANSPOSED = true  (input gradient at stride 1, a convolution of gy with the transposed,
//     flipped kernel): rows = c, cols = k, wp tap (r, s) = w tap (R-1-r, 2-s).
//
// One invocation writes one vec4 of wp. Launcher: packWeightsRowsNow() in src/kernels/conv2d.ts.

struct Conv2dParams {                 // packed by packConv2dParams(), same field order
  N: u32, C: u32, H: u32, W: u32,
  K: u32, R: u32, S: u32, G: u32,
  P: u32, Q: u32, stride_h: u32, stride_w: u32,
  pad_h: u32, pad_w: u32, dil_h: u32, dil_w: u32,
  C_g: u32, K_g: u32, CRS_g: u32, PQ: u32,
}

@group(0) @binding(0) var<storage, read>       w: array<f32>;    // (K, C_g, R, 3)
@group(0) @binding(1) var<storage, read_write> wp: array<vec4<f32>>;   // see above
@group(0) @binding(2) var<uniform>             p: Conv2dParams;  // the geometry of w's conv

override WG: u32 = 64;
override TRANSPOSED: bool = false;
override BLOCK_K: u32 = 16u;          // rows per block: 8, 16 or 32, as the kernel's BLOCK_K
// The sizes this kernel divides by, as pipeline constants (set by the launcher from p): a
// division by a runtime value is scalarised lane by lane on a CPU adapter, by a constant it is
// a multiply and shift (measured on lavapipe: packing was ~1/3 of a ResNet-18 batch-1 forward).
override KR: u32 = 1u;                // R, the kernel height
override COLS: u32 = 1u;              // reduction channels: C_g, or K_g when TRANSPOSED
override ROW_BLOCKS: u32 = 1u;        // ceil(rows / BLOCK_K)

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let rows = select(p.K_g, p.C_g, TRANSPOSED);
  let vecs = 3u * BLOCK_K / 4u;         // vec4s per (col, r)
  let i = gid.x + gid.y * nwg.x * WG;   // the vec4 of wp this invocation writes
  let packed = p.G * ROW_BLOCKS * COLS * KR * vecs;
  if (i >= packed + 8u) { return; }
  var v = vec4<f32>(0.0);
  if (i < packed) {
    // Peel the indices off from the fastest-varying end: vec4 (s, jq), r, col, block, g.
    let vec = i % vecs;
    let r = (i / vecs) % KR;
    let rest = i / (vecs * KR);
    let col = rest % COLS;
    let rb = (rest / COLS) % ROW_BLOCKS;
    let g = rest / (COLS * ROW_BLOCKS);
    let s = vec / (BLOCK_K / 4u);
    let tap = select(r * 3u + s, (KR - 1u - r) * 3u + (2u - s), TRANSPOSED);
    for (var comp = 0u; comp < 4u; comp++) {
      let row = rb * BLOCK_K + (vec % (BLOCK_K / 4u)) * 4u + comp;
      if (row < rows) {
        let k = select(row, col, TRANSPOSED);   // output channel within the group
        let c = select(col, row, TRANSPOSED);   // input channel within the group
        v[comp] = w[((g * p.K_g + k) * p.C_g + c) * KR * 3u + tap];
      }
    }
  }
  wp[i] = v;
}
