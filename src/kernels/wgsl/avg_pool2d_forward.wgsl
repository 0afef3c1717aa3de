// avg_pool2d_forward.wgsl — 2-D average pooling, NCHW f32.
//
// Legend: x (N, C, H, W); y (N, C, OH, OW). For output (oh, ow), as PyTorch:
//   hstart = oh*SH - pH,  hend = min(hstart + KH, H + pH)      (same for w)
//   pool   = (hend - hstart) * (wend - wstart)                  window size including padding
//   then the window is clipped to the input, [max(hstart, 0), min(hend, H)), and
//   y = sum over the clipped window / (count_include_pad ? pool : clipped area)
// (y = 0 for a window entirely in the padding, which ceilMode can produce.)
// Window size and stride are pipeline constants: the tap loops unroll; taps outside the clipped
// window are loaded from a clamped index and masked (no branches).
// Grid: x covers the OH*OW outputs of a plane (one invocation each), y (spilling into z) the planes.
// Bindings: 0 x (read), 1 y (write), 2 params.
// Reference: src/kernels/reference/pool.ts (avgPool2dRef). Launcher: src/kernels/pool.ts.

struct Pool2dParams {     // the same struct as max_pool2d_forward.wgsl (packPool2dParams)
  planes: u32,
  H: u32,
  W: u32,
  OH: u32,
  OW: u32,
  pH: u32,
  pW: u32,
  count_include_pad: u32,
  inv_W: f32,
  inv_OW: f32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Pool2dParams;

override WG: u32 = 64u;
override KH: u32 = 2u;
override KW: u32 = 2u;
override SH: u32 = 2u;
override SW: u32 = 2u;

fn div_u32(a: u32, d: u32, inv_d: f32) -> u32 {
  // a / d, exact for a < 2^23; see max_pool2d_forward.wgsl.
  let q = i32(f32(i32(a)) * inv_d);
  let r = i32(a) - q * i32(d);
  return u32(q + select(0, 1, r >= i32(d)) - select(0, 1, r < 0));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let pix = gid.x;
  let plane = wid.y + wid.z * nwg.y;
  let per_plane = p.OH * p.OW;
  if (pix >= per_plane || plane >= p.planes) { return; }
  let oh = div_u32(pix, p.OW, p.inv_OW);
  let ow = pix - oh * p.OW;
  let hs = i32(oh * SH) - i32(p.pH);
  let ws = i32(ow * SW) - i32(p.pW);
  let he = min(hs + i32(KH), i32(p.H + p.pH));
  let we = min(ws + i32(KW), i32(p.W + p.pW));
  let pool = f32((he - hs) * (we - ws));
  let hs_in = max(hs, 0);
  let ws_in = max(ws, 0);
  let he_in = min(he, i32(p.H));
  let we_in = min(we, i32(p.W));
  let base = plane * p.H * p.W;
  var acc = 0.0;
  for (var kh = 0u; kh < KH; kh++) {
    let ih = hs + i32(kh);
    let row = u32(clamp(ih, 0, i32(p.H) - 1)) * p.W;
    for (var kw = 0u; kw < KW; kw++) {
      let iw = ws + i32(kw);
      let v = x[base + row + u32(clamp(iw, 0, i32(p.W) - 1))];
      acc += select(0.0, v, ih >= hs_in && ih < he_in && iw >= ws_in && iw < we_in);
    }
  }
  let area = (he_in - hs_in) * (we_in - ws_in);
  let divisor = select(f32(area), pool, p.count_include_pad != 0u);
  y[plane * per_plane + pix] = select(acc / divisor, 0.0, he_in <= hs_in || we_in <= ws_in);
}
