// copy_strided.wgsl — dst view = src view, element by element, for any 32-bit dtype.
//
// Both sides are strided views (offset + per-dimension strides over a common shape), so the
// same kernel makes a permuted tensor contiguous (`contiguous()`), writes a tensor into a
// slice of a larger one (`cat`, the backward of slicing), or expands a broadcast.
// The data moves as raw u32 bits (not f32), so int32 labels survive unchanged: a float
// load/store could flush small integers (float denormals) to zero.
// Work: runs of 4 neighbouring elements of a row per invocation (src/kernels/runs.ts: the
// divisions that find an element's place are paid once per 4, and each side moves its 4 values
// as one vec4 where its row is contiguous and aligned). `main` stores each run as one aligned
// vec4 of dst; `main_any_rows` stores its elements one by one, at dst's stride along the row.
// Bindings: 0 src (read, as vec4s: element j is src4[j / 4][j % 4]), 1 dst (read_write, as vec4s
// or u32s; WGSL allows two variables on one binding as long as no entry point uses both),
// 2 params. Launcher: src/kernels/copy.ts.

struct RunParams {             // packed by packRuns() in src/kernels/runs.ts
  runs: u32,                   // invocations: rows * runs_per_row
  L: u32,                      // row length (the innermost dimension after coalescing)
  runs_per_row: u32,           // ceil(L / 4)
  outer_rank: u32,             // dimensions outside the row
  offset: vec4<u32>,           // element offsets of src, dst (z, w unused)
  inner: vec4<u32>,            // their strides along the row
  shape: array<vec4<u32>, 2>,  // the outer dimensions, outermost first
  strides: array<vec4<u32>, 7>,  // strides[d]: the strides of src, dst over outer dimension d
}

@group(0) @binding(0) var<storage, read> src4: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> dst4: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<uniform> r: RunParams;

override WG: u32 = 256u;
override SRC_MODE: u32 = 2u;   // 0: src is constant along a row, 1: aligned vec4s, 2: strided
override RUNS: u32 = 1u;       // consecutive runs per invocation (runs_per_row % RUNS == 0: one row)

// The element offsets (src, dst) of run i's first element, and in .w its column in the row
// (as in elementwise_binary.wgsl).
fn run_start(i: u32) -> vec4<u32> {
  let row = i / r.runs_per_row;
  let col = (i - row * r.runs_per_row) * 4u;
  var at = r.offset + r.inner * col;
  var rest = row;
  for (var d = i32(r.outer_rank) - 1; d > 0; d--) {
    let size = r.shape[d / 4][d % 4];
    let next = rest / size;
    at += (rest - next * size) * r.strides[d];
    rest = next;
  }
  if (r.outer_rank > 0u) { at += rest * r.strides[0]; }
  return vec4<u32>(at.xy, 0u, col);
}

// The run's values of src, from element `at` on; past the row's end (n < 4) the last one repeats.
fn load_src(at: u32, n: u32) -> vec4<u32> {
  if (SRC_MODE == 0u) { return vec4<u32>(src4[at / 4u][at % 4u]); }
  if (SRC_MODE == 1u) { return src4[at / 4u]; }
  let j = vec4<u32>(at) + min(vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(n - 1u)) * r.inner.x;
  return vec4<u32>(src4[j.x / 4u][j.x % 4u], src4[j.y / 4u][j.y % 4u], src4[j.z / 4u][j.z % 4u], src4[j.w / 4u][j.w % 4u]);
}

// A src constant along the row (mode 0, a broadcast) has the same value in all of an
// invocation's runs: row_value loads it once, at the first run (as in elementwise_binary.wgsl).
fn row_value(first: vec4<u32>) -> vec4<u32> {
  if (SRC_MODE == 0u) { return load_src(first.x, 1u); }
  return vec4<u32>(0u);
}

fn run_values(at: u32, n: u32, row: vec4<u32>) -> vec4<u32> {
  if (SRC_MODE == 0u) { return row; }
  return load_src(at, n);
}

// dst rows of whole aligned vec4s: each run is one vec4 of dst. An invocation takes RUNS
// consecutive runs of one row, so run_start's divisions are paid once for all of them.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = gid.x + gid.y * nwg.x * WG;
  if (g * RUNS >= r.runs) { return; }
  let first = run_start(g * RUNS);
  let row = row_value(first);
  let step = vec4<u32>(4u * r.inner.xyz, 4u);    // from one run to the next along the row
  for (var k = 0u; k < RUNS; k++) {
    let at = first + k * step;
    dst4[at.y / 4u] = run_values(at.x, 4u, row);
  }
}

// Any dst layout: the runs' elements stored one by one, at dst's stride along the row.
@compute @workgroup_size(WG)
fn main_any_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = gid.x + gid.y * nwg.x * WG;
  if (g * RUNS >= r.runs) { return; }
  let first = run_start(g * RUNS);
  let row = row_value(first);
  let step = vec4<u32>(4u * r.inner.xyz, 4u);
  for (var k = 0u; k < RUNS; k++) {
    let at = first + k * step;
    let n = min(4u, r.L - at.w);               // elements in this run
    let v = run_values(at.x, n, row);
    for (var e = 0u; e < n; e++) { dst[at.y + e * r.inner.y] = v[e]; }
  }
}
