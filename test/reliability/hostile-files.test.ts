// Hostile files: truncated, corrupted and garbage checkpoints and dataset files must fail with a
// clear, typed error naming the file (CheckpointError / SafetensorsError / DatasetError, or the
// model's StateDictError when the tensors do not fit) — never a TypeError, a RangeError, a
// SyntaxError, a huge allocation, a hang, or a file written outside its directory.
import { describe, it, expect, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, deflateSync } from 'node:zlib';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';
import { saveCheckpoint, loadCheckpoint, CheckpointError, CHECKPOINT_FORMAT, type CheckpointMeta } from '../../src/train/checkpoint.js';
import { Trainer } from '../../src/train/trainer.js';
import { makeDataset } from '../../src/data/dataset.js';
import { DataLoader } from '../../src/data/loader.js';
import { Rng } from './fuzz-helpers.js';

useDevice();

const { DatasetError } = wg.data;
const { SafetensorsError } = wg.io;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wg-hostile-'));
});

/** Await f and return what it threw (fails if it did not throw). */
async function thrown(f: () => unknown): Promise<Error> {
  try {
    await f();
  } catch (e) {
    return e as Error;
  }
  return expect.fail('expected an error');
}

/** A clear error: one of the library's typed errors (or a plain Error it threw on purpose), naming `file`. */
function expectClear(err: Error, file: string | null, what: string): void {
  expect(['TypeError', 'RangeError', 'SyntaxError', 'ReferenceError'], `${what}: ${err.name}: ${err.message}`).not.toContain(err.name);
  expect(err instanceof wg.WgslgradError || err.constructor === Error, `${what}: ${err.name}: ${err.message}`).toBe(true);
  if (file) expect(err.message, what).toContain(file);
}

// ---- checkpoints --------------------------------------------------------------------------

function makeModel() {
  wg.manualSeed(1);
  return new wg.nn.Sequential(new wg.nn.Flatten(), new wg.nn.Linear(12, 5), new wg.nn.ReLU(), new wg.nn.Linear(5, 3));
}

function toyLoader() {
  const n = 8;
  const ds = makeDataset({
    name: 'toy', channels: 3, height: 2, width: 2, classes: ['a', 'b', 'c'],
    images: Uint8Array.from({ length: n * 12 }, (_, i) => (i * 37) & 0xff),
    labels: Int32Array.from({ length: n }, (_, i) => i % 3),
  });
  return new DataLoader(ds, { batchSize: 4, seed: 1 });
}

function makeTrainer() {
  const model = makeModel();
  const optimizer = new wg.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
  const trainer = new Trainer({ model, optimizer, trainLoader: toyLoader(), epochs: 1 });
  return { model, optimizer, trainer, dispose: () => { optimizer.dispose(); model.dispose(); } };
}

const META: Omit<CheckpointMeta, 'optimizer'> = {
  version: 1, step: 1, loader: { seed: 1, epoch: 0, batch: 1 }, rng: { seed: 1, offset: 4 }, scheduler: null,
  partial: { lossSum: 1, correct: 2, count: 4, seconds: 0.5 }, config: { name: 'toy' }, reason: 'interrupted',
};

/** A real checkpoint: one SGD step so the optimizer has momentum buffers. */
async function writeCheckpoint(path: string): Promise<Uint8Array> {
  const { model, optimizer, dispose } = makeTrainer();
  wg.scope(() => {
    const loss = model.forward(wg.randn([4, 3, 2, 2], { seed: 2 })).mean();
    loss.backward();
    optimizer.step();
  });
  const sd = optimizer.stateDict();
  await saveCheckpoint(path, model.stateDict(), sd, META);
  for (const t of sd.state.values()) t.dispose();
  dispose();
  return new Uint8Array(readFileSync(path));
}

/** Re-encode a checkpoint's header with edited metadata (the data region unchanged). */
function withMetadata(file: Uint8Array, edit: (meta: Record<string, string>) => void): Uint8Array {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n)));
  edit(header.__metadata__);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + (file.length - 8 - n));
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(file.subarray(8 + n), 8 + json.length);
  return out;
}

describe('hostile checkpoint files', () => {
  let good: Uint8Array;
  let goodPath: string;
  beforeAll(async () => {
    goodPath = join(dir, 'good.safetensors');
    good = await writeCheckpoint(goodPath);
  });

  it('the intact checkpoint loads and resumes (the baseline the corruptions start from)', async () => {
    const run = makeTrainer();
    const meta = await run.trainer.resume(goodPath);
    expect(meta.step).toBe(1);
    expect(run.trainer.step).toBe(1);
    run.dispose();
  });

  it('truncation at any point is a SafetensorsError naming the file', async () => {
    const path = join(dir, 'truncated.safetensors');
    const live = wg.memory().liveTensors;
    // Every length in the first and last 24 bytes, and every 5th in between (~200 files).
    const lengths = [...Array(good.length).keys()].filter((n) => n < 24 || n > good.length - 24 || n % 5 === 0);
    for (const n of lengths) {
      writeFileSync(path, good.subarray(0, n));
      const err = await thrown(() => loadCheckpoint(path));
      expect(err, `truncated to ${n} bytes`).toBeInstanceOf(SafetensorsError);
      expect(err.message).toContain(path);
    }
    expect(wg.memory().liveTensors).toBe(live); // nothing uploaded from a half file
  });

  it('garbage, empty, missing, directory, plain weights: CheckpointError or SafetensorsError naming the file', async () => {
    const cases: Array<[string, Uint8Array | null]> = [
      ['empty', new Uint8Array(0)],
      ['text', new TextEncoder().encode('this is not a checkpoint, just some text that happens to be long enough')],
      ['random', Uint8Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)],
      ['huge header length', Uint8Array.from([255, 255, 255, 255, 255, 255, 255, 127, 123, 125])],
      ['plain weights', wg.io.encodeSafetensors(new Map([['w', { dtype: 'F32', shape: [2], data: Float32Array.of(1, 2) }]]))],
      ['missing', null],
    ];
    for (const [name, bytes] of cases) {
      const path = join(dir, `${name.replace(/ /g, '-')}.safetensors`);
      if (bytes) writeFileSync(path, bytes);
      const err = await thrown(() => loadCheckpoint(path));
      expect(err instanceof CheckpointError || err instanceof SafetensorsError, `${name}: ${err.message}`).toBe(true);
      expect(err.message, name).toContain(path);
    }
    const err = await thrown(() => loadCheckpoint(dir));
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/cannot read checkpoint/);
    expect((await thrown(() => loadCheckpoint(join(dir, 'plain-weights.safetensors')))).message).toMatch(/is not a wgslgrad checkpoint/);
  });

  it('corrupt metadata (not JSON, wrong version, missing or mistyped fields): CheckpointError naming the field', async () => {
    const edits: Array<[string, (m: Record<string, string>) => void, RegExp]> = [
      ['not JSON', (m) => (m['wgslgrad.checkpoint'] = m['wgslgrad.checkpoint'].slice(0, -5)), /not valid JSON/],
      ['not an object', (m) => (m['wgslgrad.checkpoint'] = '[1, 2]'), /not a JSON object/],
      ['version 2', (m) => (m['wgslgrad.checkpoint'] = m['wgslgrad.checkpoint'].replace('"version":1', '"version":2')), /version 2 is not supported/],
      ['negative step', (m) => (m['wgslgrad.checkpoint'] = m['wgslgrad.checkpoint'].replace('"step":1', '"step":-4')), /step -4/],
      ['no loader', (m) => (m['wgslgrad.checkpoint'] = JSON.stringify({ ...JSON.parse(m['wgslgrad.checkpoint']), loader: undefined })), /loader/],
      ['bad rng', (m) => (m['wgslgrad.checkpoint'] = JSON.stringify({ ...JSON.parse(m['wgslgrad.checkpoint']), rng: { seed: 'x' } })), /rng/],
      ['no optimizer groups', (m) => (m['wgslgrad.checkpoint'] = JSON.stringify({ ...JSON.parse(m['wgslgrad.checkpoint']), optimizer: {} })), /optimizer\.groups/],
      ['bad partial', (m) => (m['wgslgrad.checkpoint'] = JSON.stringify({ ...JSON.parse(m['wgslgrad.checkpoint']), partial: null })), /partial/],
      ['other format', (m) => (m.format = 'pytorch'), /is not a wgslgrad checkpoint/],
    ];
    for (const [name, edit, pattern] of edits) {
      const path = join(dir, `meta-${name.replace(/ /g, '-')}.safetensors`);
      writeFileSync(path, withMetadata(good, edit));
      const err = await thrown(() => loadCheckpoint(path));
      expect(err, name).toBeInstanceOf(CheckpointError);
      expect(err.message, name).toMatch(pattern);
      expect(err.message, name).toContain(path);
    }
    expect(CHECKPOINT_FORMAT).toBe('wgslgrad-checkpoint');
  });

  it('300 random byte flips: every load + resume either works or fails clearly; nothing leaks', async () => {
    const path = join(dir, 'flipped.safetensors');
    const run = makeTrainer();
    await run.trainer.resume(goodPath); // the optimizer's momentum buffers now exist
    await wg.sync();
    const live = wg.memory().liveTensors;
    const outcomes = { loaded: 0, resumed: 0, rejected: 0 };
    for (let i = 0; i < 300; i++) {
      const r = new Rng(9000 + i);
      const bytes = good.slice();
      for (let k = r.int(1, 4); k > 0; k--) bytes[r.int(0, bytes.length - 1)] ^= 1 << r.int(0, 7);
      writeFileSync(path, bytes);
      try {
        const ck = await loadCheckpoint(path);
        ck.dispose();
        outcomes.loaded++;
        await run.trainer.resume(path);
        outcomes.resumed++;
      } catch (e) {
        expectClear(e as Error, null, `flip case ${i}`);
        outcomes.rejected++;
      }
      await wg.sync(); // no GPU error left behind
    }
    expect(outcomes.rejected).toBeGreaterThan(20);
    expect(outcomes.resumed).toBeGreaterThan(20); // flips inside tensor data load fine
    expect(wg.memory().liveTensors).toBe(live);
    run.dispose();
  });

  it('a checkpoint of another model: resume fails with a StateDictError listing the keys', async () => {
    const path = join(dir, 'other-model.safetensors');
    writeFileSync(path, good);
    const model = new wg.nn.Sequential(new wg.nn.Flatten(), new wg.nn.Linear(12, 7));
    const optimizer = new wg.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const trainer = new Trainer({ model, optimizer, trainLoader: toyLoader(), epochs: 1 });
    const err = await thrown(() => trainer.resume(path));
    expect(err).toBeInstanceOf(wg.nn.StateDictError);
    expect(err.message).toMatch(/1\.weight/);
    optimizer.dispose();
    model.dispose();
  });
});

// ---- dataset files ------------------------------------------------------------------------

function idx(dims: number[], data: ArrayLike<number>, type = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(out.buffer);
  out[2] = type;
  out[3] = dims.length;
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

describe('hostile dataset files', () => {
  it('CIFAR-10/100: truncated, empty, or with out-of-range labels: DatasetError naming the file', async () => {
    const cdir = join(dir, 'cifar');
    mkdirSync(cdir, { recursive: true });
    const file = join(cdir, 'data_batch_1.bin');
    const records = new Uint8Array(3073 * 3).map((_, i) => (i % 3073 === 0 ? (i / 3073) % 10 : i & 0xff));
    writeFileSync(file, records);
    expect((await wg.data.loadCifar10({ dataDir: cdir })).length).toBe(3);
    for (const n of [0, 1, 3072, 3074, 3073 * 2 + 100]) {
      writeFileSync(file, records.subarray(0, n));
      const err = await thrown(() => wg.data.loadCifar10({ dataDir: cdir }));
      expect(err, `${n} bytes`).toBeInstanceOf(DatasetError);
      expect(err.message).toContain(file);
    }
    const badLabel = records.slice();
    badLabel[3073] = 200;
    writeFileSync(file, badLabel);
    const err = await thrown(() => wg.data.loadCifar10({ dataDir: cdir }));
    expect(err).toBeInstanceOf(DatasetError);
    expect(err.message).toMatch(/record 1 has label 200, outside 0\.\.9/);
    // CIFAR-100: the fine label (second byte) out of range.
    const c100 = join(dir, 'cifar100');
    mkdirSync(c100, { recursive: true });
    const rec100 = new Uint8Array(3074 * 2);
    rec100[1] = 150;
    writeFileSync(join(c100, 'train.bin'), rec100);
    expect(await thrown(() => wg.data.loadCifar100({ dataDir: c100 }))).toBeInstanceOf(DatasetError);
  });

  it('CIFAR: 200 random byte flips give a DatasetError or a dataset whose labels are all in range', async () => {
    const cdir = join(dir, 'cifar-flip');
    mkdirSync(cdir, { recursive: true });
    const base = new Uint8Array(3073 * 2).map((_, i) => (i % 3073 === 0 ? 7 : i & 0xff));
    let rejected = 0;
    for (let i = 0; i < 200; i++) {
      const r = new Rng(500 + i);
      const bytes = base.slice(0, r.chance(0.2) ? r.int(0, base.length) : base.length);
      for (let k = r.int(1, 3); k > 0 && bytes.length; k--) bytes[r.pick([0, 3073, r.int(0, bytes.length - 1)]) % bytes.length] ^= 1 << r.int(0, 7);
      writeFileSync(join(cdir, 'test_batch.bin'), bytes);
      try {
        const ds = await wg.data.loadCifar10({ dataDir: cdir, split: 'test' });
        expect(Array.from(ds.labels).every((l) => l >= 0 && l < 10)).toBe(true);
      } catch (e) {
        expect(e, `flip case ${i}: ${(e as Error).message}`).toBeInstanceOf(DatasetError);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(10);
  });

  it('MNIST IDX (plain and gzipped): truncated, garbage, wrong type, mismatched, out-of-range, bad gzip: DatasetError naming the file', async () => {
    const mdir = join(dir, 'mnist');
    mkdirSync(mdir, { recursive: true });
    const imagesFile = join(mdir, 'train-images-idx3-ubyte');
    const labelsFile = join(mdir, 'train-labels-idx1-ubyte');
    const images = idx([3, 2, 2], Uint8Array.from({ length: 12 }, (_, i) => i * 20));
    const labels = idx([3], [1, 9, 0]);
    writeFileSync(imagesFile, images);
    writeFileSync(labelsFile, labels);
    expect((await wg.data.loadMnist({ dataDir: mdir })).length).toBe(3);

    const bad: Array<[string, string, Uint8Array]> = [];
    for (let n = 0; n < images.length; n++) bad.push([`images truncated to ${n}`, imagesFile, images.subarray(0, n)]);
    bad.push(
      ['images with a trailing byte', imagesFile, Uint8Array.from([...images, 0])],
      ['garbage', imagesFile, new TextEncoder().encode('<html>404 Not Found</html>')],
      ['float element type', imagesFile, idx([3, 2, 2], new Uint8Array(12), 0x0d)],
      ['giant dimensions', imagesFile, idx([0xffffffff, 0xffffffff, 0xffffffff], [1, 2, 3])],
      ['rank 2 images', imagesFile, idx([3, 4], new Uint8Array(12))],
      ['label 10', labelsFile, idx([3], [1, 10, 0])],
      ['4 labels for 3 images', labelsFile, idx([4], [1, 2, 3, 4])],
      ['corrupt gzip', labelsFile, Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9])],
      ['truncated gzip', labelsFile, gzipSync(labels).subarray(0, 18)],
    );
    for (const [name, file, bytes] of bad) {
      writeFileSync(imagesFile, images);
      writeFileSync(labelsFile, labels);
      writeFileSync(file, bytes);
      const t0 = performance.now();
      const err = await thrown(() => wg.data.loadMnist({ dataDir: mdir }));
      expect(err, `${name}: ${err.message}`).toBeInstanceOf(DatasetError);
      if (!name.startsWith('label 10') && !name.startsWith('4 labels') && !name.startsWith('rank 2')) expect(err.message, name).toContain(file);
      expect(performance.now() - t0, name).toBeLessThan(2000);
    }
  });

  it('image folders: corrupt PNG/JPEG and a PNG declaring 16385x16385 pixels: DatasetError before any huge allocation', async () => {
    const root = join(dir, 'images');
    mkdirSync(join(root, 'cat'), { recursive: true });
    const file = join(root, 'cat', 'a.png');
    const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
    const chunk = (type: string, data: Uint8Array) => {
      const out = new Uint8Array(12 + data.length);
      new DataView(out.buffer).setUint32(0, data.length);
      out.set(new TextEncoder().encode(type), 4);
      out.set(data, 8);
      return out; // CRC left zero: the size check must come first anyway
    };
    const ihdr = new Uint8Array(13);
    new DataView(ihdr.buffer).setUint32(0, 16385);
    new DataView(ihdr.buffer).setUint32(4, 16385);
    ihdr[8] = 8;
    ihdr[9] = 6;
    const bomb = Uint8Array.from([...signature, ...chunk('IHDR', ihdr), ...chunk('IDAT', deflateSync(new Uint8Array(100))), ...chunk('IEND', new Uint8Array(0))]);
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['PNG signature then garbage', Uint8Array.from([...signature, 1, 2, 3, 4, 5]), /could not decode/],
      ['JPEG marker then garbage', Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 3, 7]), /could not decode/],
      ['neither', new TextEncoder().encode('GIF89a...'), /neither PNG nor JPEG/],
      ['PNG bomb', bomb, /declares 16385x16385 pixels/],
    ];
    for (const [name, bytes, pattern] of cases) {
      writeFileSync(file, bytes);
      const rss = process.memoryUsage().rss;
      const err = await thrown(() => wg.data.loadImageFolder(root, { size: 8 }));
      expect(err, `${name}: ${err.message}`).toBeInstanceOf(DatasetError);
      expect(err.message, name).toMatch(pattern);
      expect(err.message, name).toContain(file);
      expect(process.memoryUsage().rss - rss, `${name}: memory`).toBeLessThan(256 * 2 ** 20);
    }
  });

  it('tar archives: truncated, bad header fields, and entries escaping the directory: DatasetError, nothing written outside', async () => {
    const header = (name: string, size: number, sizeField?: string) => {
      const h = new Uint8Array(512);
      h.set(new TextEncoder().encode(name), 0);
      h.set(new TextEncoder().encode(sizeField ?? size.toString(8).padStart(11, '0')), 124);
      h[156] = 0x30;
      return h;
    };
    const tar = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
    const body = new Uint8Array(512).fill(65);
    const dest = join(dir, 'untar');
    mkdirSync(dest, { recursive: true });
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ['truncated entry', tar(header('root/a.bin', 5000), body), /needs 5000 bytes but the archive ends/],
      ['bad octal size', tar(header('root/a.bin', 0, 'zzzz'), body), /bad octal field/],
      ['negative size', tar(header('root/a.bin', 0, '-1'), body), /bad octal field/],
      ['parent directory', tar(header('../evil.bin', 3), body, new Uint8Array(1024)), /would be written outside/],
      ['absolute path', tar(header('/tmp/wg-evil-absolute.bin', 3), body, new Uint8Array(1024)), /would be written outside/],
      ['corrupt gzip', Uint8Array.from([0x1f, 0x8b, 8, 0, 9, 9, 9, 9]), /not a valid gzip stream/],
    ];
    for (const [name, bytes, pattern] of cases) {
      const archive = join(dir, `${name.replace(/ /g, '-')}.tar`);
      writeFileSync(archive, bytes);
      const err = await thrown(() => wg.data.extractTar(archive, dest));
      expect(err, `${name}: ${err.message}`).toBeInstanceOf(DatasetError);
      expect(err.message, name).toMatch(pattern);
    }
    expect(existsSync(join(dir, 'evil.bin'))).toBe(false);
    expect(existsSync('/tmp/wg-evil-absolute.bin')).toBe(false);
    expect(readdirSync(dest)).toEqual([]);
    // Random garbage never hangs the reader (every header advances by at least one block).
    for (let i = 0; i < 50; i++) {
      const r = new Rng(77 + i);
      const bytes = Uint8Array.from({ length: 512 * r.int(1, 6) }, () => r.int(0, 255));
      try {
        for (const entry of wg.data.readTar(bytes)) expect(entry.data.length).toBeLessThanOrEqual(bytes.length);
      } catch (e) {
        expect(e, (e as Error).message).toBeInstanceOf(DatasetError);
      }
    }
  });
});
