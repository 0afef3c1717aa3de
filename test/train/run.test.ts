// End to end with the real pieces: CIFAR ResNet (depth 8) + F.crossEntropy + SGD + one-cycle,
// on tiny 8x8 inputs so each step takes milliseconds on a software adapter.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';
import { makeDataset } from '../../src/data/dataset.js';
import { DataLoader } from '../../src/data/loader.js';
import { Trainer } from '../../src/train/trainer.js';
import { runTraining, runEval, type RunConfig } from '../../src/train/run.js';
import { parseSafetensorsHeader } from '../../src/io/safetensors.js';
import { CIFAR10_DIR, HAVE_CIFAR10 } from '../data/paths.js';

useDevice();

function toyData(n: number, seed: number) {
  // Class k: a bright square in quadrant k, plus noise. Learnable in a few steps.
  const images = new Uint8Array(n * 3 * 8 * 8);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = (i * 5 + seed) % 4;
    labels[i] = k;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) {
          const inside = (y < 4) === (k < 2) && (x < 4) === (k % 2 === 0);
          images[((i * 3 + c) * 8 + y) * 8 + x] = (inside ? 200 : 30) + ((i * 31 + y * 7 + x * 13 + c) % 40);
        }
      }
    }
  }
  return makeDataset({ name: 'quadrants', images, labels, channels: 3, height: 8, width: 8, classes: ['a', 'b', 'c', 'd'] });
}

function setup(opts: { outDir?: string; stopAt?: number; losses?: Array<[number, number]>; onStep?: () => void; seed?: number; epochs?: number }) {
  wg.manualSeed(opts.seed ?? 1);
  const model = wg.models.cifarResnet(8, { numClasses: 4 });
  const trainLoader = new DataLoader(toyData(48, 0), { batchSize: 8, seed: 3, dropLast: true, augment: { crop: true, pad: 1, flip: true }, mean: [0.5], std: [0.25] });
  const testLoader = new DataLoader(toyData(16, 1), { batchSize: 8, shuffle: false, mean: [0.5], std: [0.25] });
  const epochs = opts.epochs ?? 2;
  const optimizer = new wg.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: true });
  const scheduler = new wg.optim.lrScheduler.OneCycleLR(optimizer, { maxLr: 0.05, totalSteps: epochs * trainLoader.length });
  let trainer: Trainer;
  trainer = new Trainer({
    model, optimizer, scheduler, trainLoader, testLoader, epochs, labelSmoothing: 0.1, syncEvery: 1, outDir: opts.outDir ?? null,
    onStep: (s) => {
      opts.onStep?.();
      if (s === opts.stopAt) trainer.requestStop();
    },
    onWindow: (w) => opts.losses?.push([w.endStep, w.lossSum]),
  });
  return { trainer, dispose: () => { model.dispose(); optimizer.dispose(); } };
}

const byStep = (l: Array<[number, number]>) => [...l].sort((x, y) => x[0] - y[0]);

describe('training a CIFAR ResNet', () => {
  it('keeps GPU memory flat step after step', async () => {
    const levels: string[] = [];
    const run = setup({ epochs: 34, onStep: () => { const m = wg.memory(); levels.push(`${m.liveTensors}/${m.liveBytes}`); } });
    const r = await run.trainer.fit();
    expect(levels.length).toBe(204);
    expect(new Set(levels.slice(1)).size, `levels after step 1: ${[...new Set(levels)].join(' ')}`).toBe(1);
    expect(r.epochs[r.epochs.length - 1].trainLoss).toBeLessThan(r.epochs[0].trainLoss);
    run.dispose();
  });

  it('resumes with bit-identical losses (BatchNorm stats, momentum, one-cycle, loader state)', async () => {
    const full: Array<[number, number]> = [];
    const a = setup({ losses: full });
    await a.trainer.fit();
    a.dispose();
    const dir = mkdtempSync(join(tmpdir(), 'wg-resnet-run-'));
    const first: Array<[number, number]> = [];
    const b = setup({ outDir: dir, stopAt: 8, losses: first });
    expect((await b.trainer.fit()).reason).toBe('interrupted');
    b.dispose();
    const rest: Array<[number, number]> = [];
    const c = setup({ outDir: dir, seed: 77, losses: rest });
    await c.trainer.resume(join(dir, 'checkpoint.safetensors'));
    await c.trainer.fit();
    c.dispose();
    expect(byStep([...first, ...rest])).toEqual(byStep(full));
  });
});

describe.skipIf(!HAVE_CIFAR10)('runTraining / runEval on the CIFAR-10 dev subset', () => {
  it('trains, writes the run directory, and eval reproduces the final test accuracy', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'wg-cli-')), 'run');
    const cfg: RunConfig = {
      name: 't', model: 'resnet20', dataset: 'cifar10', dataDir: CIFAR10_DIR, epochs: 1, batchSize: 16, evalBatchSize: 32,
      optimizer: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-4, nesterov: false, schedule: 'cosine', labelSmoothing: 0,
      seed: 1, shortcut: 'A', augment: true, imageSize: 8, trainLimit: 64, testLimit: 32, evalEvery: 1, syncEvery: 2, out,
    };
    const said: string[] = [];
    const r = await runTraining(cfg, { resume: false, progress: false, say: (s) => said.push(s) });
    expect(r.result.reason).toBe('done');
    for (const f of ['config.json', 'log.jsonl', 'checkpoint.safetensors', 'final.safetensors', 'curves.svg']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(said.join('\n')).toMatch(/note: .*4000 train records \(the standard set has 50000\)/);
    const final = parseSafetensorsHeader(readFileSync(join(out, 'final.safetensors')));
    expect(final.entries.map((e) => e.name)).toContain('layer1.0.conv1.weight');
    expect(final.entries.map((e) => e.name)).toContain('bn1.running_mean');
    const ev = await runEval({ model: 'resnet20', dataset: 'cifar10', dataDir: CIFAR10_DIR, weights: join(out, 'final.safetensors'), batchSize: 32, shortcut: 'A', imageSize: 8, testLimit: 32 }, () => undefined);
    expect(ev.count).toBe(32);
    expect(ev.acc).toBeCloseTo(r.finalTestAcc!, 6);
    await expect(runTraining(cfg, { resume: false, progress: false, say: () => undefined })).rejects.toThrow(/already holds a run; pass --resume/);
  });

  it('with autotune, keeps the choices in the cache directory and reuses them on the next run', async () => {
    const root = mkdtempSync(join(tmpdir(), 'wg-tune-'));
    const saved = process.env.WGSLGRAD_CACHE;
    process.env.WGSLGRAD_CACHE = join(root, 'cache');
    wg.setAutotuneCache(null);
    try {
      const cfg = (out: string): RunConfig => ({
        name: 't', model: 'resnet20', dataset: 'cifar10', dataDir: CIFAR10_DIR, epochs: 1, batchSize: 16, evalBatchSize: 32,
        optimizer: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 1e-4, nesterov: false, schedule: 'cosine', labelSmoothing: 0,
        seed: 1, shortcut: 'A', augment: false, imageSize: 8, trainLimit: 32, testLimit: 16, evalEvery: 1, syncEvery: 2, autotune: true, out,
      });
      await runTraining(cfg(join(root, 'a')), { resume: false, progress: false, say: () => undefined });
      const files = readdirSync(join(root, 'cache')).filter((f) => f.startsWith('autotune-') && f.endsWith('.json'));
      expect(files).toHaveLength(1);
      const kept = JSON.parse(readFileSync(join(root, 'cache', files[0]), 'utf8')) as wg.AutotuneCache;
      expect(Object.keys(kept.choices).length).toBeGreaterThan(0);
      wg.setAutotuneCache(null); // as a new process would start
      const said: string[] = [];
      await runTraining(cfg(join(root, 'b')), { resume: false, progress: false, say: (s) => said.push(s) });
      expect(said.join('\n')).toMatch(new RegExp(`autotune: ${Object.keys(kept.choices).length} choice\\(s\\) from`));
    } finally {
      if (saved === undefined) delete process.env.WGSLGRAD_CACHE;
      else process.env.WGSLGRAD_CACHE = saved;
      wg.setAutotuneCache(null);
    }
  });
});

describe('the wgslgrad command', () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['node_modules/vite-node/vite-node.mjs', '--config', 'vitest.config.ts', 'bin/wgslgrad.ts', ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, XDG_RUNTIME_DIR: '/tmp' } });

  it('prints help and rejects bad usage with exit code 2', () => {
    const help = cli('train', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--label-smoothing <eps>/);
    const bad = cli('train', '--model', 'resnet7');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/Allowed choices are resnet20/);
  });
});
