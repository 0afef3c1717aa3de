// SPDX-License-Identifier: MIT
// A minimal reader for (ustar / GNU) tar archives: enough for the official dataset tarballs.
//
// A tar file is a sequence of 512-byte header blocks, each followed by the file's bytes padded
// to a multiple of 512. Header fields used: name (0..99), size (124..135, octal), typeflag (156),
// ustar prefix (345..499). GNU long names arrive as a preceding entry of type 'L'.

import { DatasetError } from './errors.js';

export interface TarEntry {
  name: string;
  /** '0' (or '\0') regular file, '5' directory, ... */
  type: string;
  data: Uint8Array;
}

const BLOCK = 512;

function cString(bytes: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(start, end));
}

function octal(bytes: Uint8Array, start: number, length: number, what: string): number {
  // GNU base-256 encoding for sizes >= 8 GiB (high bit set) is not needed for our archives.
  if (bytes[start] & 0x80) throw new DatasetError(`wgslgrad.data: tar: ${what}: base-256 sizes are not supported`);
  const text = cString(bytes, start, length).trim();
  const value = text === '' ? 0 : parseInt(text, 8);
  if (!Number.isFinite(value) || value < 0) throw new DatasetError(`wgslgrad.data: tar: ${what}: bad octal field '${text}'`);
  return value;
}

/** Every entry of an uncompressed tar archive. */
export function* readTar(archive: Uint8Array): Generator<TarEntry> {
  let offset = 0;
  let longName: string | null = null;
  while (offset + BLOCK <= archive.length) {
    const header = archive.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) return; // end-of-archive marker
    const size = octal(header, 124, 12, `entry at byte ${offset}`);
    const type = String.fromCharCode(header[156] || 0x30);
    let name = cString(header, 0, 100);
    if (cString(header, 257, 6) === 'ustar') {
      const prefix = cString(header, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    const start = offset + BLOCK;
    if (start + size > archive.length) {
      throw new DatasetError(`wgslgrad.data: tar: entry '${name}' needs ${size} bytes but the archive ends after ${archive.length - start} (truncated download?)`);
    }
    const data = archive.subarray(start, start + size);
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') {
      longName = cString(data, 0, data.length);
      continue;
    }
    if (longName !== null) {
      name = longName;
      longName = null;
    }
    if (type === 'x' || type === 'g') continue; // pax extended headers: not needed here
    yield { name, type, data };
  }
}
