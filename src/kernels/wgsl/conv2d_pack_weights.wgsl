// conv2d_pack_weights.wgsl — lay out conv2d weights for the implicit-GEMM kernels.
//
// The fast kernels compute 16 "rows" (output channels for the forward pass, input channels for
// the input gradient) per invocation and walk the GEMM reduction t = (r, s, col) four elements
// at a time, reading the 16 rows' weights for those four elements as vec4s. This kernel writes
// them in exactly that order, zero-padded, so each read in the inner loop is one aligned vec4
// and needs no bounds check:
//
//   forward       (TRANSPOSED = false): rows = output channel k, cols = input channel c
//   input grad    (TRANSPOSED = true):  rows = input channel c,  cols = output channel k
//
//   w:  (K, C_g, R, S)                        the user's OIHW weights
//   wp: (G, ROW_BLOCKS, T_QUADS, 16) vec4     wp[g, rb, tq, i] = w[row 16*rb + i, t = 4*tq + 0..3]
//   ROW_BLOCKS = ceil(rows / 16), zero where row or t overflow.
//
// How t is numbered (QUADS_PER_TAP):
//   true   t = ((r * S + s) * COLS4 + col), COLS4 = cols rounded up to 4: a quad never straddles
//          two taps (the kernels hoist the padding test out of the channel loop).
//   false  t = ((r * S + s) * cols + col), T = R*S*cols without gaps (for cols not a multiple
//          of 4, e.g. the 3 colour channels of a first layer: no wasted quarter quads).
//   When cols is a multiple of 4 both are the same layout.
//
// One invocation writes one f32 of wp. Launcher: packWeightsNow() in src/kernels/conv2d.ts.

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
override QUADS_PER_TAP: bool = true;
// The sizes this kernel divides by, as pipeline constants (set by the launcher from p): a
// division by a runtime value is scalarised lane by lane on a CPU adapter, by a constant it is
// a multiply and shift.
override T_QUADS: u32 = 1u;           // ceil(R * S * COLS_PER_TAP / 4)
override ROW_BLOCKS: u32 = 1u;        // ceil(rows / 16)
override COLS_PER_TAP: u32 = 1u;      // cols, rounded up to 4 when QUADS_PER_TAP
override TAPS: u32 = 1u;              // R * S

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let rows = select(p.K_g, p.C_g, TRANSPOSED);
  let cols = select(p.C_g, p.K_g, TRANSPOSED);
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.G * ROW_BLOCKS * T_QUADS * 64u) { return; }
  // Peel the indices off from the fastest-varying end: component, lane, t quad, row block, g.
  let comp = i % 4u;
  let lane = (i / 4u) % 16u;
  let rest = i / 64u;
  let tq = rest % T_QUADS;
  let rb = (rest / T_QUADS) % ROW_BLOCKS;
  let g = rest / (T_QUADS * ROW_BLOCKS);
  let row = rb * 16u + lane;
  let t = tq * 4u + comp;
  let col = t % COLS_PER_TAP;
  let tap = t / COLS_PER_TAP;           // r * S + s
  var v = 0.0;
  if (row < rows && col < cols && tap < TAPS) {
    let k = select(row, col, TRANSPOSED);   // output channel within the group
    let c = select(col, row, TRANSPOSED);   // input channel within the group
    v = w[((g * p.K_g + k) * p.C_g + c) * TAPS + tap];
  }
  wp[i] = v;
}
