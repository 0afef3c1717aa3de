import { describe, it, expect } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { loadImageFolder, resizeCoverRgb } from '../../src/data/image-folder.js';

function solid(width: number, height: number, rgb: [number, number, number]): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([...rgb, 255], i * 4);
  return data;
}

describe('image folder', () => {
  it('decodes PNG and JPEG per class folder, resizes and centre-crops to the target size', async () => {
    const root = mkdtempSync(join(tmpdir(), 'wg-imgs-'));
    mkdirSync(join(root, 'red'));
    mkdirSync(join(root, 'blue'));
    const png = new PNG({ width: 40, height: 20 });
    png.data = Buffer.from(solid(40, 20, [250, 10, 10]));
    writeFileSync(join(root, 'red', 'a.png'), PNG.sync.write(png));
    const jpg = jpeg.encode({ width: 16, height: 16, data: solid(16, 16, [10, 10, 250]) }, 95);
    writeFileSync(join(root, 'blue', 'b.jpg'), jpg.data);
    writeFileSync(join(root, 'blue', 'notes.txt'), 'ignored');
    const ds = await loadImageFolder(root, { size: 8 });
    expect(ds.classes).toEqual(['blue', 'red']);
    expect(Array.from(ds.labels)).toEqual([0, 1]);
    expect([ds.length, ds.channels, ds.height, ds.width]).toEqual([2, 3, 8, 8]);
    const blue = ds.images.subarray(0, 192);
    expect(Math.abs(blue[128] - 250)).toBeLessThan(8); // B plane of the JPEG
    const red = ds.images.subarray(192);
    expect(red[0]).toBe(250);
    expect(red[64]).toBe(10);
  });

  it('averages when shrinking and crops the long side', () => {
    // 4x2 image: left half black, right half white -> 1x1 cover crop keeps the middle 2x2.
    const data = new Uint8Array(4 * 2 * 4);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) data.set(x >= 2 ? [255, 255, 255, 255] : [0, 0, 0, 255], (y * 4 + x) * 4);
    const out = new Uint8Array(3);
    resizeCoverRgb({ width: 4, height: 2, data }, 1, 1, out);
    expect(out[0]).toBe(128);
  });

  it('reports a missing folder and an undecodable file', async () => {
    await expect(loadImageFolder('/nonexistent/wg')).rejects.toThrow(/does not exist/);
    const root = mkdtempSync(join(tmpdir(), 'wg-bad-'));
    mkdirSync(join(root, 'x'));
    writeFileSync(join(root, 'x', 'bad.png'), 'not a png');
    await expect(loadImageFolder(root)).rejects.toThrow(/bad\.png is neither PNG nor JPEG/);
  });
});
