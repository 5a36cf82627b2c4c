// `mgie token add/list/revoke` as an admin runs them: real processes, a real config folder.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { hashToken } from '../../companion-server/server/user-tokens.ts';
import { cleanEnv, runMgieAsync } from '../helpers/run-mgie.ts';

const posix = process.platform !== 'win32';

async function configDirAsync(t: TestContext): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'mgie-token-cli-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return path.join(root, 'config');
}

const lastLine = (stdout: string) => stdout.trimEnd().split('\n').at(-1)!;

test('mgie token add prints the token alone on the last line and stores only its hash, 0600 in a 0700 folder', async (t) => {
  const dir = await configDirAsync(t);
  const added = await runMgieAsync(['token', 'add', 'anna', '--config-dir', dir]);
  assert.equal(added.code, 0, added.stderr);
  const token = lastLine(added.stdout);
  assert.match(token, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  assert.ok(added.stdout.trimEnd().split('\n').length >= 2, 'a line for humans before the token');
  assert.match(added.stdout, /Added user anna/);
  const file = path.join(dir, 'users.json');
  const text = await readFile(file, 'utf8');
  assert.ok(!text.includes(token), 'the token itself is not stored');
  const users = JSON.parse(text).users;
  assert.equal(users.length, 1);
  assert.equal(users[0].name, 'anna');
  assert.equal(users[0].tokenSha256, hashToken(token));
  assert.ok(!Number.isNaN(Date.parse(users[0].created)));
  if (posix) {
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
  }
  // a second user gets a different token
  const second = await runMgieAsync(['token', 'add', 'bert', '--config-dir', dir]);
  assert.notEqual(lastLine(second.stdout), token);
});

test('a duplicate name (in any letter case), a bad name and the reserved name "default" are refused clearly', async (t) => {
  const dir = await configDirAsync(t);
  assert.equal((await runMgieAsync(['token', 'add', 'anna', '--config-dir', dir])).code, 0);
  const duplicate = await runMgieAsync(['token', 'add', 'Anna', '--config-dir', dir]);
  assert.equal(duplicate.code, 1);
  assert.match(duplicate.stderr, /A user named "anna" already exists.*mgie token revoke anna/);
  assert.equal(duplicate.stdout, '', 'no token printed');
  const bad = await runMgieAsync(['token', 'add', 'anna smith', '--config-dir', dir]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /"anna smith" is not a valid user name: use 1 to 32 letters, digits/);
  const reserved = await runMgieAsync(['token', 'add', 'default', '--config-dir', dir]);
  assert.equal(reserved.code, 1);
  assert.match(reserved.stderr, /"default" is reserved/);
  const missing = await runMgieAsync(['token', 'add', '--config-dir', dir]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /needs the user's name first/);
  const unknownAction = await runMgieAsync(['token', 'rotate', 'anna']);
  assert.equal(unknownAction.code, 2);
  assert.match(unknownAction.stderr, /unknown token action "rotate": add, list or revoke/);
  assert.equal(JSON.parse(await readFile(path.join(dir, 'users.json'), 'utf8')).users.length, 1);
});

test('mgie token list shows names and creation times, never tokens; --json; MGIE_CONFIG_DIR is the folder when no flag', async (t) => {
  const dir = await configDirAsync(t);
  const env = cleanEnv({ MGIE_CONFIG_DIR: dir });
  const empty = await runMgieAsync(['token', 'list'], { env });
  assert.equal(empty.code, 0);
  assert.match(empty.stdout, /No users with a token of their own.*mgie token add NAME/);
  const tokens = [];
  for (const name of ['anna', 'bert']) tokens.push(lastLine((await runMgieAsync(['token', 'add', name], { env })).stdout));
  const listed = await runMgieAsync(['token', 'list'], { env });
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^NAME\s+CREATED\nanna\s+\d{4}-\d\d-\d\dT.*\nbert\s+\d{4}-/);
  for (const token of tokens) assert.ok(!listed.stdout.includes(token));
  const json = await runMgieAsync(['token', 'list', '--json'], { env });
  const parsed = JSON.parse(json.stdout);
  assert.equal(parsed.file, path.join(dir, 'users.json'));
  assert.deepEqual(parsed.users.map((u: { name: string }) => u.name), ['anna', 'bert']);
  assert.deepEqual(Object.keys(parsed.users[0]).sort(), ['created', 'name']);
});

test('mgie token revoke removes the user; an unknown name is a clear error with exit code 1', async (t) => {
  const dir = await configDirAsync(t);
  for (const name of ['anna', 'bert']) await runMgieAsync(['token', 'add', name, '--config-dir', dir]);
  const unknown = await runMgieAsync(['token', 'revoke', 'carl', '--config-dir', dir]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /No user named "carl" .*\(users: anna, bert\)\. See them with mgie token list/);
  const revoked = await runMgieAsync(['token', 'revoke', 'anna', '--config-dir', dir]);
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, /Revoked anna's token/);
  assert.deepEqual(JSON.parse(await readFile(path.join(dir, 'users.json'), 'utf8')).users.map((u: { name: string }) => u.name), ['bert']);
  assert.equal((await runMgieAsync(['token', 'revoke', 'anna', '--config-dir', dir])).code, 1);
  // the name is free again, with a new token
  assert.equal((await runMgieAsync(['token', 'add', 'anna', '--config-dir', dir])).code, 0);
});

test('six mgie token add at once: none is lost (the file is changed under a lock)', async (t) => {
  const dir = await configDirAsync(t);
  const names = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6'];
  const runs = await Promise.all(names.map((name) => runMgieAsync(['token', 'add', name, '--config-dir', dir])));
  for (const run of runs) assert.equal(run.code, 0, run.stderr);
  const users = JSON.parse(await readFile(path.join(dir, 'users.json'), 'utf8')).users;
  assert.deepEqual(users.map((u: { name: string }) => u.name).sort(), names);
  runs.forEach((run, i) => assert.equal(users.find((u: { name: string }) => u.name === names[i]).tokenSha256, hashToken(lastLine(run.stdout))));
});

test('mgie token --help and mgie --help describe the token command', async () => {
  const help = await runMgieAsync(['token', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /mgie token add NAME/);
  assert.match(help.stdout, /mgie token revoke NAME/);
  assert.match((await runMgieAsync(['--help'])).stdout, /mgie token list \[--json\]/);
});
