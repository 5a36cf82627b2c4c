// Who a request's token belongs to, for a running server: the single token is the built-in user, and
// each token in users.json its user. `mgie token add/revoke` run in another process, so the file is
// watched (fs.watch on its folder: the file itself is replaced by a rename, which a watch on the old
// inode would miss) and re-checked every few seconds in case a watch event is lost (network folders).
import { type FSWatcher, readFileSync, statSync, watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { tokensMatch } from './request-guards.ts';
import { BUILT_IN_USER, findUserByToken, parseUsers, type UserRecord } from './user-tokens.ts';

/** A request's user. `key` tells two tokens of one name apart (revoked, then added again). */
export interface Identity {
  readonly name: string;
  readonly key: string;
}

export const BUILT_IN_IDENTITY: Identity = Object.freeze({ name: BUILT_IN_USER, key: 'single-token' });

export interface UserDirectoryOptions {
  /** The single token (the local daemon's, or --token / MGIE_TOKEN). */
  token: string;
  /** users.json, or null for no per-user tokens. */
  usersFile: string | null;
  /** How often the file is checked besides the watch (default 2000 ms). */
  recheckMs?: number;
  /** False: rely on the periodic check alone (for tests of that fallback). Default true. */
  watch?: boolean;
  /** Called after a reload with the identities that no longer hold (revoked, or the name's token replaced). */
  onRevoked?: (identities: Identity[]) => void;
  /** A reload that failed (e.g. a hand-edited file with a typo): the previous users stay in force. */
  onReloadError?: (error: unknown) => void;
}

export class UserDirectory {
  private users: UserRecord[];
  private watcher: FSWatcher | null = null;
  private readonly timer: NodeJS.Timeout | null = null;
  /** What the file looked like at the last load (mtime, size, inode); a change means reload. */
  private seen = '';
  private reloading: Promise<void> | null = null;
  private reloadAgain = false;
  private closed = false;

  /** Reads the file now: a damaged users.json stops the server at start with a message naming it. */
  constructor(private readonly options: UserDirectoryOptions) {
    this.users = [];
    const file = options.usersFile;
    if (file === null) return;
    // Looked at before reading: a change made in between is then seen as a change, not missed.
    this.seen = fingerprintOf(() => statSync(file, { bigint: true }));
    try {
      this.users = parseUsers(readFileSync(file, 'utf8'), file);
    } catch (error: any) {
      if (error?.code !== 'ENOENT') throw error;
    }
    this.startWatch();
    this.timer = setInterval(() => {
      this.startWatch();
      void this.reloadIfChangedAsync();
    }, options.recheckMs ?? 2000);
    this.timer.unref();
  }

  /** The token's user, or undefined. Every token is compared in constant time, whichever matches. */
  resolve(token: string | undefined): Identity | undefined {
    if (!token) return undefined;
    const single = tokensMatch(token, this.options.token);
    const user = findUserByToken(this.users, token);
    if (single) return BUILT_IN_IDENTITY;
    return user ? { name: user.name, key: user.tokenSha256 } : undefined;
  }

  /** False once the identity's token was revoked. */
  isCurrent(identity: Identity): boolean {
    return identity === BUILT_IN_IDENTITY || this.users.some((user) => user.name === identity.name && user.tokenSha256 === identity.key);
  }

  /** Users with a token of their own (the built-in user not counted). */
  get userCount(): number {
    return this.users.length;
  }

  /** Reads the file again now, whatever its time stamp (for tests and after a watch event). */
  reloadAsync(): Promise<void> {
    if (this.reloading) {
      this.reloadAgain = true; // a change made during this read must not be missed
      return this.reloading;
    }
    this.reloading = (async () => {
      try {
        do {
          this.reloadAgain = false;
          await this.loadAsync();
        } while (this.reloadAgain && !this.closed);
      } finally {
        this.reloading = null;
      }
    })();
    return this.reloading;
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
    if (this.timer) clearInterval(this.timer);
  }

  private async loadAsync(): Promise<void> {
    const file = this.options.usersFile!;
    const print = await this.fingerprintAsync();
    let users: UserRecord[];
    try {
      users = print === 'missing' ? [] : parseUsers(await readFile(file, 'utf8'), file);
    } catch (error: any) {
      if (error?.code === 'ENOENT') users = [];
      else {
        this.seen = print; // report a bad file once, not every few seconds
        this.options.onReloadError?.(error);
        return;
      }
    }
    if (this.closed) return;
    this.seen = print;
    const previous = this.users;
    this.users = users;
    const revoked = previous
      .filter((old) => !users.some((user) => user.name === old.name && user.tokenSha256 === old.tokenSha256))
      .map((old) => ({ name: old.name, key: old.tokenSha256 }));
    if (revoked.length > 0) this.options.onRevoked?.(revoked);
  }

  private async reloadIfChangedAsync(): Promise<void> {
    if (this.closed) return;
    if ((await this.fingerprintAsync()) !== this.seen) await this.reloadAsync();
  }

  private async fingerprintAsync(): Promise<string> {
    const s = await stat(this.options.usersFile!, { bigint: true }).catch(() => null);
    return fingerprintOf(() => s);
  }

  /** Watches the file's folder; retried on each re-check while the folder does not exist yet. */
  private startWatch(): void {
    if (this.watcher || this.closed || this.options.watch === false) return;
    const file = this.options.usersFile!;
    try {
      this.watcher = watch(path.dirname(file), { persistent: false }, (_event, name) => {
        if (name === null || name === path.basename(file)) void this.reloadAsync();
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = null; // the next re-check watches again
      });
    } catch {
      this.watcher = null;
    }
  }
}

/** The file's inode, size and modification time, or 'missing'. */
function fingerprintOf(statOf: () => { ino: bigint; size: bigint; mtimeNs: bigint } | null): string {
  try {
    const s = statOf();
    return s ? `${s.ino}:${s.size}:${s.mtimeNs}` : 'missing';
  } catch {
    return 'missing';
  }
}
