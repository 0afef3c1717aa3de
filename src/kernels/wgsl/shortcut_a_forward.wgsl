// shortcut_a_forward.wgsl — the option-A shortcut of the CIFAR ResNets (He et al. 2015) in one
// pass: subsample by 2 in H and W and zero-pad the channels, y = pad_channels(x[:, :, ::2, ::2]).
//   x: (N, C, H, W)   y: (N, C + 2 * PAD, ceil(H / 2), ceil(W / 2))
//   y[n, k, h, w] = x[n, k - PAD, 2h, 2w] when PAD <= k < PAD + C, else 0   (PAD = planes / 4).
// One invocation writes one element of y (a gather: every y element is written exactly once, so
// no zero-fill pass and no intermediate strided view is needed). Gradient:
// shortcut_a_backward.wgsl. Launcher: src/kernels/shortcut.ts.

struct ShortcutParams {          // packed by shortcutParams() in src/kernels/shortcut.ts
  N: u32,
}

@group(0) @binding(0) var<storage, read>       x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
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
