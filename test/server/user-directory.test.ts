// The running server's view of users.json: tokens to users, reloads on change, what counts as revoked,
// a damaged file, and the bound on per-user metric labels.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { createServerMetrics, MAX_USER_LABELS } from '../../companion-server/server/server-metrics.ts';
import { BUILT_IN_IDENTITY, type Identity, UserDirectory } from '../../companion-server/server/user-directory.ts';
import { addUserAsync, findUserByToken, revokeUserAsync, usersFilePath } from '../../companion-server/server/user-tokens.ts';

const SINGLE = 'the-single-token-0123456789';

async function configDirAsync(t: TestContext): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'mgie-users-dir-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  return path.join(root, 'config');
}

function openDirectory(t: TestContext, configDir: string, events: { revoked: Identity[][]; errors: unknown[] }): UserDirectory {
  const users = new UserDirectory({
    token: SINGLE,
    usersFile: usersFilePath(configDir),
    onRevoked: (revoked) => events.revoked.push(revoked),
    onReloadError: (error) => events.errors.push(error),
  });
  t.after(() => users.close());
  return users;
}

async function eventuallyAsync(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('tokens resolve to their user, the single token to "default", anything else to nobody', async (t) => {
  const dir = await configDirAsync(t);
  const { token: anna } = await addUserAsync(dir, 'anna');
  const users = openDirectory(t, dir, { revoked: [], errors: [] });
  assert.equal(users.resolve(SINGLE), BUILT_IN_IDENTITY);
  assert.equal(BUILT_IN_IDENTITY.name, 'default');
  assert.equal(users.resolve(anna)?.name, 'anna');
  for (const wrong of [undefined, '', `${anna}x`, anna.slice(1), SINGLE.toUpperCase()]) assert.equal(users.resolve(wrong), undefined, String(wrong));
  assert.equal(users.userCount, 1);
  // no users file at all: just the single token
  const none = new UserDirectory({ token: SINGLE, usersFile: null });
  assert.equal(none.resolve(SINGLE), BUILT_IN_IDENTITY);
  assert.equal(none.resolve(anna), undefined);
  assert.equal(findUserByToken([], anna), undefined);
});

test('a change by another process is picked up; revoking, or replacing a name\'s token, reports the old identity', async (t) => {
  const dir = await configDirAsync(t);
  const { token: anna } = await addUserAsync(dir, 'anna');
  const events = { revoked: [] as Identity[][], errors: [] as unknown[] };
  const users = openDirectory(t, dir, events);
  const annaIdentity = users.resolve(anna)!;
  const { token: bert } = await addUserAsync(dir, 'bert');
  await eventuallyAsync(() => users.resolve(bert) !== undefined, 'bert is known');
  assert.equal(events.revoked.length, 0, 'adding revokes nobody');

  await revokeUserAsync(dir, 'anna');
  const { token: annaAgain } = await addUserAsync(dir, 'anna');
  await eventuallyAsync(() => users.resolve(annaAgain) !== undefined, 'anna\'s new token is known');
  assert.equal(users.resolve(anna), undefined);
  assert.equal(users.isCurrent(annaIdentity), false, 'the old token no longer holds, though the name is back');
  assert.equal(users.isCurrent(users.resolve(annaAgain)!), true);
  assert.deepEqual(events.revoked.flat(), [annaIdentity]);
  assert.equal(users.isCurrent(BUILT_IN_IDENTITY), true);
});

test('without a watch event (a network folder may send none) the periodic check still picks up a change', async (t) => {
  const dir = await configDirAsync(t);
  await addUserAsync(dir, 'anna');
  const users = new UserDirectory({ token: SINGLE, usersFile: usersFilePath(dir), watch: false, recheckMs: 100 });
  t.after(() => users.close());
  const { token: bert } = await addUserAsync(dir, 'bert');
  await eventuallyAsync(() => users.resolve(bert)?.name === 'bert', 'bert is known');
  assert.equal(users.userCount, 2);
});

test('a damaged users.json stops a server at start, and while running leaves the previous users in force until fixed', async (t) => {
  const dir = await configDirAsync(t);
  const { token: anna } = await addUserAsync(dir, 'anna');
  const file = usersFilePath(dir);
  const events = { revoked: [] as Identity[][], errors: [] as unknown[] };
  const users = openDirectory(t, dir, events);
  await writeFile(file, '{"users": [ {"name": "anna", ');
  await eventuallyAsync(() => events.errors.length > 0, 'the bad reload is reported');
  assert.match((events.errors[0] as Error).message, /users\.json is not valid JSON.*mgie token add/);
  assert.equal(users.resolve(anna)?.name, 'anna', 'a typo does not lock everyone out');
  assert.equal(events.revoked.length, 0);
  assert.throws(() => new UserDirectory({ token: SINGLE, usersFile: file }), /users\.json is not valid JSON/);
  await writeFile(file, JSON.stringify({ users: [{ name: 'anna', tokenSha256: 'not-hex', created: 'x' }] }));
  assert.throws(() => new UserDirectory({ token: SINGLE, usersFile: file }), /does not hold a list of users/);
  await writeFile(file, JSON.stringify({ users: [] }));
  await eventuallyAsync(() => users.resolve(anna) === undefined, 'the fixed file applies');
  assert.equal(events.revoked.flat()[0].name, 'anna');
});

test('per-user metric labels are bounded: past MAX_USER_LABELS names, the rest count as _other', () => {
  const metrics = createServerMetrics(() => 0);
  const labels = Array.from({ length: MAX_USER_LABELS + 10 }, (_, i) => metrics.userLabel(`user${i}`));
  assert.equal(new Set(labels).size, MAX_USER_LABELS + 1);
  assert.equal(labels.at(-1), '_other');
  assert.equal(metrics.userLabel('user0'), 'user0', 'a name already labelled keeps its label');
});
