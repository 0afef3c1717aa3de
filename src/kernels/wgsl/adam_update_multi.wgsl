// adam_update_multi.wgsl — adam_update.wgsl's fused Adam / AdamW step for up to 3 parameter
// tensors in one dispatch (see sgd_update_multi.wgsl for why: small tensors are dispatch-bound).
//
// The update is adam_update.wgsl's (see there for the formulas), written once as a function over
// pointers to a slot's buffers (WGSL's unrestricted_pointer_parameters). Each slot has 5 storage
// bindings (param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq), so 3 slots need 15 per stage,
// which the adapter must allow. What depends on a parameter's own step count t (step_size,
// bias_correction2_sqrt, first_step) is in its slot; the rest is the group's.
// Work: slot k owns workgroups first_group[k] to first_group[k + 1] - 1, one vec4 per invocation;
// unused slots have n = 0 and are bound to placeholder buffers.
// Bindings: 5k param (read_write), 5k+1 grad (read), 5k+2 exp_avg, 5k+3 exp_avg_sq, 5k+4
// max_exp_avg_sq (read_write; a placeholder unless amsgrad), for k = 0..2; 15 params.
// Reference: src/kernels/reference/optim.ts (adamStepRef). Launcher: src/kernels/optim.ts (adamUpdateMany).

requires unrestricted_pointer_parameters;

struct Slot {                  // one parameter tensor
  n: u32,                      // its elements
  param_offset: u32,           // vec4 index of element 0 of the parameter
  grad_offset: u32,            // vec4 index of element 0 of the gradient
  first_group: u32,            // its first workgroup
  first_step: u32,             // 1: its state buffers hold no data yet (treat as zeros)
  step_size: f32,              // lr / (1 - beta1^t) for its step count t
  bias_correction2_sqrt: f32,  // sqrt(1 - beta2^t)
  _pad: u32,
}

struct Params {                // packed by adamUpdateMany(), same order
  slots: array<Slot, 3>,
  amsgrad: u32,
  maximize: u32,
  _pad0: u32,
  _pad1: u32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  weight_decay: f32,           // L2 coefficient added to the gradient (Adam); 0 for AdamW
  decay_factor: f32,           // 1 - lr * weight_decay for AdamW; 1 for Adam
  _pad2: f32,
  _pad3: f32,
  _pad4: f32,
}

alias Vecs = array<vec4<f32>>;
@group(0) @binding(0) var<storage, read_write> param0: Vecs;
@group(0) @binding(1) var<storage, read>       grad0: Vecs;
@group(0) @binding(2) var<storage, read_write> m0: Vecs;
@group(0) @binding(3) var<storage, read_write> v0: Vecs;
@group(0) @binding(4) var<storage, read_write> vmax0: Vecs;
@group(0) @binding(5) var<storage, read_write> param1: Vecs;
@group(0) @binding(6) var<storage, read>       grad1: Vecs;
@group(0) @binding(7) var<storage, read_write> m1: Vecs;
@group(0) @binding(8) var<storage, read_write> v1: Vecs;
@group(0) @binding(9) var<storage, read_write> vmax1: Vecs;
@group(0) @binding(10) var<storage, read_write> param2: Vecs;
@group(0) @binding(11) var<storage, read>       grad2: Vecs;
@group(0) @binding(12) var<storage, read_write> m2: Vecs;
@group(0) @binding(13) var<storage, read_write> v2: Vecs;
@group(0) @binding(14) var<storage, read_write> vmax2: Vecs;
@group(0) @binding(15) var<uniform> p: Params;

override WG: u32 = 256u;

// vec4 i of one slot's tensor: the same arithmetic as adam_update.wgsl's update().
fn update(param: ptr<storage, Vecs, read_write>, grad: ptr<storage, Vecs, read>, exp_avg: ptr<storage, Vecs, read_write>,
          exp_avg_sq: ptr<storage, Vecs, read_write>, max_exp_avg_sq: ptr<storage, Vecs, read_write>, s: Slot, i: u32) {
  var g = (*grad)[s.grad_offset + i];
  var w = (*param)[s.param_offset + i];
  if (p.maximize != 0u) { g = -g; }
  w = p.decay_factor * w;
  g = g + p.weight_decay * w;
  var m = vec4<f32>(0.0);
  var v = vec4<f32>(0.0);
  if (s.first_step == 0u) {
    m = (*exp_avg)[i];
    v = (*exp_avg_sq)[i];
  }
  m = p.beta1 * m + (1.0 - p.beta1) * g;
  v = p.beta2 * v + (1.0 - p.beta2) * g * g;
  (*exp_avg)[i] = m;
  (*exp_avg_sq)[i] = v;
  var v_hat = v;
  if (p.amsgrad != 0u) {
    if (s.first_step == 0u) { v_hat = max((*max_exp_avg_sq)[i], v); }
    (*max_exp_avg_sq)[i] = v_hat;
  }
  let denom = sqrt(v_hat) / s.bias_correction2_sqrt + p.eps;
  let out = w - s.step_size * m / denom;
  // Store only the lanes below n: the tail of the parameter's buffer is not ours to write.
  let lanes = s.n - 4u * i;
  if (lanes >= 4u) {
    (*param)[s.param_offset + i] = out;
  } else {
    for (var j = 0u; j < lanes; j++) { (*param)[s.param_offset + i][j] = out[j]; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  var k = 0u;
  for (var j = 1u; j < 3u; j++) {
    if (p.slots[j].n > 0u && w >= p.slots[j].first_group) { k = j; }
  }
  let s = p.slots[k];
  let i = (w - s.first_group) * WG + lid.x;
  if (i >= (s.n + 3u) / 4u) { return; }
  switch k {
    case 0u: { update(&param0, &grad0, &m0, &v0, &vmax0, s, i); }
    case 1u: { update(&param1, &grad1, &m1, &v1, &vmax1, s, i); }
    default: { update(&param2, &grad2, &m2, &v2, &vmax2, s, i); }
  }
}
