// SPDX-License-Identifier: MIT
// An image-folder dataset (torchvision's ImageFolder): one sub-directory per class, class
// index = position in the sorted list of sub-directory names. PNG and JPEG files are decoded
// (pngjs, jpeg-js), converted to RGB, scaled so that they cover the target size, and centre-
// cropped to it (torchvision's Resize + CenterCrop). Node only. Meant for fine-tuning on a few
// thousand images: everything is held in memory as uint8.

import { makeDataset, type ImageDataset } from './dataset.js';
import { DatasetError } from './errors.js';
import { fsModule, pathModule, nodeImport } from './node.js';

export interface ImageFolderOptions {
  /** Output size: one number for a square, or [height, width]. Default 32. */
  size?: number | [number, number];
  /** File extensions to read (lower case, with the dot). */
  extensions?: string[];
  /** Name for messages. */
  name?: string;
}

interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Largest image decoded (8192 x 8192): a decoded RGBA image of this size is 256 MiB. */
const MAX_PIXELS = 8192 * 8192;

async function decode(file: string, bytes: Uint8Array): Promise<Rgba> {
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  if (isPng && bytes.length >= 24) {
    // The IHDR chunk comes first: refuse absurd sizes before pngjs allocates width * height * 4.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const [w, h] = [view.getUint32(16), view.getUint32(20)];
    if (w * h > MAX_PIXELS) throw new DatasetError(`wgslgrad.data: ${file} declares ${w}x${h} pixels, more than the ${MAX_PIXELS}-pixel limit (corrupt or hostile file?)`);
  }
  try {
    if (isPng) {
      const { PNG } = await nodeImport<typeof import('pngjs')>('pngjs', 'decoding PNG');
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: png.width, height: png.height, data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength) };
    }
    if (isJpeg) {
      const jpeg = await nodeImport<typeof import('jpeg-js')>('jpeg-js', 'decoding JPEG');
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024, maxResolutionInMP: MAX_PIXELS / 1e6 });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch (err) {
    throw new DatasetError(`wgslgrad.data: could not decode ${file}: ${(err as Error).message}`);
  }
  throw new DatasetError(`wgslgrad.data: ${file} is neither PNG nor JPEG (by its first bytes)`);
}

/**
 * Scale `img` (RGBA) so that it covers outH x outW, centre-crop, and write planar RGB into
 * `out` (3, outH, outW). Each output pixel averages the source pixels its footprint covers
 * (area filter when shrinking; nearest source pixel when enlarging).
 */
export function resizeCoverRgb(img: Rgba, outH: number, outW: number, out: Uint8Array): void {
  const scale = Math.max(outH / img.height, outW / img.width); // output pixels per source pixel
  const cropY = (img.height * scale - outH) / 2; // in output pixels
  const cropX = (img.width * scale - outW) / 2;
  const plane = outH * outW;
  for (let oy = 0; oy < outH; oy++) {
    const sy0 = (oy + cropY) / scale;
    const sy1 = (oy + 1 + cropY) / scale;
    const ya = Math.min(Math.floor(sy0), img.height - 1);
    const yb = Math.max(Math.min(Math.ceil(sy1), img.height), ya + 1);
    for (let ox = 0; ox < outW; ox++) {
      const sx0 = (ox + cropX) / scale;
      const sx1 = (ox + 1 + cropX) / scale;
      const xa = Math.min(Math.floor(sx0), img.width - 1);
      const xb = Math.max(Math.min(Math.ceil(sx1), img.width), xa + 1);
      let r = 0;
      let g = 0;
      let b = 0;
      for (let y = ya; y < yb; y++) {
        for (let x = xa; x < xb; x++) {
          const i = (y * img.width + x) * 4;
          r += img.data[i];
          g += img.data[i + 1];
          b += img.data[i + 2];
        }
      }
      const n = (yb - ya) * (xb - xa);
      const o = oy * outW + ox;
      out[o] = Math.round(r / n);
      out[plane + o] = Math.round(g / n);
      out[2 * plane + o] = Math.round(b / n);
    }
  }
}

/** Read `root/<class>/<image>` into memory. */
export async function loadImageFolder(root: string, opts: ImageFolderOptions = {}): Promise<ImageDataset> {
  const fs = await fsModule();
  const path = await pathModule();
  const [outH, outW] = typeof opts.size === 'number' ? [opts.size, opts.size] : (opts.size ?? [32, 32]);
  const extensions = opts.extensions ?? ['.png', '.jpg', '.jpeg'];
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new DatasetError(`wgslgrad.data: image folder ${root} does not exist`);
  const classes = fs
    .readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name)
    .sort();
  if (classes.length === 0) throw new DatasetError(`wgslgrad.data: ${root} has no class sub-directories (expected ${root}/<class>/<image>.png|jpg)`);
  const files: Array<{ file: string; label: number }> = [];
  classes.forEach((cls, label) => {
    for (const f of fs.readdirSync(path.join(root, cls)).sort()) {
      if (extensions.includes(path.extname(f).toLowerCase())) files.push({ file: path.join(root, cls, f), label });
    }
  });
  if (files.length === 0) throw new DatasetError(`wgslgrad.data: no ${extensions.join('/')} images under ${root}/<class>/`);
  const per = 3 * outH * outW;
  const images = new Uint8Array(files.length * per);
  const labels = new Int32Array(files.length);
  for (let i = 0; i < files.length; i++) {
    const img = await decode(files[i].file, new Uint8Array(fs.readFileSync(files[i].file)));
    resizeCoverRgb(img, outH, outW, images.subarray(i * per, (i + 1) * per));
    labels[i] = files[i].label;
  }
  return makeDataset({ name: opts.name ?? path.basename(root), images, labels, channels: 3, height: outH, width: outW, classes });
}
