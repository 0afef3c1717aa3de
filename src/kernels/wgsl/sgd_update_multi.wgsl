// sgd_update_multi.wgsl — sgd_update.wgsl's fused SGD step for up to 4 parameter tensors in one
// dispatch.
//
// Why: one dispatch per parameter is dominated by the dispatch itself when tensors are small (a
// CIFAR ResNet-20 has 59 parameters, most under 10,000 values; on lavapipe a dispatch costs
// ~30 µs whatever it does). Parameters live in separate buffers, so a dispatch can only reach
// those it binds: here 4 slots of (param, grad, momentum buffer), 12 storage bindings, which the
// adapter must allow (maxStorageBuffersPerShaderStage; lavapipe and desktop GPUs offer 16+).
// The update itself is sgd_update.wgsl's (see there for the formulas), written once as a
// function over pointers to a slot's buffers (WGSL's unrestricted_pointer_parameters).
//
// Work: the workgroups of the slots follow one another; slot k owns workgroups first_group[k] to
// first_group[k + 1] - 1 and each invocation updates one vec4 of its tensor. Unused slots have
// n = 0 and are bound to placeholder buffers.
// Bindings: 3k param (read_write), 3k+1 grad (read), 3k+2 momentum buffer (read_write), for k =
// 0..3; 12 params.
// Reference: src/kernels/reference/optim.ts (sgdStepRef). Launcher: src/kernels/optim.ts (sgdUpdateMany).

requires unrestricted_pointer_parameters;

struct Slot {            // one parameter tensor
  n: u32,                // its elements
  param_offset: u32,     // vec4 index of element 0 of the parameter
  grad_offset: u32,      // vec4 index of element 0 of the gradient
  first_group: u32,      // its first workgroup
  first_step: u32,       // 1 on its first momentum step: buf = g
  _pad0: u32, _pad1: u32, _pad2: u32,
}

struct Params {          // packed by sgdUpdateMany(), same order
  slots: array<Slot, 4>,
  use_momentum: u32,
  nesterov: u32,
  maximize: u32,
  _pad: u32,
  lr: f32,
  momentum: f32,
  dampening: f32,
  weight_decay: f32,
}

alias Vecs = array<vec4<f32>>;
@group(0) @binding(0) var<storage, read_write> param0: Vecs;
@group(0) @binding(1) var<storage, read>       grad0: Vecs;
@group(0) @binding(2) var<storage, read_write> buf0: Vecs;
@group(0) @binding(3) var<storage, read_write> param1: Vecs;
@group(0) @binding(4) var<storage, read>       grad1: Vecs;
@group(0) @binding(5) var<storage, read_write> buf1: Vecs;
@group(0) @binding(6) var<storage, read_write> param2: Vecs;
@group(0) @binding(7) var<storage, read>       grad2: Vecs;
@group(0) @binding(8) var<storage, read_write> buf2: Vecs;
@group(0) @binding(9) var<storage, read_write> param3: Vecs;
@group(0) @binding(10) var<storage, read>      grad3: Vecs;
@group(0) @binding(11) var<storage, read_write> buf3: Vecs;
@group(0) @binding(12) var<uniform> p: Params;

override WG: u32 = 256u;

// vec4 i of one slot's tensor: the same arithmetic as sgd_update.wgsl's update().
fn update(param: ptr<storage, Vecs, read_write>, grad: ptr<storage, Vecs, read>, buf: ptr<storage, Vecs, read_write>,
          s: Slot, i: u32) {
  var g = (*grad)[s.grad_offset + i];
  let w = (*param)[s.param_offset + i];
  if (p.maximize != 0u) { g = -g; }
  g = g + p.weight_decay * w;
  if (p.use_momentum != 0u) {
    var b = g;
    if (s.first_step == 0u) { b = p.momentum * (*buf)[i] + (1.0 - p.dampening) * g; }
    (*buf)[i] = b;
    if (p.nesterov != 0u) { g = g + p.momentum * b; } else { g = b; }
  }
  let v = w - p.lr * g;
  // Store only the lanes below n: the tail of the parameter's buffer is not ours to write.
  let lanes = s.n - 4u * i;
  if (lanes >= 4u) {
    (*param)[s.param_offset + i] = v;
  } else {
    for (var j = 0u; j < lanes; j++) { (*param)[s.param_offset + i][j] = v[j]; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  var k = 0u;
  for (var j = 1u; j < 4u; j++) {
    if (p.slots[j].n > 0u && w >= p.slots[j].first_group) { k = j; }
  }
  let s = p.slots[k];
  let i = (w - s.first_group) * WG + lid.x;
  if (i >= (s.n + 3u) / 4u) { return; }
  switch k {
    case 0u: { update(&param0, &grad0, &buf0, s, i); }
    case 1u: { update(&param1, &grad1, &buf1, s, i); }
    case 2u: { update(&param2, &grad2, &buf2, s, i); }
    default: { update(&param3, &grad3, &buf3, s, i); }
  }
}
