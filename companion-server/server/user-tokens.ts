// Per-user tokens for a team box: `<configDir>/users.json` holds, per designer, a name, when the token
// was made and the SHA-256 of the token, never the token itself (it is printed once, by `mgie token add`).
// A token is 32 random bytes, so a plain SHA-256 is enough: there is nothing to brute-force, unlike a
// password, and the server can check one per request without a slow KDF.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MgieError } from '../engine/errors.ts';

/**
 * Who the single token (the local daemon's `<configDir>/token`, or --token / MGIE_TOKEN) identifies.
 * Reserved: `mgie token add default` is refused.
 */
export const BUILT_IN_USER = 'default';

export const USERS_FILE_NAME = 'users.json';

/** Letters, digits, `.`, `_` and `-`, 1 to 32 characters, starting with a letter or digit. Unique regardless of letter case. */
export const USER_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/;

const TOKEN_BYTES = 32;
const FILE_VERSION = 1;

export interface UserRecord {
  name: string;
  /** Hex SHA-256 of the token. */
  tokenSha256: string;
  /** ISO 8601. */
  created: string;
}

export function usersFilePath(configDir: string): string {
  return path.join(configDir, USERS_FILE_NAME);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Throws a MgieError that says what a name may contain. */
export function checkUserName(name: string): void {
  if (!USER_NAME_PATTERN.test(name)) {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', `"${name}" is not a valid user name: use 1 to 32 letters, digits, ".", "_" or "-", starting with a letter or digit (e.g. anna or j.doe).`);
  }
  if (name.toLowerCase() === BUILT_IN_USER) {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', `"${BUILT_IN_USER}" is reserved: it names whoever uses the server's single token. Pick another name.`);
  }
}

/**
 * The record whose hash matches the token, or undefined. Every record is compared, in constant time, so
 * the answer's timing does not tell which (or whether any) record came close.
 */
export function findUserByToken(users: readonly UserRecord[], token: string): UserRecord | undefined {
  const given = createHash('sha256').update(token, 'utf8').digest();
  let hashes = decodedHashes.get(users);
  if (!hashes) decodedHashes.set(users, (hashes = users.map((user) => Buffer.from(user.tokenSha256, 'hex'))));
  let found: UserRecord | undefined;
  hashes.forEach((stored, i) => {
    if (timingSafeEqual(stored, given) && found === undefined) found = users[i];
  });
  return found;
}

/** The stored hashes as bytes, decoded once per list read (a list is replaced, never changed, on reload). */
const decodedHashes = new WeakMap<readonly UserRecord[], Buffer[]>();

/** The users in the file; [] when there is no file. A damaged file is an error that names it. */
export async function readUsersAsync(file: string): Promise<UserRecord[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error: any) {
    if (error?.code === 'ENOENT') return [];
    throw error;
  }
  return parseUsers(text, file);
}

export function parseUsers(text: string, file: string): UserRecord[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', `${file} is not valid JSON (${(error as Error).message}). Restore it from a backup, or delete it and add the users again with mgie token add.`);
  }
  const users = (data as { users?: unknown })?.users;
  if (!Array.isArray(users) || users.some((user) => !isUserRecord(user))) {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', `${file} does not hold a list of users ({"users":[{"name","tokenSha256","created"}]}). Restore it from a backup, or delete it and add the users again with mgie token add.`);
  }
  return users as UserRecord[];
}

function isUserRecord(value: unknown): value is UserRecord {
  const user = value as UserRecord;
  return typeof user?.name === 'string' && USER_NAME_PATTERN.test(user.name) && typeof user.tokenSha256 === 'string' && /^[0-9a-f]{64}$/.test(user.tokenSha256) && typeof user.created === 'string';
}

/** Adds a user with a fresh token; returns the token, which is stored nowhere. */
export async function addUserAsync(configDir: string, name: string, now = new Date()): Promise<{ user: UserRecord; token: string; file: string }> {
  checkUserName(name);
  const file = usersFilePath(configDir);
  return withUsersLockAsync(configDir, async () => {
    const users = await readUsersAsync(file);
    const taken = users.find((user) => user.name.toLowerCase() === name.toLowerCase());
    if (taken) {
      throw new MgieError('MGIE_ERR_BAD_PARAMETER', `A user named "${taken.name}" already exists (since ${taken.created}). To give them a new token: mgie token revoke ${taken.name}, then mgie token add ${taken.name}.`);
    }
    return { ...(await appendUserAsync(configDir, users, name, now)), file };
  });
}

/**
 * Adds a user for a designer who paired from the plugin: the name comes from what they call
 * themselves, made unique (anna, anna-2, ...), so pairing never fails on a name already taken.
 */
export async function addPairedUserAsync(configDir: string, displayName: string, now = new Date()): Promise<{ user: UserRecord; token: string; file: string }> {
  const file = usersFilePath(configDir);
  return withUsersLockAsync(configDir, async () => {
    const users = await readUsersAsync(file);
    const name = userNameFromDisplayName(displayName, users.map((user) => user.name));
    return { ...(await appendUserAsync(configDir, users, name, now)), file };
  });
}

async function appendUserAsync(configDir: string, users: UserRecord[], name: string, now: Date): Promise<{ user: UserRecord; token: string }> {
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  const user: UserRecord = { name, tokenSha256: hashToken(token), created: now.toISOString() };
  await writeUsersAsync(configDir, [...users, user]);
  return { user, token };
}

/**
 * A valid user name from a designer's own name ("Anna Müller" -> "anna-muller"): accents dropped,
 * anything but letters, digits, "." and "_" becomes "-", at most 32 characters; "designer" when nothing
 * is left. Unique regardless of case among `taken` (and never "default"): "anna", then "anna-2", ...
 */
export function userNameFromDisplayName(displayName: string, taken: readonly string[]): string {
  const base =
    displayName
      .normalize('NFKD')
      .replace(/\p{M}+/gu, '')
      .toLowerCase()
      .replace(/[^a-z0-9._]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 32)
      .replace(/[-.]+$/, '') || 'designer';
  const used = new Set([BUILT_IN_USER, ...taken.map((name) => name.toLowerCase())]);
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) {
    const suffix = `-${n}`;
    const candidate = `${base.slice(0, 32 - suffix.length).replace(/[-.]+$/, '')}${suffix}`;
    if (!used.has(candidate)) return candidate;
  }
}

/** Removes a user; a server watching the file closes their connections. */
export async function revokeUserAsync(configDir: string, name: string): Promise<UserRecord> {
  const file = usersFilePath(configDir);
  return withUsersLockAsync(configDir, async () => {
    const users = await readUsersAsync(file);
    const user = users.find((candidate) => candidate.name.toLowerCase() === name.toLowerCase());
    if (!user) {
      const known = users.map((u) => u.name).join(', ');
      throw new MgieError('MGIE_ERR_NOT_FOUND', `No user named "${name}" in ${file}${known ? ` (users: ${known})` : ' (it has no users)'}. See them with mgie token list.`);
    }
    await writeUsersAsync(configDir, users.filter((candidate) => candidate !== user));
    return user;
  });
}

/** Temp file + rename, 0600 in a folder made 0700: a reader (the server) never sees a half-written file. */
async function writeUsersAsync(configDir: string, users: UserRecord[]): Promise<void> {
  const file = usersFilePath(configDir);
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify({ version: FILE_VERSION, users }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(temp, 0o600); // writeFile's mode is filtered by umask
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

const LOCK_WAIT_MS = 5_000;
/** A lock older than this was left by a process that died mid-change: a change takes milliseconds. */
const LOCK_STALE_MS = 30_000;

/**
 * Runs a read-modify-write of users.json under `users.json.lock` (created exclusively), so two
 * `mgie token add` at once do not lose one of the users.
 */
async function withUsersLockAsync<T>(configDir: string, change: () => Promise<T>): Promise<T> {
  const createdDir = await mkdir(configDir, { recursive: true, mode: 0o700 });
  if (createdDir !== undefined) await chmod(configDir, 0o700); // exact, whatever the umask; only a folder we made
  const lock = `${usersFilePath(configDir)}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      break;
    } catch (error: any) {
      if (error?.code !== 'EEXIST') throw error;
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > LOCK_STALE_MS) await rm(lock, { force: true });
      else if (Date.now() > deadline) throw new MgieError('MGIE_ERR_BUSY', `${lock} exists: another mgie token command is changing the users. Try again; if none is running, delete that file.`);
      else await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  try {
    return await change();
  } finally {
    await rm(lock, { force: true });
  }
}
