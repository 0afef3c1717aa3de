// copy_strided.wgsl — dst view = src view, element by element, for any 32-bit dtype.
//
// Both sides are strided views (offset + per-dimension strides over a common shape), so the
// same kernel makes a permuted tensor contiguous (`contiguous()`), writes a tensor into a
// slice of a larger one (`cat`, the backward of slicing), or expands a broadcast.
// The data moves as raw u32 bits (not f32), so int32 labels survive unchanged: a float
// load/store could flush small integers (float denormals) to zero.
// One invocation per element. Bindings: 0 src (read), 1 dst (read_write), 2 params.
// Launcher: src/kernels/copy.ts.

struct Params {
  numel: u32,
  rank: u32,
  src_offset: u32,
  dst_offset: u32,
  shape: array<vec4<u32>, 2>,
  src_strides: array<vec4<u32>, 2>,
  dst_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.numel) { return; }
  var rest = idx;
  var si = p.src_offset;
  var di = p.dst_offset;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let size = p.shape[d / 4][d % 4];
    let coord = rest % size;
    rest = rest / size;
    si += coord * p.src_strides[d / 4][d % 4];
    di += coord * p.dst_strides[d / 4][d % 4];
  }
  dst[di] = src[si];
}
