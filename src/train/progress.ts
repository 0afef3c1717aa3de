// SPDX-License-Identifier: MIT
// What the user sees while training: a live bar per epoch on a terminal (loss, accuracy,
// images/s, ETA), and one summary line per epoch. Without a terminal (CI, `| tee`), the bar
// becomes a plain line every `plainEverySeconds`.

import cliProgress from 'cli-progress';
import type { EpochRecord } from './log.js';

export interface StepInfo {
  /** Batches done in this epoch. */
  batch: number;
  /** Mean loss and accuracy over the epoch so far. */
  loss: number;
  acc: number;
  /** Recent throughput. */
  imagesPerSec: number;
}

export interface ProgressReporter {
  startEpoch(epoch: number, epochs: number, batches: number, startBatch: number): void;
  update(info: StepInfo): void;
  endEpoch(summary: EpochRecord, epochs: number): void;
  /** A line that must not be torn by the bar (warnings, checkpoints). */
  message(text: string): void;
  stop(): void;
}

export const silentProgress: ProgressReporter = {
  startEpoch() {},
  update() {},
  endEpoch() {},
  message() {},
  stop() {},
};

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function formatEpochSummary(r: EpochRecord, epochs: number): string {
  const width = String(epochs).length;
  const test = r.testAcc !== undefined ? `  test loss ${r.testLoss!.toFixed(4)} acc ${(100 * r.testAcc).toFixed(2)}%` : '';
  return (
    `epoch ${String(r.epoch + 1).padStart(width)}/${epochs}  train loss ${r.trainLoss.toFixed(4)} acc ${(100 * r.trainAcc).toFixed(2)}%` +
    `${test}  lr ${r.lr.toPrecision(3)}  ${Math.round(r.imagesPerSec)} img/s  ${formatDuration(r.seconds)}`
  );
}

export class TerminalProgress implements ProgressReporter {
  private bar: cliProgress.SingleBar | null = null;
  private readonly tty: boolean;
  private epochLabel = '';
  private batches = 0;
  private lastPlain = 0;
  private startedAt = 0;
  private startBatch = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly plainEverySeconds = 30,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  startEpoch(epoch: number, epochs: number, batches: number, startBatch: number): void {
    const width = String(epochs).length;
    this.epochLabel = `epoch ${String(epoch + 1).padStart(width)}/${epochs}`;
    this.batches = batches;
    this.startedAt = performance.now();
    this.startBatch = startBatch;
    this.lastPlain = performance.now();
    if (!this.tty) return;
    this.bar = new cliProgress.SingleBar(
      {
        format: `${this.epochLabel} [{bar}] {value}/{total} | loss {loss} | acc {acc} | {ips} img/s | ETA {eta_formatted}`,
        stream: this.stream,
        barsize: 24,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 20,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(batches, startBatch, { loss: '-', acc: '-', ips: '-' });
  }

  update(info: StepInfo): void {
    const payload = { loss: info.loss.toFixed(4), acc: `${(100 * info.acc).toFixed(2)}%`, ips: Math.round(info.imagesPerSec) };
    if (this.bar) {
      this.bar.update(info.batch, payload);
      return;
    }
    const now = performance.now();
    if (now - this.lastPlain < this.plainEverySeconds * 1000 || info.batch >= this.batches) return;
    this.lastPlain = now;
    const rate = (info.batch - this.startBatch) / ((now - this.startedAt) / 1000);
    const eta = (this.batches - info.batch) / rate;
    this.stream.write(`${this.epochLabel} ${info.batch}/${this.batches} | loss ${payload.loss} | acc ${payload.acc} | ${payload.ips} img/s | ETA ${formatDuration(eta)}\n`);
  }

  endEpoch(summary: EpochRecord, epochs: number): void {
    this.bar?.stop();
    this.bar = null;
    this.out.write(`${formatEpochSummary(summary, epochs)}\n`);
  }

  message(text: string): void {
    if (this.bar) {
      // Clear the bar's line, print, and let the bar redraw on its next update.
      this.stream.write('\r\x1b[K');
    }
    this.out.write(`${text}\n`);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
