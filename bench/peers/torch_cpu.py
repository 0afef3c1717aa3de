#!/usr/bin/env python3
"""PyTorch CPU on the workloads of the peer comparison (compare.mjs), one JSON line on stdout.

  /usr/bin/python3 bench/peers/torch_cpu.py [--threads 2] [--quick]

Same workloads and the same timing rule as timing.mjs (warm-up runs, then the median), fp32, NCHW:
  gemm1024/2048  a @ b
  convFwd        F.conv2d(x [32,64,32,32], w [64,64,3,3], padding=1)
  convBwd        torch.ops.aten.convolution_backward(dy, x, w, ..., output_mask=[True, True, False]):
                 the input and weight gradients conv2d's autograd computes, given dy
  bnTrain        F.batch_norm(x, running_mean, running_var, gamma, beta, training=True)
  resnet18Infer  torchvision's ResNet-18 layout (defined below: torchvision is not installed here),
                 eval mode, no_grad, batch 1 224x224
  resnet20Train  CIFAR ResNet-20 (shortcut A, as torch_cuda.py), zero_grad, forward, cross-entropy,
                 backward, SGD(lr 0.01, momentum 0.9, weight decay 1e-4) step
"""
import argparse, json, time
import torch
import torch.nn as nn
import torch.nn.functional as F

p = argparse.ArgumentParser()
p.add_argument('--threads', type=int, default=2)
p.add_argument('--quick', action='store_true')
args = p.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)


def reps(n):
    return min(n, 2) if args.quick else n


def time_steps(fn, warmup=1, n=5):
    first = None
    for i in range(warmup):
        t0 = time.perf_counter()
        fn()
        if i == 0:
            first = (time.perf_counter() - t0) * 1e3
    times, cpu = [], []
    for _ in range(n):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    times_sorted = sorted(times)
    return {'ms': times_sorted[len(times) // 2], 'cpuMs': sorted(cpu)[len(cpu) // 2], 'firstMs': first, 'times': times}


class BasicBlock(nn.Module):
    """torchvision's BasicBlock (ResNet-18/34)."""
    def __init__(self, inp, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.down = None
        if stride != 1 or inp != planes:
            self.down = nn.Sequential(nn.Conv2d(inp, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.down(x) if self.down is not None else x))


def resnet18(num_classes=1000):
    layers, inp = [], 64
    for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        for i in range(2):
            layers.append(BasicBlock(inp, planes, stride if i == 0 else 1))
            inp = planes
    return nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1),
                         *layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes))


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


res = {}
with torch.no_grad():
    for n in (1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        res[f'gemm{n}'] = time_steps(lambda: a @ b, 1, reps(3 if n > 1024 else 5))
    x = torch.randn(32, 64, 32, 32)
    w = torch.randn(64, 64, 3, 3) * 0.05
    dy = torch.randn(32, 64, 32, 32)
    res['convFwd'] = time_steps(lambda: F.conv2d(x, w, padding=1), 1, reps(5))
    res['convBwd'] = time_steps(lambda: torch.ops.aten.convolution_backward(
        dy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [True, True, False]), 1, reps(3))
    rm, rv, gamma, beta = torch.zeros(64), torch.ones(64), torch.ones(64), torch.zeros(64)
    res['bnTrain'] = time_steps(lambda: F.batch_norm(x, rm, rv, gamma, beta, training=True), 1, reps(5))
    m = resnet18().eval()
    xi = torch.randn(1, 3, 224, 224)
    res['resnet18Infer'] = time_steps(lambda: m(xi), 2, reps(5))

m = cifar_resnet(20).train()
opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
xt = torch.randn(128, 3, 32, 32)
yt = torch.arange(128) % 10


def step():
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(m(xt), yt).backward()
    opt.step()


res['resnet20Train'] = time_steps(step, 2, reps(3))
print(json.dumps({'engine': 'pytorch-cpu', 'torch': torch.__version__, 'threads': torch.get_num_threads(), 'results': res}))
