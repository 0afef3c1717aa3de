// shortcut_a_forward.wgsl — the option-A shortcut of the CIFAR ResNets (He et al. 2015) in one
// pass: subsample by 2 in H and W and zero-pad the channels, y = pad_channels(x[:, :, ::2, ::2]).
//   x: (N, C, H, W)   y: (N, C + 2 * PAD, ceil(H / 2), ceil(W / 2))
//   y[n, k, h, w] = x[n, k - PAD, 2h, 2w] when PAD <= k < PAD + C, else 0   (PAD = planes / 4).
// One invocation writes one element of y (a gather: every y element is written exactly once, so
// no zero-fill pass and no intermediate strided view is needed). Gradient:
// shortcut_a_backward.wgsl. Launcher: src/kernels/shortcut.ts. `main_vec4` (below) writes 4 at a
// time where the rows allow.

struct ShortcutParams {          // packed by shortcutParams() in src/kernels/shortcut.ts
  N: u32,
}

@group(0) @binding(0) var<storage, read>       x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(0) var<storage, read>       x4: array<vec4<f32>>;   // x again, as vec4s (main_vec4)
@group(0) @binding(1) var<storage, read_write> y4: array<vec4<f32>>;   // y again, as vec4s (main_vec4)
@group(0) @binding(2) var<uniform>             p: ShortcutParams;

override WG: u32 = 256u;
// The layer's geometry as pipeline constants (one pipeline per shape; a ResNet has two): the
// index arithmetic below divides by them, and a division by a constant compiles to a multiply
// and shift, where a division by a runtime value is scalarised lane by lane on a CPU adapter
// (~4x slower for this kernel on lavapipe).
override C: u32 = 1u;
override H: u32 = 1u;
override W: u32 = 1u;
override PAD: u32 = 0u;
override K = C + 2u * PAD;        // output channels
override P = (H + 1u) / 2u;       // output rows, ceil(H / 2)
override Q = (W + 1u) / 2u;       // output columns

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N * K * P * Q) { return; }
  let w = i % Q;
  let h = (i / Q) % P;
  let k = (i / (P * Q)) % K;
  let n = i / (K * P * Q);
  let inside = k >= PAD && k < PAD + C;
  let src = ((n * C + k - PAD) * H + 2u * h) * W + 2u * w;
  y[i] = select(0.0, x[select(0u, src, inside)], inside);
}

// `main_vec4`, when W % 8 == 0: one invocation writes 4 neighbouring outputs of a row as a vec4,
// from the 8 input columns 2w .. 2w+7 that hold them, two aligned vec4 loads (on a CPU adapter
// each load walks the lanes: 2 loads and 1 store per 4 outputs instead of 4 and 4).
@compute @workgroup_size(WG)
fn main_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;   // vec4 of y
  let Q4 = Q / 4u;
  if (i >= p.N * K * P * Q4) { return; }
  let w4 = i % Q4;
  let h = (i / Q4) % P;
  let k = (i / (P * Q4)) % K;
  let n = i / (K * P * Q4);
  let inside = k >= PAD && k < PAD + C;
  let src4 = select(0u, (((n * C + k - PAD) * H + 2u * h) * W) / 4u + 2u * w4, inside);
  let a = x4[src4];
  let b = x4[src4 + 1u];
  y4[i] = select(vec4<f32>(0.0), vec4<f32>(a.x, a.z, b.x, b.z), inside);
}
