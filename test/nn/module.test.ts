// nn.Module: registration, tree walks and names (PyTorch order), modes, freezing, state dicts
// (keys, strict errors by name, in-place loading), printing, and memory ownership.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';

useDevice();

const { Module, Linear, Conv2d, BatchNorm2d, ReLU, Sequential, StateDictError } = wg.nn;

/** A small two-level model that needs no functional ops to build. */
class Block extends wg.nn.Module {
  lin: InstanceType<typeof Linear>;
  scale: wg.Tensor;
  steps: wg.Tensor;
  constructor(n: number) {
    super();
    this.scale = this.registerParameter('scale', wg.ones([n]));
    this.lin = this.registerModule('lin', new Linear(n, n, { bias: false }));
    this.steps = this.registerBuffer('steps', wg.zeros([], { dtype: 'int32' }));
  }
  forward(x: wg.Tensor): wg.Tensor {
    return wg.matmul(x, this.lin.weight.T).mul(this.scale);
  }
}

class Net extends wg.nn.Module {
  stem: InstanceType<typeof Linear>;
  body: InstanceType<typeof Sequential>;
  head: InstanceType<typeof Linear>;
  constructor() {
    super();
    this.stem = this.registerModule('stem', new Linear(3, 4));
    this.body = this.registerModule('body', new Sequential(new Block(4), new ReLU(), new Block(4)));
    this.head = this.registerModule('head', new Linear(4, 2));
  }
  forward(x: wg.Tensor): wg.Tensor {
    return x;
  }
}

const NET_KEYS = [
  'stem.weight', 'stem.bias',
  'body.0.scale', 'body.0.steps', 'body.0.lin.weight',
  'body.2.scale', 'body.2.steps', 'body.2.lin.weight',
  'head.weight', 'head.bias',
];

describe('Module tree', () => {
  it('names parameters, buffers and modules in PyTorch order', () => {
    const net = new Net();
    expect([...net.namedParameters()].map(([k]) => k)).toEqual([
      'stem.weight', 'stem.bias', 'body.0.scale', 'body.0.lin.weight', 'body.2.scale', 'body.2.lin.weight', 'head.weight', 'head.bias',
    ]);
    expect([...net.namedBuffers()].map(([k]) => k)).toEqual(['body.0.steps', 'body.2.steps']);
    // Per module: parameters, then buffers, then children.
    expect([...net.stateDict().keys()]).toEqual(NET_KEYS);
    expect([...net.namedModules()].map(([k]) => k)).toEqual(['', 'stem', 'body', 'body.0', 'body.0.lin', 'body.1', 'body.2', 'body.2.lin', 'head']);
    expect([...net.namedChildren()].map(([k]) => k)).toEqual(['stem', 'body', 'head']);
    expect([...net.children()]).toEqual([net.stem, net.body, net.head]);
    // Tensor names are the state-dict keys; parameters require grad, buffers do not.
    for (const [k, t] of net.stateDict()) expect(t.name).toBe(k);
    expect(net.parameters().every((p) => p.requiresGrad)).toBe(true);
    expect(net.buffers().some((b) => b.requiresGrad)).toBe(false);
    expect(net.numParameters()).toBe(3 * 4 + 4 + 2 * (4 + 16) + 4 * 2 + 2);
    net.dispose();
  });

  it('shared parameters are listed once', () => {
    const a = new Linear(2, 2);
    const seq = new Sequential(a, a);
    expect(seq.parameters().length).toBe(2);
    expect([...seq.namedModules()].length).toBe(2);
    seq.dispose();
  });

  it('train()/eval() set the flag on every descendant', () => {
    const net = new Net();
    expect([...net.modules()].every((m) => m.training)).toBe(true);
    expect(net.eval()).toBe(net);
    expect([...net.modules()].some((m) => m.training)).toBe(false);
    net.body.train();
    expect(net.training).toBe(false);
    expect([...net.body.modules()].every((m) => m.training)).toBe(true);
    net.dispose();
  });

  it('requiresGrad_ freezes a sub-module; numParameters can count trainable ones', () => {
    const net = new Net();
    net.body.requiresGrad_(false);
    expect(net.body.parameters().every((p) => !p.requiresGrad)).toBe(true);
    expect(net.head.weight.requiresGrad).toBe(true);
    expect(net.numParameters({ trainableOnly: true })).toBe(3 * 4 + 4 + 4 * 2 + 2);
    net.dispose();
  });

  it('assigning a registered attribute replaces the entry in place (like torch setattr)', () => {
    const net = new Net();
    const old = net.head;
    net.head = new Linear(4, 7);
    expect([...net.stateDict().keys()]).toEqual(NET_KEYS);
    expect(net.stateDict().get('head.weight')!.shape).toEqual([7, 4]);
    expect(net.head.weight.name).toBe('head.weight');
    old.dispose();
    net.dispose();
  });

  it('rejects bad registrations', () => {
    class Bad extends wg.nn.Module {
      forward(x: wg.Tensor) {
        return x;
      }
    }
    const m = new Bad();
    expect(() => m.registerModule('train', new ReLU())).toThrow(/shadow/);
    expect(() => m.registerParameter('a.b', wg.ones([1]))).toThrow(/without '\.'/);
    expect(() => m.registerParameter('ints', wg.zeros([1], { dtype: 'int32' }))).toThrow(/float32/);
    expect(() => m.registerParameter('derived', wg.ones([1], { requiresGrad: true }).mul(2))).toThrow(/leaf/);
    m.registerBuffer('b', wg.zeros([1]));
    expect(() => m.registerParameter('b', wg.ones([1]))).toThrow(/another kind/);
    expect(() => m.registerModule('x', {} as never)).toThrow(/expected a Module/);
    m.dispose();
  });

  it('zeroGrad drops gradients; dispose frees every parameter and buffer', async () => {
    const before = wg.memory().liveTensors;
    const net = new Net();
    const x = wg.ones([2, 4]);
    const block = net.body.at(0) as Block;
    wg.scope(() => block.forward(x).sum().backward());
    expect(block.scale.grad).not.toBeNull();
    expect(Array.from(await block.lin.weight.grad!.data()).length).toBe(16);
    net.zeroGrad();
    expect(net.parameters().every((p) => p.grad === null)).toBe(true);
    x.dispose();
    net.dispose();
    expect(wg.memory().liveTensors).toBe(before);
  });

  it('parameters survive scope() (they are kept)', () => {
    const net = wg.scope(() => {
      const n = new Net();
      return { n };
    }).n;
    expect(net.parameters().every((p) => !p.isDisposed)).toBe(true);
    net.dispose();
  });
});

describe('stateDict / loadStateDict', () => {
  it('copies values into the existing tensors (same objects, new contents)', async () => {
    const src = new Net();
    const dst = new Net();
    wg.nn.init.constant_(src.body.at(0).stateDict().get('steps')!, 5);
    const before = wg.memory().liveTensors;
    const weight = dst.stem.weight;
    const result = dst.loadStateDict(src.stateDict());
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(dst.stem.weight).toBe(weight);
    for (const [k, t] of dst.stateDict()) {
      expect(Array.from(await t.data()), k).toEqual(Array.from(await src.stateDict().get(k)!.data()));
    }
    expect(Array.from(await dst.stateDict().get('body.0.steps')!.data())).toEqual([5]);
    expect(wg.memory().liveTensors).toBe(before);
    src.dispose();
    dst.dispose();
  });

  it('accepts views and converts float32 <-> int32', async () => {
    const net = new Net();
    const state = new Map<string, wg.Tensor>();
    const big = wg.arange(0, 24).reshape([2, 12]);
    state.set('stem.weight', big.slice(1, 0, 12, 1).slice(0, 0, 1).reshape([4, 3]));
    state.set('body.0.steps', wg.tensor([9]).reshape([]));
    net.loadStateDict(state, { strict: false });
    expect(Array.from(await net.stem.weight.data())).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const steps = net.stateDict().get('body.0.steps')!;
    expect(steps.dtype).toBe('int32');
    expect(Array.from(await steps.data())).toEqual([9]);
    net.dispose();
  });

  it('strict mode reports every missing, unexpected and mis-shaped key by name, and loads nothing', async () => {
    const net = new Net();
    const original = Array.from(await net.head.bias!.data());
    const state = new Map(net.stateDict());
    state.delete('stem.bias');
    state.delete('body.2.steps');
    state.set('extra.weight', wg.ones([1]));
    state.set('head.bias', wg.zeros([3]));
    state.set('body.0.lin.weight', wg.zeros([4, 5]));
    let err: unknown;
    try {
      net.loadStateDict(state);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateDictError);
    expect(err).toBeInstanceOf(wg.WgslgradError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/missing keys \(2\): stem\.bias, body\.2\.steps/);
    expect(msg).toMatch(/unexpected keys \(1\): extra\.weight/);
    expect(msg).toMatch(/head\.bias: shape \[3\] in the state dict, \[2\] in the model/);
    expect(msg).toMatch(/body\.0\.lin\.weight: shape \[4, 5\] in the state dict, \[4, 4\] in the model/);
    expect((err as InstanceType<typeof StateDictError>).missingKeys).toEqual(['stem.bias', 'body.2.steps']);
    expect(Array.from(await net.head.bias!.data())).toEqual(original);
    // Non-strict: key problems are reported, not raised; shape mismatches still raise.
    state.set('head.bias', wg.zeros([2]));
    state.set('body.0.lin.weight', wg.zeros([4, 4]));
    const r = net.loadStateDict(state, { strict: false });
    expect(r.missingKeys).toEqual(['stem.bias', 'body.2.steps']);
    expect(r.unexpectedKeys).toEqual(['extra.weight']);
    expect(Array.from(await net.head.bias!.data())).toEqual([0, 0]);
    net.dispose();
  });

  it('accepts a plain object', () => {
    const a = new Linear(2, 2);
    const b = new Linear(2, 2);
    expect(b.loadStateDict(Object.fromEntries(a.stateDict()))).toEqual({ missingKeys: [], unexpectedKeys: [] });
    a.dispose();
    b.dispose();
  });
});

describe('layers: construction, default init, printing', () => {
  it('Conv2d: shapes, keys, torch default init bounds, repr', async () => {
    const c = new Conv2d(4, 6, 3, { stride: 2, padding: 1, bias: true });
    expect(c.weight.shape).toEqual([6, 4, 3, 3]);
    expect([...c.stateDict().keys()]).toEqual(['weight', 'bias']);
    // kaiming_uniform(a=sqrt(5)): bound = sqrt(6 / ((1 + 5) * fan_in)) = 1/sqrt(fan_in)
    const bound = 1 / Math.sqrt(4 * 9);
    const w = await c.weight.data();
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(bound * 0.8);
    const b = await c.bias!.data();
    expect(Math.max(...b.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(String(c)).toBe('Conv2d(4, 6, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))');
    expect(String(new Conv2d(3, 64, 7, { stride: 2, padding: 3, bias: false }))).toBe(
      'Conv2d(3, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)',
    );
    expect(String(new Conv2d(8, 8, [1, 3], { groups: 4, dilation: 2 }))).toBe(
      'Conv2d(8, 8, kernel_size=(1, 3), stride=(1, 1), dilation=(2, 2), groups=4)',
    );
    expect(() => new Conv2d(3, 4, 3, { groups: 2 })).toThrow(/groups=2 must be a positive integer dividing inChannels=3/);
    expect(() => new Conv2d(3, 4, 0)).toThrow(/kernelSize/);
    c.dispose();
  });

  it('Linear: shapes, bounds, repr', async () => {
    const l = new Linear(16, 3);
    expect(l.weight.shape).toEqual([3, 16]);
    const w = await l.weight.data();
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(0.25);
    expect(String(l)).toBe('Linear(in_features=16, out_features=3, bias=True)');
    expect(String(new Linear(2, 2, { bias: false }))).toBe('Linear(in_features=2, out_features=2, bias=False)');
    l.dispose();
  });

  it('BatchNorm2d: parameters, torch buffer names and dtypes, repr', async () => {
    const bn = new BatchNorm2d(5);
    expect([...bn.stateDict()].map(([k, t]) => [k, t.shape, t.dtype])).toEqual([
      ['weight', [5], 'float32'], ['bias', [5], 'float32'],
      ['running_mean', [5], 'float32'], ['running_var', [5], 'float32'], ['num_batches_tracked', [], 'int32'],
    ]);
    expect(Array.from(await bn.weight!.data())).toEqual([1, 1, 1, 1, 1]);
    expect(Array.from(await bn.runningVar!.data())).toEqual([1, 1, 1, 1, 1]);
    expect(bn.parameters().length).toBe(2);
    expect(String(bn)).toBe('BatchNorm2d(5, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)');
    const plain = new BatchNorm2d(2, { affine: false, trackRunningStats: false, eps: 0.001 });
    expect(plain.stateDict().size).toBe(0);
    expect(String(plain)).toBe('BatchNorm2d(2, eps=0.001, momentum=0.1, affine=False, track_running_stats=False)');
    expect(() => new BatchNorm2d(4, { momentum: null as never })).toThrow(/momentum=None is not supported/);
    bn.dispose();
  });

  it('the tree prints like PyTorch', () => {
    const seq = new Sequential(
      new Conv2d(3, 8, 3, { padding: 1, bias: false }), new BatchNorm2d(8), new ReLU(),
      new wg.nn.MaxPool2d(3, { stride: 2, padding: 1 }), new wg.nn.AdaptiveAvgPool2d([1, 1]),
      new wg.nn.Flatten(), new wg.nn.Dropout(0.25), new Linear(8, 2), new wg.nn.Identity(), new wg.nn.AvgPool2d(2),
    );
    expect(String(seq)).toBe([
      'Sequential(',
      '  (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)',
      '  (1): BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)',
      '  (2): ReLU()',
      '  (3): MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=False)',
      '  (4): AdaptiveAvgPool2d(output_size=(1, 1))',
      '  (5): Flatten(start_dim=1, end_dim=-1)',
      '  (6): Dropout(p=0.25, inplace=False)',
      '  (7): Linear(in_features=8, out_features=2, bias=True)',
      '  (8): Identity()',
      '  (9): AvgPool2d(kernel_size=2, stride=2, padding=0)',
      ')',
    ].join('\n'));
    expect(seq.length).toBe(10);
    expect(seq.at(-1)).toBeInstanceOf(wg.nn.AvgPool2d);
    expect([...seq].length).toBe(10);
    seq.dispose();
  });

  it('nested modules indent like torch', () => {
    const net = new Net();
    const lines = String(net).split('\n');
    expect(lines.slice(0, 6)).toEqual([
      'Net(',
      '  (stem): Linear(in_features=3, out_features=4, bias=True)',
      '  (body): Sequential(',
      '    (0): Block(',
      '      (lin): Linear(in_features=4, out_features=4, bias=False)',
      '    )',
    ]);
    expect(lines.at(-1)).toBe(')');
    net.dispose();
  });

  it('Python-style number formatting', async () => {
    const { pyFloat } = await import('../../src/nn/module.js');
    expect([1e-5, 0.1, 1, 0.001, 1e-4, 1e16, 123.5, -2e-7].map(pyFloat)).toEqual([
      '1e-05', '0.1', '1.0', '0.001', '0.0001', '1e+16', '123.5', '-2e-07',
    ]);
  });
});

void Module;
