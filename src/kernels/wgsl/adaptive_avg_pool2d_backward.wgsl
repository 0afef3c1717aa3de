// adaptive_avg_pool2d_backward.wgsl — gradient of adaptive average pooling, NCHW f32,
// deterministic gather.
//
// Legend and bins as in adaptive_avg_pool2d_forward.wgsl. Each input element sums the shares of
// the bins that contain it:
//   dx[n, c, ih, iw] = sum over bins (oh, ow) containing (ih, iw) of gy[n, c, oh, ow] / area(oh, ow)
// Bin oh contains ih when floor(oh*H/OH) <= ih < ceil((oh+1)*H/OH), i.e.
//   oh in [floor(ih * OH / H), ceil((ih + 1) * OH / H) - 1]                 (same for ow)
// One invocation per input element; fixed visiting order (oh, ow).
// Bindings: 0 gy (read), 1 dx (write), 2 params.
// Reference: src/kernels/reference/pool.ts (adaptiveAvgPool2dBackwardRef). Launcher: src/kernels/pool.ts.

struct AdaptivePoolParams {
  planes: u32,
  H: u32,
  W: u32,
  OH: u32,
  OW: u32,
  _p0: u32,
  _p1: u32,
  _p2: u32,
}

@group(0) @binding(0) var<storage, read> gy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<uniform> p: AdaptivePoolParams;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let per_plane = p.H * p.W;
  if (i >= p.planes * per_plane) { return; }
  let plane = i / per_plane;
  let ih = (i % per_plane) / p.W;
  let iw = i % p.W;
  let oh_lo = (ih * p.OH) / p.H;
  let oh_hi = ((ih + 1u) * p.OH + p.H - 1u) / p.H;
  let ow_lo = (iw * p.OW) / p.W;
  let ow_hi = ((iw + 1u) * p.OW + p.W - 1u) / p.W;
  let out_base = plane * p.OH * p.OW;
  var acc = 0.0;
  for (var oh = oh_lo; oh < oh_hi; oh++) {
    let h_area = ((oh + 1u) * p.H + p.OH - 1u) / p.OH - (oh * p.H) / p.OH;
    for (var ow = ow_lo; ow < ow_hi; ow++) {
      let w_area = ((ow + 1u) * p.W + p.OW - 1u) / p.OW - (ow * p.W) / p.OW;
      acc += gy[out_base + oh * p.OW + ow] / f32(h_area * w_area);
    }
  }
  dx[i] = acc;
}
