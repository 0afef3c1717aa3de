import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync, gunzipSync } from 'node:zlib';
import { readTar } from '../../src/data/tar.js';
import { ensureDataset, type ArchiveSpec } from '../../src/data/download.js';
import { loadCifar10 } from '../../src/data/cifar.js';

// A tiny CIFAR-10-shaped archive served from localhost: the whole download path runs offline.
let server: Server;
let baseUrl = '';
let archiveBytes: Buffer;
let requests = 0;

beforeAll(async () => {
  const src = mkdtempSync(join(tmpdir(), 'wg-tar-'));
  const root = join(src, 'cifar-10-batches-bin');
  mkdirSync(root);
  const rec = new Uint8Array(3073 * 4);
  for (let i = 0; i < 4; i++) rec[i * 3073] = i;
  for (const f of ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']) {
    writeFileSync(join(root, f), rec);
  }
  writeFileSync(join(root, 'batches.meta.txt'), 'a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n');
  execFileSync('tar', ['czf', join(src, 'c10.tar.gz'), '-C', src, 'cifar-10-batches-bin']);
  archiveBytes = readFileSync(join(src, 'c10.tar.gz'));
  server = createServer((req, res) => {
    requests++;
    if (req.url === '/c10.tar.gz') {
      res.writeHead(200, { 'content-length': archiveBytes.length });
      res.end(archiveBytes);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address() as { port: number };
  baseUrl = `http://127.0.0.1:${addr.port}`;
});

afterAll(() => server?.close());

const spec = (over: Partial<ArchiveSpec>): ArchiveSpec => ({
  name: 'CIFAR-10 (test)',
  url: `${baseUrl}/c10.tar.gz`,
  md5: createHash('md5').update(archiveBytes).digest('hex'),
  file: 'c10.tar.gz',
  root: 'cifar-10-batches-bin',
  ...over,
});

describe('tar reader', () => {
  it('lists the entries of a tar made by the system tar', () => {
    const tar = new Uint8Array(gunzipSync(archiveBytes));
    const names = [...readTar(tar)].filter((e) => e.type === '0').map((e) => e.name).sort();
    expect(names).toContain('cifar-10-batches-bin/test_batch.bin');
    const entry = [...readTar(tar)].find((e) => e.name.endsWith('data_batch_1.bin'))!;
    expect(entry.data.length).toBe(3073 * 4);
    expect(entry.data[3073]).toBe(1);
  });

  it('reports a truncated archive', () => {
    const tar = new Uint8Array(gunzipSync(archiveBytes));
    expect(() => [...readTar(tar.subarray(0, 1024))]).toThrow(/truncated/);
  });
});

describe('dataset download', () => {
  it('downloads once, verifies the MD5, unpacks, and loads', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'wg-cache-'));
    const archive = spec({});
    const ds = await loadCifar10({ cacheDir: cache, archive, progress: false });
    expect(ds.length).toBe(20);
    expect(ds.classes[2]).toBe('c');
    expect(existsSync(join(cache, 'c10.tar.gz'))).toBe(true);
    const before = requests;
    await loadCifar10({ cacheDir: cache, archive, split: 'test', progress: false });
    expect(requests).toBe(before); // cached
  });

  it('rejects an archive whose MD5 does not match and keeps nothing', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'wg-cache-'));
    await expect(ensureDataset(spec({ md5: '0'.repeat(32) }), ['test_batch.bin'], { cacheDir: cache, progress: false })).rejects.toThrow(/has MD5 [0-9a-f]{32}, expected 0{32}/);
    expect(existsSync(join(cache, 'c10.tar.gz'))).toBe(false);
    expect(existsSync(join(cache, 'c10.tar.gz.part'))).toBe(false);
  });

  it('explains what to do when offline', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'wg-cache-'));
    const offline = spec({ url: 'http://127.0.0.1:9/nothing.tar.gz' });
    await expect(ensureDataset(offline, ['test_batch.bin'], { cacheDir: cache, progress: false })).rejects.toThrow(/could not download CIFAR-10 \(test\).*offline\?[\s\S]*--data-dir/);
  });

  it('reports HTTP errors', async () => {
    const cache = mkdtempSync(join(tmpdir(), 'wg-cache-'));
    await expect(ensureDataset(spec({ url: `${baseUrl}/missing` }), ['x'], { cacheDir: cache, progress: false })).rejects.toThrow(/HTTP 404/);
  });

  it('gzip helper passes plain data through', async () => {
    const { maybeGunzip } = await import('../../src/data/node.js');
    const plain = new Uint8Array([1, 2, 3]);
    expect(await maybeGunzip(plain)).toBe(plain);
    expect(Array.from(await maybeGunzip(new Uint8Array(gzipSync(plain))))).toEqual([1, 2, 3]);
  });
});
