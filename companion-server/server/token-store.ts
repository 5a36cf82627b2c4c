// The companion server's shared secret. A browser page can reach a localhost server (DNS rebinding,
// cross-site WebSocket hijacking, `Origin: null` from any sandboxed iframe), so Host/Origin checks alone
// identify nobody; like Jupyter, we require a token by default and keep it in a file only the user can read.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import envPaths from 'env-paths';
import { MgieError } from '../engine/errors.ts';

export const MIN_TOKEN_LENGTH = 16;

export interface LoadedToken {
  token: string;
  /** The token file, or null when the token was given (flag or MGIE_TOKEN). */
  file: string | null;
  /** True when this call generated the token (new or empty file). */
  created: boolean;
  /** Set when something was fixed on the way, e.g. a group/world-readable token file was tightened. */
  warning?: string;
}

export function defaultConfigDir(): string {
  return process.env.MGIE_CONFIG_DIR || envPaths('mgie-for-figma', { suffix: '' }).config;
}

/**
 * Returns the token to require from clients. Order: `options.token`, then env MGIE_TOKEN, then
 * `<configDir>/token` (configDir: option, env MGIE_CONFIG_DIR, or the platform config folder),
 * created with a fresh random token when missing or empty.
 */
export async function loadOrCreateTokenAsync(
  options: { configDir?: string; token?: string } = {},
): Promise<LoadedToken> {
  const given = options.token ?? (process.env.MGIE_TOKEN || undefined);
  if (given !== undefined) {
    const token = given.trim();
    // A short token is guessable by a page that can fire many requests at localhost.
    if (token.length < MIN_TOKEN_LENGTH) {
      throw new MgieError('MGIE_ERR_BAD_PARAMETER', `The given token (--token or MGIE_TOKEN) is too short: use at least ${MIN_TOKEN_LENGTH} characters`);
    }
    return { token, file: null, created: false };
  }

  const dir = options.configDir ?? defaultConfigDir();
  const file = path.join(dir, 'token');
  let warning: string | undefined;
  let existing: string | undefined;
  try {
    existing = (await readFile(file, 'utf8')).trim();
    // POSIX only: Windows has no mode bits to speak of.
    if (process.platform !== 'win32' && ((await stat(file)).mode & 0o077) !== 0) {
      await chmod(file, 0o600);
      warning = `The token file ${file} was readable by other users; its permissions are now 0600.`;
    }
  } catch (error: any) {
    if (error?.code !== 'ENOENT') throw error;
  }
  if (existing) return { token: existing, file, created: false, ...(warning ? { warning } : {}) };

  const token = randomBytes(24).toString('base64url');
  const createdDir = await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by umask; chmod makes it exact. Only for a folder we made ourselves.
  if (createdDir !== undefined) await chmod(dir, 0o700);
  // Temp file + rename: a reader never sees a half-written token.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, `${token}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(temp, 0o600); // again because of umask
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return { token, file, created: true, ...(warning ? { warning } : {}) };
}
