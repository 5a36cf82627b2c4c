import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadOrCreateTokenAsync } from '../../companion-server/server/token-store.ts';

const posix = process.platform !== 'win32';

async function withConfigDirAsync(run: (dir: string) => Promise<void>): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), 'mgie-token-'));
  const saved = { dir: process.env.MGIE_CONFIG_DIR, token: process.env.MGIE_TOKEN };
  process.env.MGIE_CONFIG_DIR = path.join(root, 'config');
  delete process.env.MGIE_TOKEN;
  try {
    await run(process.env.MGIE_CONFIG_DIR);
  } finally {
    for (const [name, value] of [['MGIE_CONFIG_DIR', saved.dir], ['MGIE_TOKEN', saved.token]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await rm(root, { recursive: true, force: true });
  }
}

test('creates a token file 0600 in a 0700 folder from MGIE_CONFIG_DIR, then reuses it', () =>
  withConfigDirAsync(async (dir) => {
    const first = await loadOrCreateTokenAsync();
    assert.equal(first.created, true);
    assert.equal(first.file, path.join(dir, 'token'));
    assert.match(first.token, /^[A-Za-z0-9_-]{32}$/);
    assert.equal((await readFile(first.file!, 'utf8')).trim(), first.token);
    if (posix) {
      assert.equal((await stat(first.file!)).mode & 0o777, 0o600);
      assert.equal((await stat(dir)).mode & 0o777, 0o700);
    }
    const second = await loadOrCreateTokenAsync();
    assert.deepEqual(second, { token: first.token, file: first.file, created: false });
  }));

test('tightens a group/world-readable token file to 0600 and says so', { skip: !posix }, () =>
  withConfigDirAsync(async (dir) => {
    const { file, token } = await loadOrCreateTokenAsync();
    await chmod(file!, 0o644);
    const again = await loadOrCreateTokenAsync({ configDir: dir });
    assert.equal(again.token, token);
    assert.match(again.warning ?? '', /0600/);
    assert.equal((await stat(file!)).mode & 0o777, 0o600);
  }));

test('uses a given token without touching disk, and rejects a short one', () =>
  withConfigDirAsync(async (dir) => {
    const given = 'a-long-enough-secret-token';
    assert.deepEqual(await loadOrCreateTokenAsync({ token: given }), { token: given, file: null, created: false });
    await assert.rejects(loadOrCreateTokenAsync({ token: 'short' }), /at least 16 characters/);
    await assert.rejects(stat(dir), { code: 'ENOENT' });
    process.env.MGIE_TOKEN = given;
    assert.equal((await loadOrCreateTokenAsync()).token, given);
  }));

test('an empty token file gets a new token; the read value is trimmed', () =>
  withConfigDirAsync(async (dir) => {
    const { file } = await loadOrCreateTokenAsync();
    await writeFile(file!, '  \n');
    const regenerated = await loadOrCreateTokenAsync({ configDir: dir });
    assert.equal(regenerated.created, true);
    assert.ok(regenerated.token.length >= 16);
    await writeFile(file!, '  my-own-token-0123456789\n');
    assert.equal((await loadOrCreateTokenAsync()).token, 'my-own-token-0123456789');
  }));
