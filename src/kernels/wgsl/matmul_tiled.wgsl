// matmul_tiled.wgsl — C[b] = A[b] @ B[b], f32, workgroup-memory tiling for GPUs.
//
// Same contract as matmul_naive.wgsl (strided A and B, contiguous C; the reference it is
// tested against). The classic GPU structure: a workgroup of 16 x 16 invocations computes a
// 64 x 64 tile of C. For each slab of 16 k it stages A[64 rows, 16 k] and B[16 k, 64 cols] in
// workgroup memory (each invocation copies 4 + 4 elements), waits at a barrier, and every
// invocation accumulates its 4 x 4 outputs (rows ty + 16i, columns tx + 16j, interleaved so
// neighbouring invocations touch neighbouring addresses) from the staged slab. Each element
// of A and B is read from global memory once per workgroup instead of once per output.
// On llvmpipe this kernel is slower than matmul_subgroup.wgsl (workgroup memory reads are
// loads too and barriers buy nothing on a CPU); the launcher picks it for real GPUs.
// Edges: loads outside M, N or K stage zeros; stores outside are skipped.
// Bindings: 0 A, 1 B (read), 2 C (write), 3 params. Launcher: src/kernels/matmul.ts.

struct Params {                  // packed by gemm() in src/kernels/matmul.ts, same order
  M: u32, N: u32, K: u32, batch: u32,
  a_offset: u32, a_batch: u32, a_row: u32, a_col: u32,
  b_offset: u32, b_batch: u32, b_row: u32, b_col: u32,
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const TILE = 64u;    // rows and columns of C per workgroup
const SLAB = 16u;    // k per staging step
const THREADS = 16u; // invocations per side of the workgroup

var<workgroup> As: array<f32, 1024>;   // [SLAB][TILE]: As[k * TILE + m]
var<workgroup> Bs: array<f32, 1024>;   // [SLAB][TILE]: Bs[k * TILE + n]

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let b = wg.z;
  let m0 = wg.y * TILE;
  let n0 = wg.x * TILE;
  let tx = lid.x;
  let ty = lid.y;
  let t = ty * THREADS + tx;                  // 0 .. 255
  let a_base = p.a_offset + b * p.a_batch;
  let b_base = p.b_offset + b * p.b_batch;
  var acc: array<vec4<f32>, 4>;               // acc[i][j] = C[m0 + ty + 16i, n0 + tx + 16j]
  for (var k0 = 0u; k0 < p.K; k0 += SLAB) {
    // Stage the slab: 1024 elements of A and of B, 4 each per invocation.
    for (var e = 0u; e < 4u; e++) {
      let idx = t + e * 256u;                 // 0 .. 1023
      let am = idx / SLAB;                    // A: consecutive invocations walk along k
      let ak = idx % SLAB;
      var av = 0.0;
      if (m0 + am < p.M && k0 + ak < p.K) { av = A[a_base + (m0 + am) * p.a_row + (k0 + ak) * p.a_col]; }
      As[ak * TILE + am] = av;
      let bk = idx / TILE;                    // B: consecutive invocations walk along n
      let bn = idx % TILE;
      var bv = 0.0;
      if (k0 + bk < p.K && n0 + bn < p.N) { bv = B[b_base + (k0 + bk) * p.b_row + (n0 + bn) * p.b_col]; }
      Bs[bk * TILE + bn] = bv;
    }
    workgroupBarrier();
    for (var k = 0u; k < SLAB; k++) {
      let a = vec4<f32>(As[k * TILE + ty], As[k * TILE + ty + 16u], As[k * TILE + ty + 32u], As[k * TILE + ty + 48u]);
      let bv = vec4<f32>(Bs[k * TILE + tx], Bs[k * TILE + tx + 16u], Bs[k * TILE + tx + 32u], Bs[k * TILE + tx + 48u]);
      acc[0] = fma(vec4<f32>(a.x), bv, acc[0]);
      acc[1] = fma(vec4<f32>(a.y), bv, acc[1]);
      acc[2] = fma(vec4<f32>(a.z), bv, acc[2]);
      acc[3] = fma(vec4<f32>(a.w), bv, acc[3]);
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + ty + 16u * i;
    if (m < p.M) {
      for (var j = 0u; j < 4u; j++) {
        let n = n0 + tx + 16u * j;
        if (n < p.N) { C[(b * p.M + m) * p.N + n] = acc[i][j]; }
      }
    }
  }
}
