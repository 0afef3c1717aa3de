#!/usr/bin/env python3
"""PyTorch reference timings on the same GPU, for the ratios in bench/RESULTS.md.

  python3 bench/peers/torch_cuda.py [--device cuda|cpu] [--threads N] [--json out.json]

Measures, in fp32 (TF32 disabled so it is the same arithmetic as our WGSL kernels):
  - square GEMM GFLOP/s for 1024, 2048, 4096 (2*n^3 flops per product)
  - ResNet-50 training images/s at batch 32 (224x224) and ResNet-18/50 inference at batch 1 and 8
  - CIFAR ResNet-20 training images/s at batch 128
The models are torchvision's (ResNet-20 defined here as in test/fixtures/generate.py).
"""
import argparse, json, time
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
p.add_argument('--threads', type=int, default=0)
p.add_argument('--json', default='')
p.add_argument('--quick', action='store_true')
args = p.parse_args()
dev = torch.device(args.device)
if args.threads:
    torch.set_num_threads(args.threads)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.backends.cudnn.benchmark = True


def sync():
    if dev.type == 'cuda':
        torch.cuda.synchronize()


def timeit(fn, warmup=3, reps=10):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def timeit_pipelined(fn, reps=10):
    """Seconds per call of `reps` calls back to back with one synchronize at the end (as a training
    loop that reads its loss now and then: the host queues the next steps while the GPU runs),
    after timeit's warm-up; bench/models.ts's "pipelined" column measures the same."""
    sync()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    sync()
    return (time.perf_counter() - t0) / reps


class BasicBlockA(nn.Module):
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = planes // 4 if (stride != 1 or inp != planes) else 0

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x
        if self.pad:
            sc = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(out + sc)


def cifar_resnet(depth=20):
    n = (depth - 2) // 6
    layers, inp = [], 16
    for planes, stride in ((16, 1), (32, 2), (64, 2)):
        for i in range(n):
            layers.append(BasicBlockA(inp, planes, stride if i == 0 else 1))
            inp = planes
    return nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(), *layers,
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


def train_ips(model, batch, size, classes):
    model = model.to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch, 3, size, size, device=dev)
    y = torch.randint(0, classes, (batch,), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()
    t = timeit(step, warmup=3, reps=5 if args.quick else 10)
    return batch / t, batch / timeit_pipelined(step, reps=5 if args.quick else 10)


def infer_ips(model, batch, size):
    model = model.to(dev).eval()
    x = torch.randn(batch, 3, size, size, device=dev)
    with torch.no_grad():
        t = timeit(lambda: model(x), warmup=3, reps=10)
        tp = timeit_pipelined(lambda: model(x), reps=10)
    return batch / t, batch / tp


import torchvision
res = {'device': torch.cuda.get_device_name() if dev.type == 'cuda' else f'cpu x{torch.get_num_threads()}',
       'torch': torch.__version__, 'gemm_gflops': {}}
for n in ([1024, 2048] if args.quick else [1024, 2048, 4096]):
    a = torch.randn(n, n, device=dev)
    b = torch.randn(n, n, device=dev)
    t = timeit(lambda: a @ b)
    res['gemm_gflops'][n] = 2 * n ** 3 / t / 1e9
# Each workload both ways: waiting for every step (key), and pipelined (key + '_pipelined').
res['resnet20_train_ips_b128'], res['resnet20_train_ips_b128_pipelined'] = train_ips(cifar_resnet(20), 128, 32, 10)
if dev.type == 'cuda' or not args.quick:
    res['resnet50_train_ips_b32'], res['resnet50_train_ips_b32_pipelined'] = train_ips(torchvision.models.resnet50(), 32, 224, 1000)
for name, ctor in (('resnet18', torchvision.models.resnet18), ('resnet50', torchvision.models.resnet50)):
    for b in (1, 8):
        res[f'{name}_infer_ips_b{b}'], res[f'{name}_infer_ips_b{b}_pipelined'] = infer_ips(ctor(), b, 224)
print(json.dumps(res, indent=1))
if args.json:
    with open(args.json, 'w') as f:
        json.dump(res, f, indent=1)
