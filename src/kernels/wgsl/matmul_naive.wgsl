// matmul_naive.wgsl — C[b] = A[b] @ B[b], f32. The readable reference GEMM.
//
// A: (batch, M, K), B: (batch, K, N), C: (batch, M, N) contiguous. A and B are read through
// strides, so a transposed operand (a^T stored as (K, M)) or a broadcast batch (stride 0)
// needs no copy. One invocation computes one element of C: K loads of A and K loads of B per
// output, which is why this kernel is slow; matmul.wgsl reuses every load several times.
// Bindings: 0 A, 1 B (read), 2 C (write), 3 params. Launcher: src/kernels/matmul.ts.

struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  a_offset: u32, a_batch: u32, a_row: u32, a_col: u32,   // element strides of A
  b_offset: u32, b_batch: u32, b_row: u32, b_col: u32,   // element strides of B
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

override WG_X: u32 = 16u;
override WG_Y: u32 = 16u;

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let m = gid.y;
  let b = gid.z;
  if (m >= p.M || n >= p.N) { return; }
  let a0 = p.a_offset + b * p.a_batch + m * p.a_row;
  let b0 = p.b_offset + b * p.b_batch + n * p.b_col;
  var acc = 0.0;
  for (var k = 0u; k < p.K; k++) {
    acc += A[a0 + k * p.a_col] * B[b0 + k * p.b_row];
  }
  C[(b * p.M + m) * p.N + n] = acc;
}
