// SPDX-License-Identifier: MIT
// A complete training run as the CLI performs it: data, model, optimizer, schedule, run
// directory (config.json, log.jsonl, checkpoint.safetensors, curves.svg, final.safetensors),
// resume, Ctrl-C handling, final weights. bin/wgslgrad.ts only parses arguments into RunConfig.

import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as wg from '../index.js';
import type { Module } from '../nn/module.js';
import { parseSafetensorsHeader } from '../io/safetensors.js';
import { DataLoader } from '../data/loader.js';
import { Trainer, TrainingDivergedError, type FitResult } from './trainer.js';
import { TerminalProgress, silentProgress, formatDuration, type ProgressReporter } from './progress.js';
import { buildModel, buildOptimizer, buildScheduler, loadData, type DataSpec } from './setup.js';
import { CHECKPOINT_FORMAT } from './checkpoint.js';
import { defaultCacheDir } from '../data/download.js';

export interface RunConfig {
  name: string;
  model: string;
  dataset: string;
  dataDir?: string;
  epochs: number;
  batchSize: number;
  evalBatchSize: number;
  optimizer: string;
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  schedule: string;
  labelSmoothing: number;
  seed: number;
  shortcut: 'A' | 'B';
  augment: boolean;
  imageSize?: number;
  trainLimit?: number;
  testLimit?: number;
  evalEvery: number;
  syncEvery: number;
  pretrained?: string;
  /** wg.autotune the training step's kernels before the first step. */
  autotune?: boolean;
  out: string;
}

export interface RunOutcome {
  result: FitResult;
  finalTestAcc: number | null;
  seconds: number;
  outDir: string;
}

export class RunError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/** Load weights from a plain safetensors file or a checkpoint's model part. */
export async function loadWeightsInto(model: Module, file: string, opts: { strict: boolean; skipMismatched?: boolean }): Promise<{ loaded: number; skipped: string[] }> {
  const bytes = readFileSync(file);
  const isCheckpoint = parseSafetensorsHeader(bytes).metadata.format === CHECKPOINT_FORMAT;
  const all = await wg.io.loadSafetensors(bytes);
  const own = model.stateDict();
  const state = new Map<string, wg.Tensor>();
  const skipped: string[] = [];
  for (const [k, t] of all) {
    const key = isCheckpoint ? (k.startsWith('model.') ? k.slice(6) : null) : k;
    if (key === null) continue;
    const mine = own.get(key);
    if (opts.skipMismatched && mine && mine.shape.join() !== t.shape.join()) {
      skipped.push(`${key} ${JSON.stringify(t.shape)} -> ${JSON.stringify(mine.shape)}`);
      continue;
    }
    state.set(key, t);
  }
  try {
    model.loadStateDict(state, { strict: opts.strict });
  } finally {
    for (const t of all.values()) t.dispose();
  }
  return { loaded: state.size, skipped };
}

function describeData(data: DataSpec, say: (s: string) => void): void {
  say(`data: ${data.train.name} ${data.train.length} images, ${data.test.name} ${data.test.length} images, ${data.train.classes.length} classes; from ${data.source}`);
  for (const n of [...data.train.notes, ...data.test.notes]) say(`  note: ${n}`);
}

export async function runTraining(cfg: RunConfig, opts: { resume: boolean; progress?: boolean; say?: (s: string) => void }): Promise<RunOutcome> {
  const say = opts.say ?? ((s: string) => console.log(s));
  const outDir = resolve(cfg.out);
  const checkpointPath = join(outDir, 'checkpoint.safetensors');
  if (opts.resume && !existsSync(checkpointPath)) throw new RunError(`--resume: no checkpoint at ${checkpointPath}`, 2);
  if (!opts.resume && existsSync(join(outDir, 'log.jsonl'))) {
    throw new RunError(`${outDir} already holds a run; pass --resume to continue it, or choose another --out`, 2);
  }
  mkdirSync(outDir, { recursive: true });

  const data = await loadData({ dataset: cfg.dataset, dataDir: cfg.dataDir, imageSize: cfg.imageSize, trainLimit: cfg.trainLimit, testLimit: cfg.testLimit });
  describeData(data, say);
  wg.manualSeed(cfg.seed);
  const model = buildModel(cfg.model, data.train.classes.length, cfg.shortcut);
  if (cfg.pretrained && !opts.resume) {
    const r = await loadWeightsInto(model, cfg.pretrained, { strict: false, skipMismatched: true });
    say(`pretrained: ${r.loaded} tensors from ${cfg.pretrained}${r.skipped.length ? `; kept fresh (shape differs): ${r.skipped.join(', ')}` : ''}`);
  }
  const trainLoader = new DataLoader(data.train, {
    batchSize: cfg.batchSize, seed: cfg.seed, dropLast: true, shuffle: true,
    augment: cfg.augment ? data.augment : {}, mean: data.mean, std: data.std,
    outputSize: data.size, outputChannels: data.channels,
  });
  const testLoader = new DataLoader(data.test, {
    batchSize: cfg.evalBatchSize, shuffle: false, mean: data.mean, std: data.std, outputSize: data.size, outputChannels: data.channels,
  });
  const optimizer = buildOptimizer(model.parameters(), { ...cfg, stepsPerEpoch: trainLoader.length });
  const scheduler = buildScheduler(optimizer, { ...cfg, stepsPerEpoch: trainLoader.length });
  const progress: ProgressReporter = opts.progress === false ? silentProgress : new TerminalProgress();
  const trainer = new Trainer({
    model, optimizer, scheduler, trainLoader, testLoader,
    epochs: cfg.epochs, labelSmoothing: cfg.labelSmoothing, syncEvery: cfg.syncEvery, evalEvery: cfg.evalEvery,
    outDir, config: { ...cfg }, progress, autotune: cfg.autotune,
  });
  if (opts.resume) {
    const meta = await trainer.resume(checkpointPath);
    const old = meta.config as Partial<RunConfig>;
    for (const k of ['model', 'dataset', 'batchSize', 'optimizer', 'schedule', 'seed', 'epochs'] as const) {
      if (old[k] !== undefined && old[k] !== cfg[k]) say(`warning: --${k} is ${cfg[k]} but the checkpoint was made with ${old[k]}`);
    }
    say(`resuming ${outDir} at epoch ${meta.loader.epoch + 1}, batch ${meta.loader.batch}/${trainLoader.length} (step ${meta.step})`);
  } else {
    writeFileSync(join(outDir, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`);
  }
  say(
    `model: ${cfg.model} (${(model.numParameters() / 1e6).toFixed(2)}M parameters), ${cfg.optimizer} lr ${cfg.lr} ` +
      `${cfg.schedule}, batch ${cfg.batchSize}, ${cfg.epochs} epochs of ${trainLoader.length} steps; run dir ${outDir}`,
  );

  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      progress.message('interrupt: finishing this step and saving a checkpoint (Ctrl-C again to quit at once)');
      trainer.requestStop();
    } else {
      process.stderr.write('\ninterrupted twice: quitting without saving\n');
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  const tuneFile = cfg.autotune ? await loadAutotuneChoices(say) : null;
  const started = performance.now();
  let result: FitResult;
  try {
    result = await trainer.fit();
  } catch (err) {
    if (err instanceof TrainingDivergedError) throw new RunError(err.message, 3);
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
    model.dispose();
    optimizer.dispose();
    if (tuneFile) saveAutotuneChoices(tuneFile);
  }
  const seconds = (performance.now() - started) / 1000;
  const last = result.epochs[result.epochs.length - 1];
  if (result.reason === 'done') {
    // The model is disposed above only after final weights are written: write them from the checkpoint.
    const finalPath = join(outDir, 'final.safetensors');
    await writeFinalWeights(checkpointPath, finalPath);
    say(`final weights (torchvision state-dict names): ${finalPath}`);
  }
  const curves = join(outDir, 'curves.svg');
  if (existsSync(curves)) say(`curves: ${curves}`);
  say(`${result.reason === 'done' ? 'done' : 'stopped'} after ${formatDuration(seconds)}${last?.testAcc !== undefined ? `; test accuracy ${(100 * last.testAcc).toFixed(2)}%` : ''}`);
  return { result, finalTestAcc: last?.testAcc ?? null, seconds, outDir };
}

/** The model part of a checkpoint as a plain safetensors file with torchvision's key names. */
async function writeFinalWeights(checkpointPath: string, finalPath: string): Promise<void> {
  const bytes = readFileSync(checkpointPath);
  const all = await wg.io.loadSafetensors(bytes);
  const model = new Map<string, wg.Tensor>();
  for (const [k, t] of all) if (k.startsWith('model.')) model.set(k.slice(6), t);
  try {
    await wg.io.saveSafetensors(model, finalPath, { format: 'pt' });
  } finally {
    for (const t of all.values()) t.dispose();
  }
}

export interface EvalConfig {
  model: string;
  dataset: string;
  dataDir?: string;
  weights: string;
  batchSize: number;
  shortcut: 'A' | 'B';
  imageSize?: number;
  testLimit?: number;
}

export async function runEval(cfg: EvalConfig, say: (s: string) => void = console.log): Promise<{ loss: number; acc: number; count: number }> {
  const data = await loadData({ dataset: cfg.dataset, dataDir: cfg.dataDir, imageSize: cfg.imageSize, testLimit: cfg.testLimit });
  describeData(data, say);
  const model = buildModel(cfg.model, data.test.classes.length, cfg.shortcut);
  try {
    await loadWeightsInto(model, cfg.weights, { strict: true });
    const testLoader = new DataLoader(data.test, { batchSize: cfg.batchSize, shuffle: false, mean: data.mean, std: data.std, outputSize: data.size, outputChannels: data.channels });
    const optimizer = buildOptimizer(model.parameters(), { optimizer: 'sgd', lr: 0, momentum: 0, weightDecay: 0, schedule: 'constant', epochs: 1, stepsPerEpoch: 1 });
    const trainer = new Trainer({ model, optimizer, trainLoader: testLoader, testLoader, epochs: 0 });
    const started = performance.now();
    const r = await trainer.evaluate(testLoader);
    say(`${cfg.model} on ${data.test.name}: loss ${r.loss.toFixed(4)}, accuracy ${(100 * r.acc).toFixed(2)}% (${r.count} images, ${formatDuration((performance.now() - started) / 1000)})`);
    return r;
  } finally {
    model.dispose();
  }
}

/**
 * --autotune keeps its choices between runs: in the download cache directory, one file per
 * adapter (autotune-<adapter>.json), so a second run with the same shapes times nothing.
 */
async function loadAutotuneChoices(say: (s: string) => void): Promise<string> {
  const adapter = wg.autotuneCache().adapter;
  const file = join(await defaultCacheDir(), `autotune-${adapter.replace(/[^A-Za-z0-9.-]+/g, '_').slice(0, 120)}.json`);
  if (existsSync(file)) {
    try {
      wg.setAutotuneCache(JSON.parse(readFileSync(file, 'utf8')) as wg.AutotuneCache);
      say(`autotune: ${Object.keys(wg.autotuneCache().choices).length} choice(s) from ${file}`);
    } catch (err) {
      say(`autotune: ignoring ${file} (${(err as Error).message})`);
    }
  }
  return file;
}

/** Written atomically (a temporary file, then a rename), like every file a run writes. */
function saveAutotuneChoices(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(wg.autotuneCache(), null, 1)}\n`);
  renameSync(tmp, file);
}
