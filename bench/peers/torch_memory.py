#!/usr/bin/env python3
"""PyTorch's memory for ResNet-50 training steps, the peer of bench/memory.ts.

  /usr/bin/python3 bench/peers/torch_memory.py [--batch 2] [--size 224] [--classes 1000] [--steps 2] [--json out.json]

The machine has torch on the CPU only, where there is no torch.cuda.max_memory_allocated. Two
measurements of one training step (SGD, momentum 0.9, zero_grad(set_to_none=True), as ours):

1. Accounting (the number compared with ours). What a training step must hold at its peak,
   counted from the tensors themselves, each storage once (deduplicated by data_ptr):
     parameters + gradients + optimizer state (momentum buffers)
     + activations: every tensor autograd saves for backward during the forward, recorded with
       torch.autograd.graph.saved_tensors_hooks (the pack hook sees each saved tensor; the
       parameters, already counted, are excluded)
     + the logits and the loss.
   Gradients are counted in full although backward frees activations while it creates them, so
   this is slightly above the true peak of a perfect allocator (the overlap is small for
   ResNets: the largest activations belong to the first layers, whose weights are small).

2. The CPU allocator's trace (a cross-check): torch.profiler with profile_memory=True records
   what every op allocates and frees; in time order their running sum, plus what was live before
   the step (parameters, buffers, momentum, the previous step's gradients, the batch), gives the
   peak of live bytes as the allocator saw it, at op granularity.

The model is torchvision's resnet50 re-implemented here (torchvision is not installed), same
layers and shapes. Prints one JSON object.
"""
import argparse, json, time
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--batch', type=int, default=2)
p.add_argument('--size', type=int, default=224)
p.add_argument('--classes', type=int, default=1000)
p.add_argument('--steps', type=int, default=2)
p.add_argument('--json', default='')
args = p.parse_args()
torch.manual_seed(0)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet50(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make(64, 3, 1)
        self.layer2 = self._make(128, 4, 2)
        self.layer3 = self._make(256, 6, 2)
        self.layer4 = self._make(512, 3, 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(2048, num_classes)

    def _make(self, planes, blocks, stride):
        down = None
        if stride != 1 or self.inplanes != planes * 4:
            down = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False), nn.BatchNorm2d(planes * 4))
        layers = [Bottleneck(self.inplanes, planes, stride, down)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def storage_key(t):
    s = t.storage()
    return s.data_ptr(), s.nbytes()


def distinct_bytes(tensors):
    seen = {}
    for t in tensors:
        if t is None:
            continue
        ptr, nbytes = storage_key(t)
        seen[ptr] = max(seen.get(ptr, 0), nbytes)
    return sum(seen.values())


model = ResNet50(args.classes).train()
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
x = torch.randn(args.batch, 3, args.size, args.size)
y = torch.randint(0, args.classes, (args.batch,))
param_ptrs = {storage_key(q)[0] for q in model.parameters()}


def step(record=None):
    opt.zero_grad(set_to_none=True)
    saved = {}

    def pack(t):
        ptr, nbytes = storage_key(t)
        if ptr not in param_ptrs:
            saved[ptr] = max(saved.get(ptr, 0), nbytes)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logits = model(x)
        loss = F.cross_entropy(logits, y)
    out_bytes = distinct_bytes([logits, loss])
    loss.backward()
    opt.step()
    return sum(saved.values()), out_bytes, loss.item()


times = []
for _ in range(max(args.steps, 1)):
    t0 = time.perf_counter()
    activations, outputs, loss = step()
    times.append(time.perf_counter() - t0)

params = distinct_bytes(model.parameters())
grads = distinct_bytes(q.grad for q in model.parameters())
state = distinct_bytes(v for s in opt.state.values() for v in s.values() if torch.is_tensor(v))
buffers = distinct_bytes(model.buffers())
accounted = params + buffers + grads + state + activations + outputs

# 2. The allocator's trace of one more step.
trace_peak = None
try:
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    # Each op event carries the bytes it allocated minus those it freed, its children excluded
    # (self_cpu_memory_usage); '[memory]' events carry allocations outside any op. In time order,
    # their running sum is the live level at op granularity (a workspace an op allocates and
    # frees itself is not seen).
    events = sorted(prof.profiler.function_events, key=lambda e: e.time_range.start)
    level = peak = 0
    for e in events:
        level += e.self_cpu_memory_usage
        peak = max(peak, level)
    # Live when the trace starts: parameters, buffers, momentum, the previous step's gradients
    # (zero_grad inside the traced step frees them: the running sum goes negative first), the batch.
    trace_peak = params + buffers + state + grads + distinct_bytes([x, y]) + peak
except Exception as err:  # the profiler is optional; the accounting above is the main figure
    trace_peak = f'unavailable: {err}'

result = {
    'torch': torch.__version__,
    'model': 'resnet50',
    'batch': args.batch,
    'size': args.size,
    'classes': args.classes,
    'bytes': {
        'parameters': params,
        'buffers': buffers,
        'gradients': grads,
        'optimizer_state': state,
        'saved_activations': activations,
        'outputs': outputs,
        'accounted_peak': accounted,
        'allocator_trace_peak': trace_peak,
    },
    'step_seconds': min(times),
    'loss': loss,
}
print(json.dumps(result))
if args.json:
    with open(args.json, 'w') as f:
        json.dump(result, f, indent=2)
