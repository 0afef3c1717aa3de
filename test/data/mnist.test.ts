import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseIdx, loadMnist, loadBundledMnist, loadBundledMnistAll } from '../../src/data/mnist.js';
import { classCounts } from '../../src/data/dataset.js';

function idx(shape: number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length);
  header[2] = 0x08;
  header[3] = shape.length;
  const view = new DataView(header.buffer);
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

describe('MNIST', () => {
  it('parses IDX files and checks their headers', () => {
    const a = parseIdx(idx([2, 3], Uint8Array.from([1, 2, 3, 4, 5, 6])));
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => parseIdx(idx([2, 3], new Uint8Array(5)), 'f')).toThrow(/f: IDX header says \[2, 3\] = 6 bytes, but 5 follow/);
    expect(() => parseIdx(Uint8Array.from([1, 0, 8, 1]), 'g')).toThrow(/g is not an IDX file/);
    const floats = idx([1], new Uint8Array(1));
    floats[2] = 0x0d;
    expect(() => parseIdx(floats)).toThrow(/element type 0xd is not supported/);
  });

  it('loads official-named files, plain and gzipped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wg-mnist-'));
    const pixels = Uint8Array.from({ length: 3 * 28 * 28 }, (_, i) => i & 0xff);
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(idx([3, 28, 28], pixels)));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx([3], Uint8Array.from([5, 0, 9])));
    const ds = await loadMnist({ dataDir: dir });
    expect(ds.length).toBe(3);
    expect([ds.channels, ds.height, ds.width]).toEqual([1, 28, 28]);
    expect(Array.from(ds.labels)).toEqual([5, 0, 9]);
    expect(ds.images[100]).toBe(100);
    await expect(loadMnist({ dataDir: dir, split: 'test' })).rejects.toThrow(/t10k-images-idx3-ubyte\[\.gz\] not found/);
  });

  it('ships 10,000 digits offline and splits them 8,000 / 2,000 with a fixed shuffle', async () => {
    const all = await loadBundledMnistAll();
    expect(all.length).toBe(10000);
    expect(classCounts(all)).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    const train = await loadBundledMnist();
    const test = await loadBundledMnist({ split: 'test' });
    expect(train.length).toBe(8000);
    expect(test.length).toBe(2000);
    for (const c of classCounts(test)) expect(c).toBeGreaterThan(150);
    const again = await loadBundledMnist({ split: 'test' });
    expect(again.labels).toEqual(test.labels);
    // Every digit has ink: the brightest pixel of the first test image is near 255.
    expect(Math.max(...test.images.subarray(0, 784))).toBeGreaterThan(200);
  });
});
