// ResNet definitions: parameter counts of every model (torchvision's published numbers and the
// generator's CIFAR models), state-dict keys/shapes/order identical to torchvision and to the
// fixture files, printing, and torchvision's initialisation (incl. zeroInitResidual).
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import * as wg from '../../src/index.js';
import { useDevice, loadFixtures, fixturePath } from '../helpers.js';

useDevice();

const { models } = wg;

async function stats(t: wg.Tensor): Promise<{ mean: number; std: number; min: number; max: number }> {
  const d = await t.data();
  let s = 0;
  let s2 = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const v of d) {
    s += v;
    s2 += v * v;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  const mean = s / d.length;
  return { mean, std: Math.sqrt(s2 / d.length - mean * mean), min, max };
}

describe('torchvision ResNets', () => {
  // torchvision.models.*: sum(p.numel() for p in m.parameters()) with num_classes=1000.
  const counts: [string, () => wg.models.ResNet, number][] = [
    ['resnet18', () => models.resnet18(), 11_689_512],
    ['resnet34', () => models.resnet34(), 21_797_672],
    ['resnet50', () => models.resnet50(), 25_557_032],
    ['resnet101', () => models.resnet101(), 44_549_160],
    ['resnet152', () => models.resnet152(), 60_192_808],
    ['resnext50_32x4d', () => models.resnext50_32x4d(), 25_028_904],
    ['wideResnet50_2', () => models.wideResnet50_2(), 68_883_240],
  ];
  it.each(counts)('%s has the torchvision parameter count (allocated on the GPU)', async (_name, build, n) => {
    const m = build();
    expect(m.numParameters()).toBe(n);
    await wg.sync();
    m.dispose();
  });

  it('resnet18 state dict: the fixture generator\'s torchvision key list, shapes and order', () => {
    const fixture = loadFixtures('resnet').find((c) => c.op === 'resnet18Eval')!;
    const expected = (fixture.options.stateDict as { name: string; shape: number[]; dtype: string }[])
      .map((e) => [e.name, e.shape, e.dtype === 'int64' ? 'int32' : 'float32']);
    const m = models.resnet18({ numClasses: 10 });
    expect([...m.stateDict()].map(([k, t]) => [k, [...t.shape], t.dtype])).toEqual(expected);
    expect(m.stateDict().has('layer2.0.downsample.0.weight')).toBe(true);
    expect(m.stateDict().has('layer1.0.downsample.0.weight')).toBe(false);
    m.dispose();
  });

  it('resnet50 keys follow torchvision (Bottleneck: conv1..3, bn1..3, downsample in layer1 too)', () => {
    const m = models.resnet50({ numClasses: 10 });
    const keys = [...m.stateDict().keys()];
    expect(keys.length).toBe(320);
    expect(keys.slice(0, 6)).toEqual(['conv1.weight', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'bn1.num_batches_tracked']);
    expect(keys).toContain('layer1.0.downsample.0.weight');
    expect(keys).toContain('layer4.2.bn3.num_batches_tracked');
    expect(m.stateDict().get('layer3.0.conv2.weight')!.shape).toEqual([256, 256, 3, 3]);
    expect(keys.slice(-2)).toEqual(['fc.weight', 'fc.bias']);
    m.dispose();
  });

  it('prints like torchvision', () => {
    const m = models.resnet18();
    const lines = String(m).split('\n');
    expect(lines.slice(0, 20)).toEqual([
      'ResNet(',
      '  (conv1): Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)',
      '  (bn1): BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)',
      '  (relu): ReLU()',
      '  (maxpool): MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)',
      '  (layer1): Sequential(',
      '    (0): BasicBlock(',
      '      (conv1): Conv2d(64, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)',
      '      (bn1): BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)',
      '      (relu): ReLU()',
      '      (conv2): Conv2d(64, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)',
      '      (bn2): BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)',
      '    )',
      '    (1): BasicBlock(',
      '      (conv1): Conv2d(64, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)',
      '      (bn1): BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)',
      '      (relu): ReLU()',
      '      (conv2): Conv2d(64, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)',
      '      (bn2): BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)',
      '    )',
    ]);
    expect(String(m)).toContain([
      '      (downsample): Sequential(',
      '        (0): Conv2d(64, 128, kernel_size=(1, 1), stride=(2, 2), bias=False)',
      '        (1): BatchNorm2d(128, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)',
      '      )',
    ].join('\n'));
    expect(lines.slice(-3)).toEqual([
      '  (avgpool): AdaptiveAvgPool2d(output_size=(1, 1))',
      '  (fc): Linear(in_features=512, out_features=1000, bias=True)',
      ')',
    ]);
    m.dispose();
  });

  it('torchvision init: Kaiming-normal fan_out convs, BN 1/0, zeroInitResidual zeroes the last BN of each block', async () => {
    wg.manualSeed(1);
    const m = models.resnet18({ numClasses: 10, zeroInitResidual: true });
    // layer3.0.conv1: 256 x 128 x 3 x 3, fan_out = 256 * 9, std = sqrt(2 / fan_out)
    const w = await stats(m.layer3.stateDict().get('0.conv1.weight')!);
    const std = Math.sqrt(2 / (256 * 9));
    expect(Math.abs(w.mean)).toBeLessThan(0.02 * std * 10);
    expect(w.std / std).toBeGreaterThan(0.98);
    expect(w.std / std).toBeLessThan(1.02);
    const sd = m.stateDict();
    expect(await stats(sd.get('bn1.weight')!)).toMatchObject({ min: 1, max: 1 });
    expect(await stats(sd.get('bn1.bias')!)).toMatchObject({ min: 0, max: 0 });
    expect(await stats(sd.get('layer1.0.bn2.weight')!)).toMatchObject({ min: 0, max: 0 });
    expect(await stats(sd.get('layer1.0.bn1.weight')!)).toMatchObject({ min: 1, max: 1 });
    expect(await stats(sd.get('layer4.1.bn2.weight')!)).toMatchObject({ min: 0, max: 0 });
    // fc keeps nn.Linear's default: uniform(+-1/sqrt(512))
    const fc = await stats(sd.get('fc.weight')!);
    expect(fc.max).toBeLessThanOrEqual(1 / Math.sqrt(512));
    expect(fc.min).toBeGreaterThanOrEqual(-1 / Math.sqrt(512));
    m.dispose();
    const b = models.resnet50({ numClasses: 10, zeroInitResidual: true });
    expect(await stats(b.stateDict().get('layer2.3.bn3.weight')!)).toMatchObject({ min: 0, max: 0 });
    expect(await stats(b.stateDict().get('layer2.3.bn2.weight')!)).toMatchObject({ min: 1, max: 1 });
    b.dispose();
  });

  it('bad options are rejected', () => {
    expect(() => models.resnet18({ numClasses: 0 })).toThrow(/numClasses must be a positive integer/);
    expect(() => new models.ResNet(models.BasicBlock, [2, 2, 2, 0] as never)).toThrow(/four positive block counts/);
    expect(() => new models.BasicBlock(64, 64, 1, null, 32, 4)).toThrow(/only supports groups=1/);
  });
});

describe('CIFAR ResNets (He et al. 2015, section 4.2)', () => {
  // sum(p.numel()) of test/fixtures/generate.py's CifarResNet(depth, shortcut) (PyTorch 1.13).
  const counts: [number, 'A' | 'B', number][] = [
    [20, 'A', 269_722], [20, 'B', 272_474],
    [32, 'A', 464_154], [32, 'B', 466_906],
    [44, 'A', 658_586], [44, 'B', 661_338],
    [56, 'A', 853_018], [56, 'B', 855_770],
    [110, 'A', 1_727_962], [110, 'B', 1_730_714],
    [1202, 'A', 19_421_274], [1202, 'B', 19_424_026],
  ];
  it.each(counts)('ResNet-%i shortcut %s has the PyTorch parameter count', (depth, shortcut, n) => {
    const m = models.cifarResnet(depth, { shortcut });
    expect(m.numParameters()).toBe(n);
    m.dispose();
  });

  it.each(['A', 'B'] as const)('ResNet-20 %s state dict matches the fixture file key for key', (shortcut) => {
    const header = wg.io.parseSafetensorsHeader(readFileSync(fixturePath(`cifar_resnet20_${shortcut}.safetensors`)));
    const m = models.resnet20({ shortcut });
    expect([...m.stateDict()].map(([k, t]) => [k, [...t.shape]])).toEqual(header.entries.map((e) => [e.name, e.shape]));
    m.dispose();
  });

  it('prints the option-A shortcut and option-B projection', () => {
    const a = models.resnet20();
    expect(String(a)).toContain('(downsample): ShortcutA(planes=32)');
    expect(a.layer1.at(0)).toBeInstanceOf(models.BasicBlock);
    expect((a.layer1.at(0) as wg.models.BasicBlock).downsample).toBeNull();
    const b = models.resnet20({ shortcut: 'B', numClasses: 100 });
    expect(String(b)).toContain('(0): Conv2d(16, 32, kernel_size=(1, 1), stride=(2, 2), bias=False)');
    expect(b.fc.outFeatures).toBe(100);
    a.dispose();
    b.dispose();
  });

  it('bad depth or shortcut is rejected', () => {
    expect(() => models.cifarResnet(21)).toThrow(/depth must be 6n\+2/);
    expect(() => models.cifarResnet(2)).toThrow(/depth must be 6n\+2/);
    expect(() => models.cifarResnet(20, { shortcut: 'C' as never })).toThrow(/shortcut must be 'A' or 'B'/);
  });
});

describe('training loop memory', () => {
  it('ResNet-20 A: SGD steps in scope() do not grow live tensors or bytes', async () => {
    wg.manualSeed(5);
    const model = models.resnet20({ numClasses: 4 }).train();
    const opt = new wg.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
    const x = wg.randn([2, 3, 8, 8]);
    const y = wg.tensor(new Int32Array([1, 3]));
    const losses: number[] = [];
    let after: ReturnType<typeof wg.memory> | null = null;
    for (let step = 0; step < 4; step++) {
      const loss = wg.scope(() => {
        opt.zeroGrad();
        const loss = wg.F.crossEntropy(model.forward(x), y);
        loss.backward();
        opt.step();
        return loss;
      });
      losses.push(await loss.item());
      loss.dispose();
      // Step 1 creates the gradients and momentum buffers; afterwards nothing may accumulate.
      if (step === 1) after = wg.memory();
      if (step > 1) {
        expect(wg.memory().liveTensors).toBe(after!.liveTensors);
        expect(wg.memory().liveBytes).toBe(after!.liveBytes);
      }
    }
    expect(losses[3]).toBeLessThan(losses[0]);
    expect(await model.bn1.numBatchesTracked!.item()).toBe(4);
    opt.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  });
});
