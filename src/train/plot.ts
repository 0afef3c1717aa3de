// SPDX-License-Identifier: MIT
// Loss and accuracy curves as a self-contained SVG (no library, no fonts beyond sans-serif).
// Left panel: loss (train per metrics window, faint; train and test per epoch). Right panel:
// accuracy in %. The x axis is epochs.

import type { EpochRecord, LogRecord, TrainRecord } from './log.js';

interface Series {
  label: string;
  color: string;
  points: Array<[number, number]>;
  width: number;
  opacity?: number;
  dots?: boolean;
}

const W = 480;
const H = 320;
const M = { left: 56, right: 16, top: 34, bottom: 44 };

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(3)).toString();
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

function panel(title: string, series: Series[], x0: number, yLabel: string, clampY?: [number, number]): string {
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  let [xMin, xMax] = [0, Math.max(1, ...all.map((p) => p[0]))];
  let yMin = Math.min(...all.map((p) => p[1]));
  let yMax = Math.max(...all.map((p) => p[1]));
  if (!all.length) [yMin, yMax] = [0, 1];
  if (clampY) [yMin, yMax] = [Math.max(clampY[0], yMin), Math.min(clampY[1], yMax)];
  if (yMax - yMin < 1e-9) [yMin, yMax] = [yMin - 0.5, yMax + 0.5];
  const pad = (yMax - yMin) * 0.05;
  [yMin, yMax] = [yMin - pad, yMax + pad];
  [xMin, xMax] = [xMin, xMax];
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number) => x0 + M.left + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number) => M.top + (1 - (y - yMin) / (yMax - yMin)) * ph;
  const parts: string[] = [];
  parts.push(`<text x="${x0 + W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`);
  parts.push(`<rect x="${x0 + M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`);
  for (const t of niceTicks(yMin, yMax)) {
    const y = sy(t).toFixed(1);
    parts.push(`<line x1="${x0 + M.left}" x2="${x0 + M.left + pw}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${x0 + M.left - 6}" y="${y}" dy="4" text-anchor="end" font-size="11">${fmt(t)}</text>`);
  }
  for (const t of niceTicks(xMin, xMax, 6)) {
    const x = sx(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + ph}" stroke="#f3f3f3"/>`);
    parts.push(`<text x="${x}" y="${M.top + ph + 16}" text-anchor="middle" font-size="11">${fmt(t)}</text>`);
  }
  parts.push(`<text x="${x0 + M.left + pw / 2}" y="${H - 8}" text-anchor="middle" font-size="12">epoch</text>`);
  parts.push(`<text x="${x0 + 14}" y="${M.top + ph / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 ${x0 + 14} ${M.top + ph / 2})">${escapeXml(yLabel)}</text>`);
  let legendY = M.top + 14;
  for (const s of series) {
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && y >= yMin && y <= yMax);
    if (!pts.length) continue;
    const d = pts.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${s.width}" stroke-opacity="${s.opacity ?? 1}"/>`);
    if (s.dots) for (const [x, y] of pts) parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
    const lx = x0 + M.left + pw - 120;
    parts.push(`<line x1="${lx}" x2="${lx + 18}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${s.color}" stroke-width="${Math.max(s.width, 2)}" stroke-opacity="${s.opacity ?? 1}"/>`);
    parts.push(`<text x="${lx + 24}" y="${legendY}" font-size="11">${escapeXml(s.label)}</text>`);
    legendY += 15;
  }
  return parts.join('\n');
}

/** The SVG for a run's log records. */
export function renderCurvesSvg(records: LogRecord[], title = 'training curves'): string {
  const windows = records.filter((r): r is TrainRecord => r.type === 'train');
  const epochs = records.filter((r): r is EpochRecord => r.type === 'epoch');
  const ex = (r: EpochRecord) => r.epoch + 1;
  const loss: Series[] = [
    { label: 'train (window)', color: '#1f77b4', width: 1, opacity: 0.35, points: windows.map((r) => [r.progress, r.loss]) },
    { label: 'train (epoch)', color: '#1f77b4', width: 2, dots: true, points: epochs.map((r) => [ex(r), r.trainLoss]) },
    { label: 'test', color: '#d62728', width: 2, dots: true, points: epochs.filter((r) => r.testLoss !== undefined).map((r) => [ex(r), r.testLoss!]) },
  ];
  const acc: Series[] = [
    { label: 'train (window)', color: '#1f77b4', width: 1, opacity: 0.35, points: windows.map((r) => [r.progress, 100 * r.acc]) },
    { label: 'train (epoch)', color: '#1f77b4', width: 2, dots: true, points: epochs.map((r) => [ex(r), 100 * r.trainAcc]) },
    { label: 'test', color: '#d62728', width: 2, dots: true, points: epochs.filter((r) => r.testAcc !== undefined).map((r) => [ex(r), 100 * r.testAcc!]) },
  ];
  const best = epochs.reduce((b, r) => Math.max(b, r.testAcc ?? -1), -1);
  const subtitle = best >= 0 ? ` (best test accuracy ${(100 * best).toFixed(2)}%)` : '';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 24}" viewBox="0 0 ${2 * W} ${H + 24}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<g transform="translate(0, 24)">`,
    panel('loss', loss, 0, 'cross-entropy'),
    panel('accuracy', acc, W, 'accuracy (%)', [0, 100]),
    `</g>`,
    `<text x="${W}" y="18" text-anchor="middle" font-size="15">${escapeXml(title + subtitle)}</text>`,
    `</svg>`,
  ].join('\n');
}
