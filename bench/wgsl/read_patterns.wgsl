// read_patterns.wgsl — what a read costs on this adapter: the same sums over NCHW tensors
// (N, C planes of S vec4s) read in different orders and amounts. bench/reads.ts times them.
//
// A per-channel reduction (batch norm's statistics and backward sums) has to visit every plane
// (n, c) of its channel. Walking channel by channel reads a plane of S vec4s, then jumps a whole
// image (C planes: 256 KB for 64 channels of 32x32) ahead to the next image's plane; reading in
// memory order instead takes consecutive planes of several channels. The entry points:
//   walk_one          workgroup c walks channel c in (n, s) order, lanes WG apart: sums a
//   walk_two          ... sums a and b (two tensors, two bindings: twice the distinct bytes)
//   walk_same_lines   ... sums a[i] and a[i ^ 1]: two loads, but the second hits the lines the
//                     first brought (neighbouring vec4s)
//   walk_twice        walks its channel twice: the second walk re-reads 4*N*S*16 bytes that
//                     were just read (128 KB at [32,64,32,32]: in the core's L2, not its L1)
//   runs_one          workgroup w reads planes w*RUN .. w*RUN+RUN-1 of the flat (n, c) order,
//                     one stretch of memory (what batch_norm_*'s main_plane_runs do)
// Each workgroup writes its lanes' sum (the loads must not be dead code).
// Bindings: 0 a (read), 1 b (read), 2 out (write, one vec4 per workgroup), 3 params.
// Launcher: bench/reads.ts.

struct Params {
  N: u32,
  C: u32,
  S: u32,           // vec4s per plane
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: Params;

override WG: u32 = 32u;
override RUN: u32 = 8u;

var<workgroup> tree: array<vec4<f32>, WG>;

// The workgroup's sum, in a fixed tree, written by lane 0.
fn finish(lid: u32, sum: vec4<f32>, w: u32) {
  tree[lid] = sum;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    if (lid < width) { tree[lid] = tree[lid] + tree[lid + width]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[w] = tree[0]; }
}

// The walks: image by image, lanes WG vec4s apart along the channel's plane in each.

@compute @workgroup_size(WG)
fn walk_one(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  var sum = vec4<f32>(0.0);
  for (var n = 0u; n < p.N; n++) {
    let base = (n * p.C + wid.x) * p.S;
    for (var s = lid.x; s < p.S; s += WG) { sum += a[base + s]; }
  }
  finish(lid.x, sum, wid.x);
}

@compute @workgroup_size(WG)
fn walk_two(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  var sum = vec4<f32>(0.0);
  for (var n = 0u; n < p.N; n++) {
    let base = (n * p.C + wid.x) * p.S;
    for (var s = lid.x; s < p.S; s += WG) { sum += a[base + s] * b[base + s]; }
  }
  finish(lid.x, sum, wid.x);
}

@compute @workgroup_size(WG)
fn walk_same_lines(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  var sum = vec4<f32>(0.0);
  for (var n = 0u; n < p.N; n++) {
    let base = (n * p.C + wid.x) * p.S;
    for (var s = lid.x; s < p.S; s += WG) { sum += a[base + s] * a[(base + s) ^ 1u]; }
  }
  finish(lid.x, sum, wid.x);
}

@compute @workgroup_size(WG)
fn walk_twice(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  var sum = vec4<f32>(0.0);
  for (var twice = 0u; twice < 2u; twice++) {
    for (var n = 0u; n < p.N; n++) {
      let base = (n * p.C + wid.x) * p.S;
      for (var s = lid.x; s < p.S; s += WG) { sum += a[base + s]; }
    }
    sum *= 0.5;   // (keeps the two walks from being merged into one)
  }
  finish(lid.x, sum, wid.x);
}

@compute @workgroup_size(WG)
fn runs_one(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  var sum = vec4<f32>(0.0);
  for (var k = 0u; k < RUN; k++) {
    let plane = wid.x * RUN + k;
    if (plane < p.N * p.C) {
      for (var s = lid.x; s < p.S; s += WG) { sum += a[plane * p.S + s]; }
    }
  }
  finish(lid.x, sum, wid.x);
}
