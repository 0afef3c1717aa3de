// cross_entropy_reduce.wgsl — reduce the per-row cross-entropy losses and check the labels.
// One workgroup (a handful of rows per lane), fixed-order tree: deterministic, no atomics.
//
// Legend: loss (N) from cross_entropy_forward.wgsl, labels (N) int32, C classes.
//   valid  = rows whose label is not ignore_index (HAS_IGNORE)
//   out[0] = sum over rows of loss, divided by the number of valid rows when MEAN
//            (PyTorch's 'mean': ignored rows count neither in the sum nor in the divisor)
//   report = (bad, first_bad_row, first_bad_label, valid)  int32, where bad counts labels outside
//            [0, C) that are not ignored. The launcher copies `report` back and raises an
//            OpArgumentError at the next sync if bad > 0; cross_entropy_backward.wgsl reads `valid`.
// WRITE_OUT is false for reduction 'none' (only the report is needed).
// Bindings: 0 loss (read), 1 labels (read, i32), 2 out (write, 1), 3 report (write, 4 i32), 4 params.
// Reference: src/kernels/reference/cross-entropy.ts (crossEntropyRef). Launcher: src/kernels/cross-entropy.ts.

struct CrossEntropyParams {
  N: u32,
  C: u32,
  smoothing: f32,
  ignore_index: i32,
}

@group(0) @binding(0) var<storage, read> loss: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> report: array<i32>;
@group(0) @binding(4) var<uniform> p: CrossEntropyParams;

override WG: u32 = 256u;
override HAS_IGNORE: bool = false;
override MEAN: bool = true;
override WRITE_OUT: bool = true;

const NO_ROW: u32 = 0xffffffffu;

var<workgroup> sums: array<f32, WG>;
var<workgroup> counts: array<vec3<u32>, WG>;   // (valid, bad, first bad row)

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>) {
  let lid = lid3.x;
  var total = 0.0;
  var valid = 0u;
  var bad = 0u;
  var first_bad = NO_ROW;
  for (var row = lid; row < p.N; row += WG) {
    let t = labels[row];
    if (HAS_IGNORE && t == p.ignore_index) { continue; }
    valid += 1u;
    total += loss[row];
    if (t < 0 || t >= i32(p.C)) {
      bad += 1u;
      first_bad = min(first_bad, row);
    }
  }
  sums[lid] = total;
  counts[lid] = vec3<u32>(valid, bad, first_bad);
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    if (lid < width) {
      sums[lid] = sums[lid] + sums[lid + width];
      let a = counts[lid];
      let b = counts[lid + width];
      counts[lid] = vec3<u32>(a.x + b.x, a.y + b.y, min(a.z, b.z));
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let c = counts[0];
    if (WRITE_OUT) {
      if (MEAN) { out[0] = sums[0] / f32(c.x); } else { out[0] = sums[0]; }
    }
    var bad_label = 0;
    if (c.y > 0u) { bad_label = labels[c.z]; }
    report[0] = i32(c.y);
    report[1] = select(-1, i32(c.z), c.y > 0u);
    report[2] = bad_label;
    report[3] = i32(c.x);
  }
}
