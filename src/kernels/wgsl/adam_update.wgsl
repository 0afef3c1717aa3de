// adam_update.wgsl — one fused, in-place Adam / AdamW step (torch.optim.Adam / AdamW semantics)
// for one parameter tensor.
//
// Per element, with p the parameter, g its gradient, m / v / vmax the state:
//   g    = maximize ? -g : g
//   p    = decay_factor * p                       (AdamW: 1 - lr * weight_decay; Adam: 1)
//   g    = g + weight_decay * p                   (Adam's L2 term; 0 for AdamW)
//   m    = beta1 * m + (1 - beta1) * g            (first_step: m = v = vmax = 0 before this)
//   v    = beta2 * v + (1 - beta2) * g * g
//   vmax = max(vmax, v)                           (amsgrad only; the denominator then uses vmax)
//   p    = p - step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)
// with step_size = lr / (1 - beta1^t) and bias_correction2_sqrt = sqrt(1 - beta2^t) computed on
// the host in float64 for the step count t, exactly as torch does.
// On the first step the state buffers are uninitialised and first_step == 1 makes the kernel
// treat them as zeros (beta * 0 + x == x, so this is bit-identical to zero-initialised state and
// saves a fill pass).
//
// Scheduling: one dispatch per parameter tensor (see sgd_update.wgsl for why not one per group;
// adam_update_multi.wgsl updates 3 per dispatch where the adapter allows 15 storage bindings);
// each element of p, g, m, v (and vmax) is loaded once and stored once.
// Hyperparameters arrive in the uniform struct, so a scheduler changing lr or betas never
// rebuilds a pipeline.
//
// Layout: every buffer is viewed as vec4<f32>; the launcher guarantees that element offsets of
// param and grad are multiples of 4. Lanes past n of the last vec4 are computed but never stored
// into the parameter (state buffers are the optimizer's own and are written whole).
// Work: each invocation updates VEC vec4s, strided by WG inside its workgroup's tile.
// Bindings: 0 param (read_write, n), 1 grad (read, n), 2 exp_avg m (read_write, n),
// 3 exp_avg_sq v (read_write, n), 4 max_exp_avg_sq vmax (read_write, n; a 16-byte dummy unless
// amsgrad), 5 params.
// Reference: src/kernels/reference/optim.ts (adamStepRef). Launcher: src/kernels/optim.ts (adamUpdate).

struct AdamParams {          // packed by adamUpdate(), same field order
  n: u32,
  param_offset: u32,         // vec4 index of element 0 of the parameter
  grad_offset: u32,          // vec4 index of element 0 of the gradient
  first_step: u32,           // 1: the state buffers hold no data yet (treat as zeros)
  amsgrad: u32,
  maximize: u32,
  _pad0: u32,
  _pad1: u32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,         // L2 coefficient added to the gradient (Adam); 0 for AdamW
  decay_factor: f32,         // 1 - lr * weight_decay for AdamW; 1 for Adam
  step_size: f32,            // lr / (1 - beta1^t)
  bias_correction2_sqrt: f32,// sqrt(1 - beta2^t)
  _pad2: f32,
}

@group(0) @binding(0) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read>       grad: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> exp_avg: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> exp_avg_sq: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> max_exp_avg_sq: array<vec4<f32>>;
@group(0) @binding(5) var<uniform>             p: AdamParams;

override WG: u32 = 256u;
override VEC: u32 = 1u;    // vec4s per invocation (the launcher sets it)

// Store only the lanes below n: the tail of the parameter's buffer is not ours to write.
fn store_param(i: u32, v: vec4<f32>, lanes: u32) {
  if (lanes >= 4u) {
    param[p.param_offset + i] = v;
    return;
  }
  for (var j = 0u; j < lanes; j++) {
    param[p.param_offset + i][j] = v[j];
  }
}

fn update(i: u32) {
  var g = grad[p.grad_offset + i];
  var w = param[p.param_offset + i];
  if (p.maximize != 0u) { g = -g; }
  w = p.decay_factor * w;
  g = g + p.weight_decay * w;

  var m = vec4<f32>(0.0);
  var v = vec4<f32>(0.0);
  if (p.first_step == 0u) {
    m = exp_avg[i];
    v = exp_avg_sq[i];
  }
  m = p.beta1 * m + (1.0 - p.beta1) * g;
  v = p.beta2 * v + (1.0 - p.beta2) * g * g;
  exp_avg[i] = m;
  exp_avg_sq[i] = v;

  var v_hat = v;
  if (p.amsgrad != 0u) {
    if (p.first_step == 0u) { v_hat = max(max_exp_avg_sq[i], v); }
    max_exp_avg_sq[i] = v_hat;
  }
  let denom = sqrt(v_hat) / p.bias_correction2_sqrt + p.eps;
  store_param(i, w - p.step_size * m / denom, p.n - 4u * i);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let tile = (wid.x + wid.y * nwg.x) * WG * VEC;
  let vec_count = (p.n + 3u) / 4u;
  for (var k = 0u; k < VEC; k++) {
    let i = tile + k * WG + lid.x;
    if (i < vec_count) { update(i); }
  }
}
