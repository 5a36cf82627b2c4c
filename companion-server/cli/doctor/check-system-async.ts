// What the server needs from this machine and account: a private token, a free port, the memory.
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { defaultResultCacheDir } from '../../server/result-cache.ts';
import { defaultConfigDir } from '../../server/token-store.ts';
import { check, type DoctorCheck, formatBytes } from './doctor-check.ts';

const isPosix = process.platform !== 'win32';
const octal = (mode: number) => (mode & 0o777).toString(8).padStart(4, '0');

export async function checkTokenAsync(): Promise<DoctorCheck> {
  if (process.env.MGIE_TOKEN) return check('ok', 'token', 'given by MGIE_TOKEN (no token file is used)');
  const file = path.join(defaultConfigDir(), 'token');
  const info = await stat(file).catch(() => null);
  if (!info) return check('ok', 'token', `${file} does not exist yet: mgie serve creates it (0600) on first start`);
  if (isPosix && (info.mode & 0o077) !== 0) {
    return check('warn', 'token', `${file} is readable by other users (${octal(info.mode)}): chmod 600 '${file}' (mgie serve also tightens it at start)`);
  }
  return check('ok', 'token', `${file}${isPosix ? ` (${octal(info.mode)})` : ''}`);
}

export async function checkResultCacheAsync(): Promise<DoctorCheck> {
  const dir = defaultResultCacheDir();
  const info = await stat(dir).catch(() => null);
  if (!info) return check('ok', 'result cache', `${dir} does not exist yet (made private, 0700, when the server first keeps a result)`);
  if (isPosix && (info.mode & 0o077) !== 0) {
    return check('warn', 'result cache', `${dir} holds designers' images and is readable by other users (${octal(info.mode)}): chmod -R go= '${dir}' (mgie serve also tightens it)`);
  }
  return check('ok', 'result cache', `${dir}${isPosix ? ` (${octal(info.mode)})` : ''}`);
}

export async function checkPortAsync(host: string, port: number): Promise<DoctorCheck> {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const problem = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
  if (!problem) return check('ok', 'port', `${where} is free for mgie serve`);
  if (problem.code === 'EADDRINUSE') {
    if (await isMgieServerAsync(where)) return check('ok', 'port', `${where}: an MGIE companion server is already running there`);
    return check('fail', 'port', `${where} is in use by another program: stop it, or start the server with --port N (the plugin reaches port 8765 unless rebuilt with that address)`);
  }
  if (problem.code === 'EACCES') return check('fail', 'port', `${where}: not allowed to listen there (ports below 1024 need privileges): pick --port 1024 or above`);
  if (problem.code === 'EADDRNOTAVAIL' || problem.code === 'ENOTFOUND') return check('fail', 'port', `${host} is not an address of this machine: use 127.0.0.1, or 0.0.0.0 for every interface`);
  return check('fail', 'port', `${where}: cannot listen (${problem.code ?? problem.message})`);
}

/** Our server answers /v1/info without a token with its own error code. */
async function isMgieServerAsync(where: string): Promise<boolean> {
  try {
    const response = await fetch(`http://${where}/v1/info`, { signal: AbortSignal.timeout(2000) });
    return ((await response.json()) as { code?: string })?.code === 'MGIE_ERR_UNAUTHORIZED';
  } catch {
    return false;
  }
}

/** Linux counts reclaimable page cache in MemAvailable; os.freemem() would not. */
export function availableMemoryBytes(): number {
  try {
    const kb = readFileSync('/proc/meminfo', 'utf8').match(/^MemAvailable:\s+(\d+) kB/m)?.[1];
    if (kb) return Number(kb) * 1024;
  } catch {
    // not Linux
  }
  return os.freemem();
}

// The runtime holds each weight once plus activations and the arenas: real-size bundles peaked at
// 1.25 to 1.39 x their bytes (models/export/VERIFICATION.md, 2026-11-29), so 1.4 x + 300 MB.
export const memoryNeededBytes = (bundleBytes: number) => bundleBytes * 1.4 + 300 * 2 ** 20;

export function checkMemory(bundleBytes: number | undefined, available: number = availableMemoryBytes()): DoctorCheck {
  const free = `${formatBytes(available)} available of ${formatBytes(os.totalmem())}`;
  if (bundleBytes === undefined) return check('info', 'memory', free);
  const needed = memoryNeededBytes(bundleBytes);
  const summary = `${free}; the bundle needs about ${formatBytes(needed)}`;
  if (available < bundleBytes) return check('fail', 'memory', `${summary}: not even its weights fit; close programs or use a smaller (4-bit or float16) bundle`);
  if (available < needed) return check('warn', 'memory', `${summary}: edits may fail or swap; close programs first`);
  return check('ok', 'memory', summary);
}
