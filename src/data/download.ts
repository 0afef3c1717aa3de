// SPDX-License-Identifier: MIT
// Fetch an official dataset archive once into a cache directory, verify its MD5, and unpack
// the files we need. Node only.
//
//   cache dir: $WGSLGRAD_CACHE, else $XDG_CACHE_HOME/wgslgrad, else ~/.cache/wgslgrad
//   <cache>/cifar-10-binary.tar.gz          the archive, kept (verified again before each unpack)
//   <cache>/cifar-10-batches-bin/*.bin      the unpacked files
//
// Downloads go to `<file>.part` and are renamed only after the checksum matches, so an
// interrupted or corrupted download is never mistaken for a good one.

import { DatasetError } from './errors.js';
import { fsModule, pathModule, nodeImport, maybeGunzip } from './node.js';
import { readTar } from './tar.js';

export interface ArchiveSpec {
  /** Human name for messages, e.g. 'CIFAR-10'. */
  name: string;
  url: string;
  /** Hex MD5 of the archive as published. */
  md5: string;
  /** File name in the cache directory. */
  file: string;
  /** The directory inside the archive that holds the data files. */
  root: string;
}

export const CIFAR10_ARCHIVE: ArchiveSpec = {
  name: 'CIFAR-10',
  url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
  md5: 'c32a1d4ab5d03f1284b67883e8d87530',
  file: 'cifar-10-binary.tar.gz',
  root: 'cifar-10-batches-bin',
};

export const CIFAR100_ARCHIVE: ArchiveSpec = {
  name: 'CIFAR-100',
  url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz',
  md5: '03b5dce01913d631647c71ecec9e9cb8',
  file: 'cifar-100-binary.tar.gz',
  root: 'cifar-100-binary',
};

export interface DownloadOptions {
  /** Override the cache directory. */
  cacheDir?: string;
  /** Show a progress bar on stderr (default: when stderr is a terminal). */
  progress?: boolean;
}

export async function defaultCacheDir(): Promise<string> {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
  const path = await pathModule();
  if (env.WGSLGRAD_CACHE) return env.WGSLGRAD_CACHE;
  if (env.XDG_CACHE_HOME) return path.join(env.XDG_CACHE_HOME, 'wgslgrad');
  const os = await nodeImport<typeof import('node:os')>('node:os', 'the cache directory');
  return path.join(os.homedir(), '.cache', 'wgslgrad');
}

async function md5File(file: string): Promise<string> {
  const crypto = await nodeImport<typeof import('node:crypto')>('node:crypto', 'checksums');
  const fs = await fsModule();
  const hash = crypto.createHash('md5');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function formatMiB(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** Download `spec.url` into the cache (once), verify the MD5, and return the archive's path. */
export async function downloadArchive(spec: ArchiveSpec, opts: DownloadOptions = {}): Promise<string> {
  const fs = await fsModule();
  const path = await pathModule();
  const dir = opts.cacheDir ?? (await defaultCacheDir());
  const target = path.join(dir, spec.file);
  if (fs.existsSync(target)) return target;
  fs.mkdirSync(dir, { recursive: true });

  const part = `${target}.part`;
  const offlineHelp =
    `  Either connect to the network, or download ${spec.url} yourself and put it at ${target},\n` +
    `  or unpack it and pass the directory with --data-dir (dataDir).`;
  let response: Response;
  try {
    response = await fetch(spec.url);
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new DatasetError(`wgslgrad.data: could not download ${spec.name} from ${spec.url} (offline?): ${cause}\n${offlineHelp}`);
  }
  if (!response.ok || !response.body) {
    throw new DatasetError(`wgslgrad.data: downloading ${spec.name} from ${spec.url} failed: HTTP ${response.status} ${response.statusText}\n${offlineHelp}`);
  }
  const total = Number(response.headers.get('content-length') ?? 0);
  const showBar = opts.progress ?? Boolean((globalThis as { process?: { stderr?: { isTTY?: boolean } } }).process?.stderr?.isTTY);
  const bar = showBar ? await downloadBar(spec, total) : null;
  const crypto = await nodeImport<typeof import('node:crypto')>('node:crypto', 'checksums');
  const hash = crypto.createHash('md5');
  const out = fs.createWriteStream(part);
  let received = 0;
  try {
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      received += value.length;
      if (!out.write(value)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      bar?.update(received, { got: formatMiB(received) });
    }
  } catch (err) {
    out.destroy();
    fs.rmSync(part, { force: true });
    throw new DatasetError(`wgslgrad.data: the download of ${spec.name} broke off after ${formatMiB(received)}: ${(err as Error).message}\n${offlineHelp}`);
  } finally {
    bar?.stop();
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  const digest = hash.digest('hex');
  if (digest !== spec.md5) {
    fs.rmSync(part, { force: true });
    throw new DatasetError(
      `wgslgrad.data: ${spec.name} archive from ${spec.url} has MD5 ${digest}, expected ${spec.md5} ` +
        `(${received} bytes received${total ? ` of ${total}` : ''}); the partial file was deleted, try again`,
    );
  }
  fs.renameSync(part, target);
  return target;
}

async function downloadBar(spec: ArchiveSpec, total: number) {
  const cliProgress = await nodeImport<typeof import('cli-progress')>('cli-progress', 'the download progress bar');
  const bar = new cliProgress.SingleBar(
    {
      format: `  ${spec.file} [{bar}] {percentage}% | {got} | {eta_formatted} left`,
      stream: (globalThis as unknown as { process: { stderr: NodeJS.WriteStream } }).process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(Math.max(total, 1), 0, { got: formatMiB(0) });
  return bar;
}

/**
 * Make sure `<cache>/<spec.root>/` holds `files` (names inside spec.root), downloading and
 * unpacking the archive if needed. Returns that directory.
 */
export async function ensureDataset(spec: ArchiveSpec, files: readonly string[], opts: DownloadOptions = {}): Promise<string> {
  const fs = await fsModule();
  const path = await pathModule();
  const dir = opts.cacheDir ?? (await defaultCacheDir());
  const dataDir = path.join(dir, spec.root);
  if (files.every((f) => fs.existsSync(path.join(dataDir, f)))) return dataDir;
  const archive = await downloadArchive(spec, opts);
  const digest = await md5File(archive);
  if (digest !== spec.md5) {
    throw new DatasetError(`wgslgrad.data: cached archive ${archive} has MD5 ${digest}, expected ${spec.md5}; delete it and run again to download it afresh`);
  }
  await extractTar(archive, dir, (name) => name.startsWith(`${spec.root}/`));
  const missing = files.filter((f) => !fs.existsSync(path.join(dataDir, f)));
  if (missing.length) throw new DatasetError(`wgslgrad.data: ${archive} does not contain ${missing.map((f) => `${spec.root}/${f}`).join(', ')}`);
  return dataDir;
}

/** Unpack the regular files of a (gzipped) tar archive whose names pass `filter` into `dest`. */
export async function extractTar(archive: string, dest: string, filter: (name: string) => boolean = () => true): Promise<string[]> {
  const fs = await fsModule();
  const path = await pathModule();
  const bytes = await maybeGunzip(new Uint8Array(fs.readFileSync(archive)), archive);
  const written: string[] = [];
  const root = path.resolve(dest);
  for (const entry of readTar(bytes)) {
    if (entry.type !== '0' && entry.type !== '\0') continue;
    if (!filter(entry.name)) continue;
    const target = path.resolve(root, entry.name);
    if (!target.startsWith(root + path.sep)) throw new DatasetError(`wgslgrad.data: ${archive}: entry '${entry.name}' would be written outside ${dest}`);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    // Atomic per file: a reader never sees half a data batch.
    fs.writeFileSync(`${target}.part`, entry.data);
    fs.renameSync(`${target}.part`, target);
    written.push(entry.name);
  }
  return written;
}
