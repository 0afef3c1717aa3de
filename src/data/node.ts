// SPDX-License-Identifier: MIT
// Node-only modules are loaded lazily, so `import * as wg from 'wgslgrad'` still loads in a
// browser (where the byte parsers work and only the file readers do not). The specifiers are
// hidden from bundlers the same way src/tensor/device.ts hides 'webgpu'.

import { DatasetError } from './errors.js';

/** Import a Node built-in or an npm package at run time; throws a clear error where absent. */
export async function nodeImport<T>(name: string, why: string): Promise<T> {
  let mod: Record<string, unknown>;
  try {
    mod = await import(/* @vite-ignore */ name);
  } catch (err) {
    throw new Error(`wgslgrad.data: ${why} needs the module '${name}' (Node.js): ${(err as Error).message}`);
  }
  // CommonJS packages (pngjs, jpeg-js) arrive as { default: module.exports }.
  return (name.startsWith('node:') ? mod : (mod.default ?? mod)) as T;
}

export type FsModule = typeof import('node:fs');
export type PathModule = typeof import('node:path');

export const fsModule = (): Promise<FsModule> => nodeImport<FsModule>('node:fs', 'reading files');
export const pathModule = (): Promise<PathModule> => nodeImport<PathModule>('node:path', 'reading files');

/**
 * Decompress gzip data if it starts with the gzip magic bytes (1f 8b); otherwise return it.
 * A corrupt or truncated stream is a DatasetError naming `file`.
 */
export async function maybeGunzip(bytes: Uint8Array, file = 'gzip data'): Promise<Uint8Array> {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  const zlib = await nodeImport<typeof import('node:zlib')>('node:zlib', 'gzip decompression');
  try {
    return new Uint8Array(zlib.gunzipSync(bytes));
  } catch (err) {
    throw new DatasetError(`wgslgrad.data: ${file} is not a valid gzip stream (${(err as Error).message}): truncated or corrupt? Delete it and fetch it again`);
  }
}
