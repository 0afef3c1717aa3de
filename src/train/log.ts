// SPDX-License-Identifier: MIT
// The run log: one JSON object per line in runs/NAME/log.jsonl, appended as training goes
// (a resumed run appends to the same file). Record types:
//   {"type":"start", "time", "config": {...}, "resumedFrom"?: {epoch, step}}
//   {"type":"train", "epoch", "step", "progress", "loss", "acc", "lr", "imagesPerSec"}   one per metrics window
//   {"type":"epoch", "epoch", "step", "trainLoss", "trainAcc", "testLoss"?, "testAcc"?, "lr", "seconds", "imagesPerSec"}
//   {"type":"end", "reason": "done" | "interrupted" | "diverged", ...}

import { appendFileSync, existsSync, readFileSync } from 'node:fs';

export interface EpochRecord {
  type: 'epoch';
  epoch: number;
  step: number;
  trainLoss: number;
  trainAcc: number;
  testLoss?: number;
  testAcc?: number;
  lr: number;
  seconds: number;
  imagesPerSec: number;
}

export interface TrainRecord {
  type: 'train';
  epoch: number;
  step: number;
  /** Epochs completed, fractional (epoch + batch / batches per epoch): the curves' x axis. */
  progress: number;
  loss: number;
  acc: number;
  lr: number;
  imagesPerSec?: number;
}

export type LogRecord = EpochRecord | TrainRecord | ({ type: 'start' | 'end' } & Record<string, unknown>);

export class JsonlLog {
  constructor(readonly path: string) {}

  write(record: LogRecord): void {
    appendFileSync(this.path, `${JSON.stringify({ ...record, time: new Date().toISOString() })}\n`);
  }
}

/** Every record of a log file (a torn last line, from a crash mid-write, is skipped). */
export function readLog(path: string): LogRecord[] {
  if (!existsSync(path)) return [];
  const out: LogRecord[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as LogRecord);
    } catch {
      // ignore a partial line
    }
  }
  return out;
}

/**
 * The records that describe the run as it stands: when a run was resumed, the records written
 * after the checkpoint it resumed from (and before the resume) are dropped, so curves show one
 * consistent history.
 */
export function currentHistory(records: LogRecord[]): LogRecord[] {
  let out: LogRecord[] = [];
  for (const r of records) {
    if (r.type === 'start' && r.resumedFrom) {
      const from = r.resumedFrom as { step: number };
      out = out.filter((x) => !(x.type === 'train' || x.type === 'epoch') || (x as TrainRecord).step <= from.step);
    }
    out.push(r);
  }
  return out;
}
