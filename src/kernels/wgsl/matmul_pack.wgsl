// matmul_pack.wgsl — copy a strided matrix operand into a contiguous, zero-padded buffer so a
// fast GEMM kernel can read it in its layout (matmul_subgroup.wgsl reads vec4 along a row).
//   out[b, r, c] = src[offset + b*s_batch + r*s_row + c*s_col]   for r < rows, c < cols
//   out[b, r, c] = 0                                              in the padding
// out: (batch, rows_p, cols_p) contiguous. A transposed operand is a view with swapped
// strides, so packing it also transposes it. `main`: one invocation per output element;
// `main_vec4` (cols_p % 4 == 0, every caller's case): one per 4 neighbouring outputs of a row,
// stored as one vec4, with the index arithmetic (divisions by run-time sizes, done lane by lane on
// a CPU adapter) once per 4: on lavapipe 0.38x the CPU time for ResNet-50's 7x7 activations at batch 8.
// Launcher: packOperand() in src/kernels/matmul.ts.

struct PackParams {              // packed by packOperand(), same order
  rows: u32, cols: u32, rows_p: u32, cols_p: u32,
  offset: u32, s_batch: u32, s_row: u32, s_col: u32,
  total: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<storage, read_write> out4: array<vec4<f32>>;   // out again (main_vec4)
@group(0) @binding(2) var<uniform> p: PackParams;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;        // flat output index (grid1d may spill into y)
  if (i >= p.total) { return; }
  let c = i % p.cols_p;
  let r = (i / p.cols_p) % p.rows_p;
  let b = i / (p.cols_p * p.rows_p);
  var v = 0.0;
  if (r < p.rows && c < p.cols) { v = src[p.offset + b * p.s_batch + r * p.s_row + c * p.s_col]; }
  out[i] = v;
}

@compute @workgroup_size(WG)
fn main_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;        // vec4 of out
  let cols4 = p.cols_p / 4u;
  if (i >= p.total / 4u) { return; }
  let c0 = (i % cols4) * 4u;
  let r = (i / cols4) % p.rows_p;
  let b = i / (cols4 * p.rows_p);
  let row = p.offset + b * p.s_batch + r * p.s_row;
  var v = vec4<f32>(0.0);
  for (var k = 0u; k < 4u; k++) {
    let inside = r < p.rows && c0 + k < p.cols;
    v[k] = select(0.0, src[select(0u, row + (c0 + k) * p.s_col, inside)], inside);
  }
  out4[i] = v;
}
