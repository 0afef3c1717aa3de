// SPDX-License-Identifier: MIT
// The training loop: epochs of (forward, loss, backward, optimizer step, scheduler step), each
// step inside wg.scope so its temporaries are freed the moment it ends; metrics accumulated on
// the GPU and read back without stalling (src/train/metrics.ts); a test-set evaluation, a log
// line, a checkpoint and the curves after every epoch; exact resume; stop on request (SIGINT)
// with a checkpoint; stop on a non-finite loss with a clear error.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { scope } from '../tensor/scope.js';
import { noGrad } from '../autograd/grad-mode.js';
import { getRngState, setRngState } from '../kernels/random.js';
import type { Optimizer, GroupBase } from '../nn/optim/optimizer.js';
import type { LRScheduler } from '../nn/optim/scheduler-base.js';
import type { DataLoader } from '../data/loader.js';
import { RunningMetrics, type MetricsWindow } from './metrics.js';
import { saveCheckpoint, loadCheckpoint, type PartialEpoch, type CheckpointMeta } from './checkpoint.js';
import { JsonlLog, readLog, currentHistory, type EpochRecord } from './log.js';
import { renderCurvesSvg } from './plot.js';
import { silentProgress, type ProgressReporter } from './progress.js';
import { crossEntropy } from './loss.js';
import { autotune } from '../kernels/autotune.js';

/** What the trainer needs from a model (wg.nn.Module provides all of it). */
export interface TrainableModel {
  forward(x: Tensor): Tensor;
  train(mode?: boolean): unknown;
  eval(): unknown;
  stateDict(): Map<string, Tensor>;
  loadStateDict(state: ReadonlyMap<string, Tensor>, opts?: { strict?: boolean }): unknown;
}

export type LossFn = (logits: Tensor, labels: Tensor) => Tensor;

export interface TrainerOptions {
  model: TrainableModel;
  optimizer: Optimizer<GroupBase>;
  /** Stepped once per optimizer step. */
  scheduler?: LRScheduler | null;
  trainLoader: DataLoader;
  testLoader?: DataLoader | null;
  epochs: number;
  /** Default: cross-entropy with `labelSmoothing`. */
  loss?: LossFn;
  /** The loss reported by evaluate(). Default: `loss` if given, else cross-entropy without smoothing. */
  evalLoss?: LossFn;
  labelSmoothing?: number;
  /** Read metrics back every K steps; 0 (default) adapts K so reads land about 4 times a second. */
  syncEvery?: number;
  /** Evaluate on the test loader every N epochs (default 1) and after the last. */
  evalEvery?: number;
  /** Run directory for log.jsonl, checkpoint.safetensors, curves.svg (none: nothing is written). */
  outDir?: string | null;
  /** Saved into checkpoints and the log's start record. */
  config?: Record<string, unknown>;
  progress?: ProgressReporter;
  /**
   * Before the first step, time every kernel that can compute each convolution of a training step
   * on this device and use the fastest (wg.autotune; seconds, once per batch shape and device).
   */
  autotune?: boolean;
  /** Called after every step, synchronously, once the step's batch is freed (tests check memory here). */
  onStep?: (step: number) => void;
  /** Called with every metrics window as it lands (tests read per-step losses here). */
  onWindow?: (w: MetricsWindow & { epoch: number }) => void;
}

export interface FitResult {
  reason: 'done' | 'interrupted';
  epochs: EpochRecord[];
  step: number;
}

/** Training produced a NaN or infinite loss. */
export class TrainingDivergedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrainingDivergedError';
  }
}

const MAX_IN_FLIGHT = 2;

export class Trainer {
  readonly opts: TrainerOptions;
  /** Whether opts.autotune has run. */
  private tuned = false;
  /** Optimizer steps taken. */
  step = 0;
  private stopRequested = false;
  private partial: PartialEpoch = { lossSum: 0, correct: 0, count: 0, seconds: 0 };
  private log: JsonlLog | null;
  private readonly history: EpochRecord[] = [];
  private resumedFrom: { epoch: number; batch: number; step: number } | null = null;
  private readonly lossFn: LossFn;
  private readonly evalLossFn: LossFn;

  constructor(opts: TrainerOptions) {
    this.opts = opts;
    this.log = opts.outDir ? new JsonlLog(join(opts.outDir, 'log.jsonl')) : null;
    const smoothing = opts.labelSmoothing ?? 0;
    this.lossFn = opts.loss ?? ((logits, labels) => crossEntropy(logits, labels, { labelSmoothing: smoothing }));
    this.evalLossFn = opts.evalLoss ?? opts.loss ?? ((logits, labels) => crossEntropy(logits, labels, { labelSmoothing: 0 }));
  }

  get checkpointPath(): string | null {
    return this.opts.outDir ? join(this.opts.outDir, 'checkpoint.safetensors') : null;
  }

  /** Ask the loop to stop after the current step; it saves a checkpoint first. */
  requestStop(): void {
    this.stopRequested = true;
  }

  get lr(): number {
    return this.opts.optimizer.paramGroups[0].lr;
  }

  /** One training step on one batch; nothing is read back. */
  private trainStep(x: Tensor, y: Tensor, metrics: RunningMetrics): void {
    const { optimizer, scheduler } = this.opts;
    scope(() => {
      optimizer.zeroGrad();
      const logits = this.opts.model.forward(x);
      const loss = this.lossFn(logits, y);
      loss.backward();
      metrics.add(logits, y, loss);
      optimizer.step();
      optimizer.zeroGrad();
    });
    scheduler?.step();
    this.step++;
  }

  /** Train until `epochs` (resuming where the loader stands), or until stopped. */
  async fit(): Promise<FitResult> {
    const { trainLoader: loader, epochs, progress = silentProgress } = this.opts;
    const evalEvery = this.opts.evalEvery ?? 1;
    this.log?.write({ type: 'start', config: this.opts.config ?? {}, ...(this.resumedFrom ? { resumedFrom: this.resumedFrom } : {}) });
    this.opts.model.train();
    let syncEvery = this.opts.syncEvery && this.opts.syncEvery > 0 ? this.opts.syncEvery : 1;
    const adaptive = !(this.opts.syncEvery && this.opts.syncEvery > 0);
    const metrics = new RunningMetrics();
    // Readbacks in flight. A window that fails (non-finite loss) records its error here, and the
    // loop rethrows it at its next check, so no rejection is ever left unobserved.
    const pending: Array<Promise<void>> = [];
    let failure: Error | null = null;
    const drain = async (keep: number) => {
      while (pending.length > keep) await pending.shift();
      if (failure) throw failure;
    };
    try {
      while (loader.epoch < epochs) {
        const epoch = loader.epoch;
        const startBatch = loader.position;
        if (startBatch === 0) this.partial = { lossSum: 0, correct: 0, count: 0, seconds: 0 };
        progress.startEpoch(epoch, epochs, loader.length, startBatch);
        const epochStart = performance.now();
        const secondsBefore = this.partial.seconds;
        let shown = startBatch;
        // Throughput from in-order progress: readbacks resolved in the same tick may arrive out
        // of order, so windows are counted as they come and the rate is taken at the newest step.
        let lastStep = this.step;
        let lastDone = epochStart;
        let imagesSince = 0;
        let imagesPerSec = 0;

        const absorb = (w: MetricsWindow, lr: number) => {
          if (w.nonFinite > 0 || !Number.isFinite(w.lossSum)) {
            throw new TrainingDivergedError(
              `training diverged: the loss became ${Number.isNaN(w.lossSum) ? 'NaN' : 'infinite'} by step ${w.endStep} ` +
                `(epoch ${epoch + 1}, lr ${lr.toPrecision(3)}). Lower --lr, add warm-up, or check the data; the last good checkpoint is kept.`,
            );
          }
          this.partial.lossSum += w.lossSum;
          this.partial.correct += w.correct;
          this.partial.count += w.count;
          imagesSince += w.count;
          // (Windows that land within a few ms of the last are counted into the next rate.)
          if (w.endStep > lastStep && w.doneAt - lastDone > 20) {
            const dt = w.doneAt - lastDone;
            // Smoothed, so the bar's figure is readable when windows vary in length.
            const rate = (1000 * imagesSince) / dt;
            imagesPerSec = imagesPerSec > 0 ? 0.7 * imagesPerSec + 0.3 * rate : rate;
            if (adaptive) {
              const perStep = dt / (w.endStep - lastStep);
              syncEvery = Math.max(1, Math.min(200, Math.round(250 / Math.max(perStep, 1e-3))));
            }
            lastStep = w.endStep;
            lastDone = w.doneAt;
            imagesSince = 0;
          }
          // Readbacks can complete out of order; the bar only moves forward.
          const batch = Math.min(loader.length, w.endStep - this.epochStartStep + startBatch);
          shown = Math.max(shown, batch);
          // The bar shows the epoch so far (a single window of a few images is too noisy to read).
          const p = this.partial;
          progress.update({ batch: shown, loss: p.lossSum / p.count, acc: p.correct / p.count, imagesPerSec });
          this.opts.onWindow?.({ ...w, epoch });
          this.log?.write({
            type: 'train', epoch, step: w.endStep, progress: epoch + batch / loader.length,
            loss: w.lossSum / w.count, acc: w.correct / w.count, lr, imagesPerSec,
          });
        };

        this.epochStartStep = this.step;
        for (let b = loader.nextBatch(); b; b = loader.nextBatch()) {
          if (this.opts.autotune && !this.tuned) {
            const { x, y } = b;
            const t0 = performance.now();
            const timed = await autotune(() => this.lossFn(this.opts.model.forward(x), y).backward());
            const changed = timed.filter((r) => r.chosen !== r.rule).length;
            progress.message(`autotune: ${timed.length} kernel choice(s) timed in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${changed} use another kernel than the default`);
            this.tuned = true;
          }
          this.trainStep(b.x, b.y, metrics);
          b.dispose();
          this.opts.onStep?.(this.step);
          const last = loader.position >= loader.length;
          if (metrics.windowSteps >= syncEvery || last || this.stopRequested) {
            const lr = this.lr;
            pending.push(metrics.snapshot(this.step).then((w) => absorb(w, lr)).catch((e: Error) => void (failure ??= e)));
            await drain(MAX_IN_FLIGHT);
          }
          if (this.stopRequested) break;
        }
        await drain(0);
        this.partial.seconds = secondsBefore + (performance.now() - epochStart) / 1000;

        if (this.stopRequested && loader.position < loader.length) {
          await this.checkpoint('interrupted');
          progress.stop();
          progress.message(`interrupted at epoch ${epoch + 1}, batch ${loader.position}/${loader.length}; checkpoint saved${this.checkpointPath ? ` to ${this.checkpointPath}` : ''} (continue with --resume)`);
          this.log?.write({ type: 'end', reason: 'interrupted', step: this.step, epoch, batch: loader.position });
          return { reason: 'interrupted', epochs: this.history, step: this.step };
        }

        loader.finishEpoch();
        const record: EpochRecord = {
          type: 'epoch',
          epoch,
          step: this.step,
          trainLoss: this.partial.lossSum / Math.max(this.partial.count, 1),
          trainAcc: this.partial.correct / Math.max(this.partial.count, 1),
          lr: this.lr,
          seconds: this.partial.seconds,
          imagesPerSec: this.partial.count / Math.max(this.partial.seconds, 1e-9),
        };
        const lastEpoch = loader.epoch >= epochs;
        if (this.opts.testLoader && ((epoch + 1) % evalEvery === 0 || lastEpoch)) {
          const t = await this.evaluate(this.opts.testLoader);
          record.testLoss = t.loss;
          record.testAcc = t.acc;
        }
        this.history.push(record);
        this.log?.write(record);
        progress.endEpoch(record, epochs);
        this.partial = { lossSum: 0, correct: 0, count: 0, seconds: 0 };
        await this.checkpoint('epoch');
        this.writeCurves();
        if (this.stopRequested) {
          this.log?.write({ type: 'end', reason: 'interrupted', step: this.step, epoch: loader.epoch, batch: 0 });
          return { reason: 'interrupted', epochs: this.history, step: this.step };
        }
      }
    } catch (err) {
      await Promise.all(pending);
      if (err instanceof TrainingDivergedError) this.log?.write({ type: 'end', reason: 'diverged', step: this.step, message: err.message });
      throw err;
    } finally {
      metrics.dispose();
      progress.stop();
    }
    this.log?.write({ type: 'end', reason: 'done', step: this.step });
    return { reason: 'done', epochs: this.history, step: this.step };
  }

  private epochStartStep = 0;

  /** Mean loss (without label smoothing) and accuracy over a loader's first epoch order. */
  async evaluate(loader: DataLoader): Promise<{ loss: number; acc: number; count: number }> {
    const { model } = this.opts;
    model.eval();
    const metrics = new RunningMetrics();
    const totals = { lossSum: 0, correct: 0, count: 0 };
    const pending: Array<Promise<void>> = [];
    try {
      for (let i = 0; i < loader.length; i++) {
        const b = loader.makeBatch(0, i);
        noGrad(() =>
          scope(() => {
            const logits = model.forward(b.x);
            metrics.add(logits, b.y, this.evalLossFn(logits, b.y));
          }),
        );
        b.dispose();
        if (metrics.windowSteps >= 8 || i === loader.length - 1) {
          pending.push(
            metrics.snapshot(i).then((w) => {
              totals.lossSum += w.lossSum;
              totals.correct += w.correct;
              totals.count += w.count;
            }),
          );
          while (pending.length > MAX_IN_FLIGHT) await pending.shift();
        }
      }
      for (const p of pending) await p;
    } finally {
      metrics.dispose();
      model.train();
    }
    return { loss: totals.lossSum / Math.max(totals.count, 1), acc: totals.correct / Math.max(totals.count, 1), count: totals.count };
  }

  /** Save a checkpoint (if there is a run directory). */
  async checkpoint(reason: CheckpointMeta['reason']): Promise<void> {
    const path = this.checkpointPath;
    if (!path) return;
    const opt = this.opts.optimizer.stateDict();
    try {
      await saveCheckpoint(path, this.opts.model.stateDict(), opt, {
        version: 1,
        step: this.step,
        loader: this.opts.trainLoader.state(),
        rng: getRngState(),
        scheduler: this.opts.scheduler?.stateDict() ?? null,
        partial: this.partial,
        config: this.opts.config ?? {},
        reason,
      });
    } finally {
      for (const t of opt.state.values()) t.dispose();
    }
  }

  /** Continue from a checkpoint: model, optimizer, scheduler, loader position, RNG, partial epoch. */
  async resume(path: string): Promise<CheckpointMeta> {
    const ck = await loadCheckpoint(path);
    try {
      this.opts.model.loadStateDict(ck.model, { strict: true });
      this.opts.optimizer.loadStateDict(ck.optimizer);
    } finally {
      ck.dispose();
    }
    if (ck.meta.scheduler && this.opts.scheduler) this.opts.scheduler.loadStateDict(ck.meta.scheduler);
    this.opts.trainLoader.loadState(ck.meta.loader);
    setRngState(ck.meta.rng);
    this.step = ck.meta.step;
    this.partial = { ...ck.meta.partial };
    this.resumedFrom = { epoch: ck.meta.loader.epoch, batch: ck.meta.loader.batch, step: ck.meta.step };
    // Earlier epochs' records, for the curves and the final summary.
    if (this.opts.outDir) {
      for (const r of currentHistory(readLog(join(this.opts.outDir, 'log.jsonl')))) {
        if (r.type === 'epoch' && r.step <= ck.meta.step) this.history.push(r);
      }
    }
    return ck.meta;
  }

  /** Write runs/NAME/curves.svg from the log. */
  writeCurves(title?: string): string | null {
    if (!this.opts.outDir) return null;
    const logPath = join(this.opts.outDir, 'log.jsonl');
    if (!existsSync(logPath)) return null;
    const out = join(this.opts.outDir, 'curves.svg');
    writeFileSync(out, renderCurvesSvg(currentHistory(readLog(logPath)), title ?? String(this.opts.config?.name ?? 'training curves')));
    return out;
  }
}
