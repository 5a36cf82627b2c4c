// Uploads of jobs that wait in line, kept in files instead of the heap: a hundred waiting 32 MB uploads
// would otherwise be 3 GB of server memory. The files live in a private folder (0700, files 0600: they
// are designers' images) that is unique to this server process, removed at shutdown, and swept at the
// next start if the process died without removing it. The folder's bytes are capped, so the disk is
// bounded too; past the cap a submission is refused with MGIE_ERR_BUSY.
import { randomBytes } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MgieError } from '../engine/errors.ts';

export interface UploadSpoolOptions {
  /** The folder the spool folder is made in; null: the OS temp folder (TMPDIR). */
  dir: string | null;
  /** Bytes all spooled uploads may hold together. */
  maxBytes: number;
  /**
   * Uploads up to this size wait in memory: a file costs more (create, write, read, unlink) than such an
   * upload's bytes are worth, and maxQueuedTotal of them are a small, fixed amount (README, "Memory").
   */
  inMemoryMaxBytes: number;
}

/** An upload held for its job: in memory or in a spool file. */
export interface HeldUpload {
  readonly bytes: number;
  /** Where it waits: 'memory' or the spool file's path. */
  readonly location: string;
  readAsync(): Promise<Uint8Array>;
  /** Forgets the upload (deletes its file); safe to call more than once. */
  releaseAsync(): Promise<void>;
}

/** Spool folders are named `mgie-uploads-<pid>-<random>`, so a later start can tell whose they are. */
const FOLDER_PREFIX = 'mgie-uploads-';
const FOLDER_NAME = /^mgie-uploads-(\d+)-[A-Za-z0-9]+$/;

export class UploadSpool {
  private folder: Promise<string> | null = null;
  private reservedBytes = 0;
  private files = 0;
  private closed = false;

  constructor(private readonly options: UploadSpoolOptions) {}

  get parentDir(): string {
    return this.options.dir ?? os.tmpdir();
  }

  /** Bytes on disk (or being written) now. */
  get spooledBytes(): number {
    return this.reservedBytes;
  }

  get spooledFiles(): number {
    return this.files;
  }

  /** This process's spool folder, once made (null before the first spooled upload). */
  async folderAsync(): Promise<string | null> {
    return this.folder ? this.folder.catch(() => null) : null;
  }

  /**
   * Removes spool folders left by server processes that are gone (killed, crashed). Run at start; it
   * never touches a folder of a live process or of another user. Returns the folders removed.
   */
  async sweepStaleAsync(): Promise<string[]> {
    const removed: string[] = [];
    const names = await readdir(this.parentDir).catch(() => [] as string[]);
    for (const name of names) {
      const match = FOLDER_NAME.exec(name);
      if (!match || Number(match[1]) === process.pid || isProcessAlive(Number(match[1]))) continue;
      const folder = path.join(this.parentDir, name);
      const info = await lstat(folder).catch(() => undefined);
      if (!info?.isDirectory() || (process.getuid && info.uid !== process.getuid())) continue;
      await rm(folder, { recursive: true, force: true }).then(() => removed.push(folder), () => undefined);
    }
    return removed;
  }

  /**
   * Holds the upload of a job that starts at once: its bytes are in memory for the run anyway. The
   * caller must not change `image` afterwards (it is not copied).
   */
  holdInMemory(image: Uint8Array): HeldUpload {
    return { bytes: image.length, location: 'memory', readAsync: async () => image, releaseAsync: async () => undefined };
  }

  /**
   * Holds a waiting job's upload: in memory when small (inMemoryMaxBytes), else in a new spool file.
   * Throws MGIE_ERR_BUSY past the cap.
   */
  async holdAsync(image: Uint8Array): Promise<HeldUpload> {
    // Not copied: the view keeps its WebSocket message alive, at most one 64 KiB socket read more than itself.
    if (image.length <= this.options.inMemoryMaxBytes) return this.holdInMemory(image);
    if (this.closed) throw new MgieError('MGIE_ERR_SHUTTING_DOWN', 'The companion server is shutting down; try again when it is back.');
    if (this.reservedBytes + image.length > this.options.maxBytes) {
      const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MB`;
      throw new MgieError(
        'MGIE_ERR_BUSY',
        `The server's waiting uploads already take ${mb(this.reservedBytes)} of the ${mb(this.options.maxBytes)} it keeps for them on disk (--max-spool-mb); ` +
          `this ${mb(image.length)} image does not fit. Try again in a few minutes, or export the image at a smaller scale.`,
      );
    }
    // Reserved before the first await, so uploads written at the same time cannot overshoot the cap together.
    this.reservedBytes += image.length;
    this.files += 1;
    let file: string | undefined;
    try {
      const folder = await this.ensureFolderAsync();
      file = path.join(folder, `${randomBytes(12).toString('hex')}.upload`);
      // 0600 from the start; 'wx' never follows or reuses an existing path.
      await writeFile(file, image, { mode: 0o600, flag: 'wx' });
    } catch (cause) {
      if (file) await rm(file, { force: true }).catch(() => undefined);
      this.reservedBytes -= image.length;
      this.files -= 1;
      throw new MgieError('MGIE_ERR_BUSY', `The server could not store the upload while it waits (${(cause as Error).message}). Try again in a few minutes.`, { cause });
    }
    return this.spooled(file, image.length);
  }

  /** Removes the spool folder and everything in it (waiting jobs are cancelled by then). */
  async closeAsync(): Promise<void> {
    this.closed = true;
    const folder = await this.folderAsync();
    if (folder) await rm(folder, { recursive: true, force: true }).catch(() => undefined);
  }

  private ensureFolderAsync(): Promise<string> {
    // mkdtemp makes the folder 0700 with a name no other process has.
    this.folder ??= mkdtemp(path.join(this.parentDir, `${FOLDER_PREFIX}${process.pid}-`));
    // A failed attempt (folder not writable) is tried again by the next upload.
    return this.folder.catch((error) => {
      this.folder = null;
      throw error;
    });
  }

  private spooled(file: string, bytes: number): HeldUpload {
    let released: Promise<void> | null = null;
    return {
      bytes,
      location: file,
      readAsync: async () => {
        if (released) throw new MgieError('MGIE_ERR_RUNTIME', 'The upload was released before its job read it.');
        return readFile(file);
      },
      releaseAsync: () =>
        (released ??= rm(file, { force: true })
          .catch(() => undefined)
          .finally(() => {
            // Counted free once the file is gone, so the cap holds for the disk.
            this.reservedBytes -= bytes;
            this.files -= 1;
          })),
    };
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
