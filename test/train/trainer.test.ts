import { describe, it, expect } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';
import { makeDataset } from '../../src/data/dataset.js';
import { DataLoader } from '../../src/data/loader.js';
import { Trainer, TrainingDivergedError } from '../../src/train/trainer.js';
import { readLog } from '../../src/train/log.js';
import { TinyNet, squaredLoss } from './tiny.js';

useDevice();

function toyData(n: number) {
  const images = Uint8Array.from({ length: n * 3 * 8 * 8 }, (_, i) => (i * 131 + 7) & 0xff);
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % 4);
  return makeDataset({ name: 'toy', images, labels, channels: 3, height: 8, width: 8, classes: ['a', 'b', 'c', 'd'] });
}

function setup(opts: { seed?: number; lr?: number; outDir?: string | null; epochs?: number; stopAt?: number; losses?: Array<[number, number]>; onStep?: (s: number) => void }) {
  const model = new TinyNet(3 * 8 * 8, 4, opts.seed ?? 1);
  const optimizer = new wg.optim.SGD(model.parameters(), { lr: opts.lr ?? 0.05, momentum: 0.9, weightDecay: 1e-4 });
  const epochs = opts.epochs ?? 2;
  const trainLoader = new DataLoader(toyData(40), { batchSize: 8, seed: 5, augment: { crop: true, pad: 2, flip: true }, mean: [0.5], std: [0.25] });
  const scheduler = new wg.optim.lrScheduler.CosineAnnealingLR(optimizer, { tMax: epochs * trainLoader.length });
  const testLoader = new DataLoader(toyData(12), { batchSize: 8, shuffle: false, mean: [0.5], std: [0.25] });
  let trainer: Trainer;
  trainer = new Trainer({
    model, optimizer, scheduler, trainLoader, testLoader, epochs,
    loss: squaredLoss,
    syncEvery: 1,
    outDir: opts.outDir ?? null,
    config: { name: 'toy' },
    onStep: (s) => {
      opts.onStep?.(s);
      if (s === opts.stopAt) trainer.requestStop();
    },
    onWindow: (w) => opts.losses?.push([w.endStep, w.lossSum]),
  });
  return { model, optimizer, trainer, dispose: () => { model.dispose(); optimizer.dispose(); } };
}

describe('Trainer', () => {
  it('keeps live tensors and bytes flat across hundreds of steps', async () => {
    const levels: Array<[number, number]> = [];
    const run = setup({ epochs: 60, onStep: () => { const m = wg.memory(); levels.push([m.liveTensors, m.liveBytes]); } });
    const result = await run.trainer.fit();
    expect(result.reason).toBe('done');
    expect(levels.length).toBe(300);
    // From the second step on (momentum buffers exist), every step ends at the same level.
    for (let i = 2; i < levels.length; i++) expect(levels[i], `step ${i + 1}`).toEqual(levels[1]);
    run.dispose();
  });

  it('resumes from a mid-epoch interruption with bit-identical losses', async () => {
    const full: Array<[number, number]> = [];
    const a = setup({ losses: full });
    await a.trainer.fit();
    a.dispose();
    expect(full.length).toBe(10);

    const dir = mkdtempSync(join(tmpdir(), 'wg-run-'));
    const first: Array<[number, number]> = [];
    const b = setup({ outDir: dir, stopAt: 7, losses: first });
    const r1 = await b.trainer.fit();
    b.dispose();
    expect(r1.reason).toBe('interrupted');
    expect(first.length).toBe(7);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);

    const rest: Array<[number, number]> = [];
    const c = setup({ outDir: dir, seed: 99, losses: rest }); // different init: resume must overwrite it
    const meta = await c.trainer.resume(join(dir, 'checkpoint.safetensors'));
    expect(meta.loader).toEqual({ seed: 5, epoch: 1, batch: 2 });
    const r2 = await c.trainer.fit();
    c.dispose();
    expect(r2.reason).toBe('done');
    // Readbacks may complete out of order: compare by step.
    const byStep = (l: Array<[number, number]>) => [...l].sort((x, y) => x[0] - y[0]);
    expect(byStep([...first, ...rest])).toEqual(byStep(full));
    expect(byStep(full).map((x) => x[0])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

    const log = readLog(join(dir, 'log.jsonl'));
    expect(log.filter((r) => r.type === 'epoch').length).toBe(2);
    expect(log.some((r) => r.type === 'end' && r.reason === 'interrupted')).toBe(true);
    expect(readFileSync(join(dir, 'curves.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<path d="M/);
  });

  it('with autotune, times the convolutions of a training step before the first one, then trains', async () => {
    wg.setAutotuneCache(null);
    const nn = wg.nn;
    const model = new nn.Sequential(new nn.Conv2d(3, 16, 3, { padding: 1 }), new nn.ReLU(), new nn.Conv2d(16, 16, 3, { padding: 1, stride: 2 }), new nn.Flatten(), new nn.Linear(16 * 4 * 4, 4));
    const optimizer = new wg.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
    const trainLoader = new DataLoader(toyData(16), { batchSize: 8, seed: 5, mean: [0.5], std: [0.25] });
    const losses: number[] = [];
    const trainer = new Trainer({ model, optimizer, trainLoader, epochs: 1, syncEvery: 1, autotune: true, onWindow: (w) => losses.push(w.lossSum) });
    const result = await trainer.fit();
    expect(result.reason).toBe('done');
    expect(losses).toHaveLength(2);
    for (const l of losses) expect(Number.isFinite(l)).toBe(true);
    const keys = Object.keys(wg.autotuneCache().choices);
    // The second conv's forward and its two gradients, the first conv's forward and weight
    // gradient (its input needs none): those with more than one kernel were timed.
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((k) => k.startsWith('conv2d ') && k.includes(' x 8,'))).toBe(true);
    wg.setAutotuneCache(null);
    model.dispose();
    optimizer.dispose();
  });

  it('stops with a clear error when the loss becomes NaN or infinite', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wg-nan-'));
    const run = setup({ lr: 1e6, epochs: 30, outDir: dir });
    await expect(run.trainer.fit()).rejects.toThrow(TrainingDivergedError);
    await expect(setup({ lr: 1e6, epochs: 30 }).trainer.fit()).rejects.toThrow(/training diverged: the loss became (NaN|infinite) by step \d+/);
    expect(readLog(join(dir, 'log.jsonl')).some((r) => r.type === 'end' && r.reason === 'diverged')).toBe(true);
    run.dispose();
  });
});
