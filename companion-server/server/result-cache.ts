// Finished edits keyed by everything that determines the pixels, so re-running the same edit (undo/redo,
// a second designer on the team box) answers from disk instead of the GPU. The cache is an optimisation:
// any failure (full or read-only disk, corrupt files) reads as a miss or a skipped write, never an error.
// It holds designers' images and instructions, so only the user may read it: folders 0700, files 0600.
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import envPaths from 'env-paths';

export interface CacheKeyParts {
  image: Uint8Array;
  instruction: string;
  parameters: object;
  seed: number;
  model: string;
  /** What a submit asked beyond a plain edit (submit-extras.ts); absent for a plain edit, whose key stays as it was. */
  extras?: object;
  /** The mask's bytes, hashed after the image's. */
  mask?: Uint8Array;
}

export interface CachedResult {
  png: Buffer;
  meta: Record<string, unknown>;
}

const KEY = /^[0-9a-f]{64}$/;
const DEFAULT_MAX_BYTES = 1024 ** 3;
/** A half entry or temp file younger than this may belong to a write in progress. */
const IN_PROGRESS_GRACE_MS = 60_000;
/** POSIX only: Windows has no mode bits to speak of (the folder sits in the user's own profile there). */
const POSIX = process.platform !== 'win32';

export function defaultResultCacheDir(): string {
  return path.join(envPaths('mgie-for-figma', { suffix: '' }).cache, 'results');
}

/** JSON with object keys sorted at every depth, so {a,b} and {b,a} hash alike. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

export class ResultCache {
  readonly dir: string;
  readonly maxBytes: number;

  constructor(options: { dir?: string; maxBytes?: number } = {}) {
    this.dir = options.dir ?? defaultResultCacheDir();
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  }

  /**
   * At start: creates the folder (0700), or makes an existing one that other users can read 0700 and its
   * files 0600 (an older version left them 755/644). Returns a warning when it tightened something.
   * Never throws: a cache that cannot be prepared just misses.
   */
  async prepareAsync(): Promise<string | undefined> {
    try {
      const info = await stat(this.dir).catch(() => undefined);
      if (info === undefined) {
        await makePrivateDirAsync(this.dir);
        return undefined;
      }
      if (!POSIX || !info.isDirectory() || (info.mode & 0o077) === 0) return undefined;
      await chmod(this.dir, 0o700);
      for (const name of await readdir(this.dir)) {
        const file = path.join(this.dir, name);
        const fileInfo = await stat(file).catch(() => undefined);
        if (fileInfo?.isFile() && (fileInfo.mode & 0o077) !== 0) await chmod(file, 0o600).catch(() => {});
      }
      return `The result cache ${this.dir} was readable by other users; it is now 0700 and its files 0600.`;
    } catch {
      return undefined;
    }
  }

  /** sha256 hex of the edit's inputs. The text part is JSON (unambiguous), then the image bytes. */
  static keyOf(parts: CacheKeyParts): string {
    const header = stableStringify({
      // 2: the image preprocessing changed (Pillow's resampling for CLIP, the padded edit canvas), so
      // results cached before would no longer be what these inputs give.
      // 3: a seed draws torch's noise (TorchGenerator), not xoshiro's: the same seed, another picture.
      v: 3,
      instruction: parts.instruction,
      parameters: parts.parameters,
      seed: parts.seed,
      model: parts.model,
      // the image's length too, so that where the image ends and the mask begins is unambiguous
      ...(parts.extras === undefined && parts.mask === undefined ? {} : { extras: parts.extras ?? null, imageBytes: parts.image.length }),
    });
    const hash = createHash('sha256').update(header).update('\0').update(parts.image);
    if (parts.mask !== undefined) hash.update(parts.mask);
    return hash.digest('hex');
  }

  async getAsync(key: string): Promise<CachedResult | undefined> {
    if (!KEY.test(key)) return undefined; // also keeps keys from naming paths outside the folder
    const { png: pngFile, json: jsonFile } = this.files(key);
    let png: Buffer;
    let record: { bytes?: unknown; meta?: unknown };
    try {
      [png, record] = await Promise.all([readFile(pngFile), readFile(jsonFile, 'utf8').then(JSON.parse)]);
    } catch (error: any) {
      // Both halves absent: a plain miss. Otherwise a half is missing or corrupt: drop the entry.
      if (error?.code !== 'ENOENT') await this.removeAsync(key);
      else if (await exists(pngFile) || await exists(jsonFile)) await this.removeAsync(key);
      return undefined;
    }
    // The JSON half records the PNG's length, so a truncated PNG is caught too.
    if (record?.bytes !== png.length || typeof record.meta !== 'object' || record.meta === null) {
      await this.removeAsync(key);
      return undefined;
    }
    // Touch both halves: eviction goes by mtime, so this makes the entry most recently used.
    const now = new Date();
    await Promise.all([utimes(pngFile, now, now), utimes(jsonFile, now, now)]).catch(() => {});
    return { png, meta: record.meta as Record<string, unknown> };
  }

  /** Stores an entry and evicts least recently used ones. Returns false when nothing was stored. */
  async setAsync(key: string, png: Uint8Array, meta: Record<string, unknown>): Promise<boolean> {
    if (!KEY.test(key)) return false;
    const json = JSON.stringify({ bytes: png.length, meta });
    if (png.length + Buffer.byteLength(json) > this.maxBytes) return false;
    const { png: pngFile, json: jsonFile } = this.files(key);
    try {
      await makePrivateDirAsync(this.dir);
      // PNG first, JSON last: the JSON half is the commit marker, and each rename is atomic.
      await writeAtomicAsync(pngFile, png);
      await writeAtomicAsync(jsonFile, json);
    } catch {
      await this.removeAsync(key);
      return false;
    }
    await this.evictAsync(key).catch(() => {});
    return true;
  }

  private files(key: string): { png: string; json: string } {
    return { png: path.join(this.dir, `${key}.png`), json: path.join(this.dir, `${key}.json`) };
  }

  private async removeAsync(key: string): Promise<void> {
    const { png, json } = this.files(key);
    await Promise.all([rm(png, { force: true }), rm(json, { force: true })]).catch(() => {});
  }

  /** Deletes least recently used entries (by mtime) until the folder holds at most maxBytes. */
  private async evictAsync(keep: string): Promise<void> {
    const entries = new Map<string, { bytes: number; mtimeMs: number; halves: number }>();
    let total = 0;
    const now = Date.now();
    for (const name of await readdir(this.dir)) {
      const file = path.join(this.dir, name);
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) continue;
      const match = name.match(/^([0-9a-f]{64})\.(png|json)$/);
      if (!match) {
        // Leftover temp files from a crashed write count against the budget until swept.
        if (name.endsWith('.tmp') && now - info.mtimeMs > IN_PROGRESS_GRACE_MS) await rm(file, { force: true });
        else total += info.size;
        continue;
      }
      const entry = entries.get(match[1]) ?? { bytes: 0, mtimeMs: 0, halves: 0 };
      entry.bytes += info.size;
      entry.mtimeMs = Math.max(entry.mtimeMs, info.mtimeMs);
      entry.halves += 1;
      entries.set(match[1], entry);
      total += info.size;
    }
    const oldestFirst = [...entries].filter(([key]) => key !== keep).sort(([, a], [, b]) => a.mtimeMs - b.mtimeMs);
    for (const [key, entry] of oldestFirst) {
      // A stale half entry is garbage whatever the budget.
      const orphan = entry.halves < 2 && now - entry.mtimeMs > IN_PROGRESS_GRACE_MS;
      if (total <= this.maxBytes && !orphan) continue;
      await this.removeAsync(key);
      total -= entry.bytes;
    }
  }
}

async function writeAtomicAsync(file: string, data: Uint8Array | string): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    // 0600 from the start (umask can only take bits away); the rename keeps the mode.
    await writeFile(temp, data, { mode: 0o600 });
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => {});
    throw error;
  }
}

/** mkdir -p with 0700 on every folder it creates (exactly: mkdir's mode is filtered by umask); existing ones are left alone. */
async function makePrivateDirAsync(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (first === undefined || !POSIX) return;
  for (let folder = path.resolve(dir); ; folder = path.dirname(folder)) {
    await chmod(folder, 0o700);
    if (folder === path.resolve(first) || folder === path.dirname(folder)) break;
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}
