// One identity per designer: per-user tokens (made and revoked by real `mgie token` processes while a
// real server runs), fair turns and limits per user across all their connections, the connection cap,
// and clientIds that stay private to their user.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runMgieAsync } from '../helpers/run-mgie.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { startTestServerAsync, TEST_TOKEN, TestClient } from '../helpers/test-server.ts';
import { makeTestUsersAsync } from '../helpers/test-users.ts';

const quick = { steps: 2, size: 64 };
/** Long enough on the tiny bundle for others to queue behind it (about 0.7 s here)... */
const slow = { steps: 40, size: 128 };
/** ...and for a `mgie token` process to start and finish while it runs (about 9 s here; cancelled or waited for). */
const long = { steps: 200, size: 512 };
let photo: Buffer;
const photoAsync = async () => (photo ??= await samplePhotoAsync(96, 64));

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function waitUntilAsync(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('each token resolves to its user: /v1/info and hello say who; the single token is "default"; a user added by mgie token add while the server runs gets in', async (t) => {
  const users = await makeTestUsersAsync(t, ['anna']);
  const { httpUrl, wsUrl } = await startTestServerAsync(t, { usersFile: users.usersFile });
  const info = async (token: string) => fetch(`${httpUrl}/v1/info`, { headers: bearer(token) });
  assert.equal((await (await info(users.tokens.anna)).json()).user, 'anna');
  assert.equal((await (await info(TEST_TOKEN)).json()).user, 'default');
  assert.equal((await info('not-a-token-of-anyone-at-all')).status, 401);
  const anna = await TestClient.connectAsync(t, wsUrl, { token: users.tokens.anna });
  assert.equal((await anna.waitForJson('hello')).user, 'anna');

  const added = await runMgieAsync(['token', 'add', 'carl', '--config-dir', users.configDir]);
  assert.equal(added.code, 0, added.stderr);
  const carlToken = added.stdout.trimEnd().split('\n').at(-1)!;
  await waitUntilAsync(async () => (await info(carlToken)).status === 200, 'the server accepts the new token');
  assert.equal((await (await info(carlToken)).json()).user, 'carl');
  const carl = await TestClient.connectAsync(t, wsUrl, { token: carlToken });
  assert.equal((await carl.waitForJson('hello')).user, 'carl');
});

test('mgie token revoke closes the user\'s open connections with 4001 at once, cancels their jobs and refuses their requests; another user is untouched', async (t) => {
  const users = await makeTestUsersAsync(t, ['anna', 'bert']);
  const { httpUrl, wsUrl, server } = await startTestServerAsync(t, { usersFile: users.usersFile });
  const anna = await TestClient.connectAsync(t, wsUrl, { token: users.tokens.anna });
  const annaToo = await TestClient.connectAsync(t, wsUrl, { token: users.tokens.anna });
  const bert = await TestClient.connectAsync(t, wsUrl, { token: users.tokens.bert });
  const image = await photoAsync();
  anna.submit({ clientJobId: 'a1', instruction: 'make it snow', parameters: long }, image);
  await anna.waitForJson('accepted', (m) => m.clientJobId === 'a1');
  anna.submit({ clientJobId: 'a2', instruction: 'make it snow', parameters: quick }, image);
  await anna.waitForJson('accepted', (m) => m.clientJobId === 'a2');
  assert.equal(server.service!.waiting, 1);

  const revoked = await runMgieAsync(['token', 'revoke', 'anna', '--config-dir', users.configDir]);
  assert.equal(revoked.code, 0, revoked.stderr);
  await waitUntilAsync(() => anna.closeCode !== undefined && annaToo.closeCode !== undefined, 'both of anna\'s connections close');
  assert.deepEqual([anna.closeCode, annaToo.closeCode], [4001, 4001]);
  assert.match(anna.closeReason!, /token was revoked/);
  // her waiting job is gone and the running one is cancelled, so bert's job runs next, at once
  await waitUntilAsync(() => server.service!.running === 0 && server.service!.waiting === 0, 'anna\'s jobs are cancelled');
  const metrics = await (await fetch(`${httpUrl}/metrics`, { headers: bearer(TEST_TOKEN) })).text();
  assert.match(metrics, /^mgie_jobs_total\{outcome="cancelled",user="anna"\} 2$/m, metrics.split('\n').filter((line) => line.startsWith('mgie_jobs_total')).join('\n'));
  assert.equal((await fetch(`${httpUrl}/v1/info`, { headers: bearer(users.tokens.anna) })).status, 401);
  await assert.rejects(TestClient.connectAsync(t, wsUrl, { token: users.tokens.anna }), { statusCode: 401 });

  assert.equal(bert.closeCode, undefined);
  bert.submit({ clientJobId: 'b1', instruction: 'make it snow', parameters: quick }, image);
  const accepted = await bert.waitForJson('accepted');
  assert.equal(accepted.position, 0);
  await bert.waitForResult(accepted.jobId);
});

test('revoking a user frees the results kept for their absent connections at once; another user\'s stay kept', async (t) => {
  const users = await makeTestUsersAsync(t, ['anna', 'bert']);
  const { server, wsUrl } = await startTestServerAsync(t, { usersFile: users.usersFile });
  const image = await photoAsync();
  const keptAfterLeaving = async (name: 'anna' | 'bert') => {
    const before = server.hub.keptBytes;
    const client = await TestClient.connectAsync(t, wsUrl, { token: users.tokens[name], clientId: `${name}-laptop` });
    client.submit({ clientJobId: `${name}-1`, instruction: 'make it snow', parameters: quick }, image);
    await client.waitForJson('accepted');
    client.socket.terminate(); // the designer closed the plugin: the result is kept for their return
    await waitUntilAsync(() => server.hub.keptBytes > before, `${name}'s result is kept`);
    return server.hub.keptBytes - before;
  };
  await keptAfterLeaving('anna');
  const bertBytes = await keptAfterLeaving('bert');
  const revoked = await runMgieAsync(['token', 'revoke', 'anna', '--config-dir', users.configDir]);
  assert.equal(revoked.code, 0, revoked.stderr);
  await waitUntilAsync(() => server.hub.keptBytes === bertBytes, 'only bert\'s result is kept');
});

test('one user with 11 connections submitting 100 jobs at once cannot starve another: the other is accepted, not BUSY, and served at the next turn', async (t) => {
  const users = await makeTestUsersAsync(t, ['flood', 'bert']);
  const { wsUrl } = await startTestServerAsync(t, { usersFile: users.usersFile, maxConnectionsPerUser: 16 });
  const flood = await Promise.all(Array.from({ length: 11 }, () => TestClient.connectAsync(t, wsUrl, { token: users.tokens.flood })));
  const bert = await TestClient.connectAsync(t, wsUrl, { token: users.tokens.bert });
  const image = await photoAsync();
  for (let i = 0; i < 100; i++) flood[i % 11].submit({ clientJobId: `f${i}`, instruction: 'add a hat', parameters: i === 0 ? slow : { ...quick, seed: i } }, image);
  // every submission gets an answer: accepted, or refused with a reason
  const answers = () => flood.flatMap((c) => c.received.filter((r) => r.kind === 'json' && (r.message.type === 'accepted' || (r.message.type === 'error' && r.message.clientJobId))));
  await waitUntilAsync(() => answers().length === 100, 'all 100 submissions are answered');
  const count = (code: string) => answers().filter((r) => r.kind === 'json' && r.message.code === code).length;
  const acceptedCount = flood.reduce((n, c) => n + c.jsonOfType('accepted').length, 0);
  // the limits hold across all 11 connections: 1 running + maxQueuedPerClient (10) waiting, rate limit per user (burst 20)
  assert.equal(acceptedCount, 11, `accepted ${acceptedCount}, busy ${count('MGIE_ERR_BUSY')}, rate-limited ${count('MGIE_ERR_RATE_LIMITED')}`);
  assert.equal(count('MGIE_ERR_BUSY'), 9);
  assert.equal(count('MGIE_ERR_RATE_LIMITED'), 80);

  const floodStarted = () => flood.reduce((n, c) => n + c.jsonOfType('started').length, 0);
  bert.submit({ clientJobId: 'b1', instruction: 'add a hat', parameters: quick }, image);
  const accepted = await bert.waitForJson('accepted');
  assert.equal(accepted.position, 1, 'next in line, ahead of the 10 waiting jobs of the other user');
  const startedBefore = floodStarted();
  await bert.waitForJson('started', () => true, 60_000);
  assert.equal(floodStarted(), startedBefore, 'no job of the other user started in between');
  await bert.waitForResult(accepted.jobId, 60_000);
});

test('the per-user queue limit counts the jobs of all the user\'s connections', async (t) => {
  const users = await makeTestUsersAsync(t, ['anna', 'bert']);
  const { wsUrl } = await startTestServerAsync(t, { usersFile: users.usersFile, maxQueuedPerClient: 3 });
  const connections = await Promise.all(Array.from({ length: 3 }, (_, i) => TestClient.connectAsync(t, wsUrl, { token: users.tokens.anna, clientId: `anna-window-${i}` })));
  const image = await photoAsync();
  connections[0].submit({ clientJobId: 'first', instruction: 'add a hat', parameters: slow }, image);
  await connections[0].waitForJson('accepted');
  for (const [i, connection] of connections.entries()) {
    for (const n of [1, 2]) connection.submit({ clientJobId: `w${i}-${n}`, instruction: 'add a hat', parameters: quick }, image);
  }
  const answered = () => connections.flatMap((c) => [...c.jsonOfType('accepted'), ...c.jsonOfType('error')]).length;
  await waitUntilAsync(() => answered() === 7, 'all submissions are answered');
  const refusals = connections.flatMap((c) => c.jsonOfType('error'));
  assert.equal(connections.reduce((n, c) => n + c.jsonOfType('accepted').length, 0), 4, '1 running + 3 waiting');
  assert.deepEqual(refusals.map((e) => e.code), ['MGIE_ERR_BUSY', 'MGIE_ERR_BUSY', 'MGIE_ERR_BUSY']);
  assert.match(refusals[0].message, /3 jobs waiting, the most one user may queue/);
  // another user is not affected by anna's full queue
  const bert = await TestClient.connectAsync(t, wsUrl, { token: users.tokens.bert });
  bert.submit({ clientJobId: 'b', instruction: 'add a hat', parameters: quick }, image);
  assert.equal((await bert.waitForJson('accepted')).position, 1);
});

test('connections per user are capped: the one over the cap is closed with 4002 and a reason; other users and a freed slot are fine', async (t) => {
  const users = await makeTestUsersAsync(t, ['anna', 'bert']);
  const { wsUrl, server } = await startTestServerAsync(t, { usersFile: users.usersFile, maxConnectionsPerUser: 2 });
  const first = await TestClient.connectAsync(t, wsUrl, { token: users.tokens.anna });
  await TestClient.connectAsync(t, wsUrl, { token: users.tokens.anna });
  const third = await TestClient.connectAsync(t, wsUrl, { token: users.tokens.anna });
  await waitUntilAsync(() => third.closeCode !== undefined, 'the third connection is closed');
  assert.equal(third.closeCode, 4002);
  assert.match(third.closeReason!, /already have 2 connections open, the most per user/);
  assert.equal(third.jsonOfType('hello').length, 0, 'no hello: it never joined');
  assert.equal(server.hub.connectionCount, 2);
  const bert = await TestClient.connectAsync(t, wsUrl, { token: users.tokens.bert });
  assert.equal((await bert.waitForJson('hello')).user, 'bert');
  // the single token is a user like the others
  await TestClient.connectAsync(t, wsUrl);
  await TestClient.connectAsync(t, wsUrl);
  const overDefault = await TestClient.connectAsync(t, wsUrl);
  await waitUntilAsync(() => overDefault.closeCode !== undefined, 'the third connection of "default" is closed');
  assert.equal(overDefault.closeCode, 4002);
  // a closed connection frees its slot
  first.socket.close();
  await waitUntilAsync(() => first.closeCode !== undefined, 'the first connection is closed');
  await waitUntilAsync(() => server.hub.connectionCount === 4, 'the server has let go of it');
  const again = await TestClient.connectAsync(t, wsUrl, { token: users.tokens.anna });
  assert.equal((await again.waitForJson('hello')).user, 'anna');
});

test('a clientId is private to its user: another user presenting it sees none of the first user\'s jobs or results and cannot cancel them', async (t) => {
  const users = await makeTestUsersAsync(t, ['anna', 'mallory']);
  const { wsUrl, server } = await startTestServerAsync(t, { usersFile: users.usersFile });
  const clientId = 'anna-plugin-window';
  const anna = await TestClient.connectAsync(t, wsUrl, { token: users.tokens.anna, clientId });
  const image = await photoAsync();
  anna.submit({ clientJobId: 'secret-1', instruction: 'add a hat', parameters: long }, image);
  const running = await anna.waitForJson('accepted', (m) => m.clientJobId === 'secret-1');
  anna.submit({ clientJobId: 'secret-2', instruction: 'add a hat', parameters: quick }, image);
  const waiting = await anna.waitForJson('accepted', (m) => m.clientJobId === 'secret-2');
  anna.socket.close();
  await waitUntilAsync(() => anna.closeCode !== undefined, 'anna has gone');

  const mallory = await TestClient.connectAsync(t, wsUrl, { token: users.tokens.mallory, clientId });
  assert.equal((await mallory.waitForJson('hello')).clientId, clientId);
  for (const jobId of [running.jobId, waiting.jobId]) {
    mallory.sendJson({ type: 'cancel', jobId });
    assert.equal((await mallory.waitForJson('error', (m) => m.jobId === jobId)).code, 'MGIE_ERR_FORBIDDEN');
  }
  await waitUntilAsync(() => server.service!.running === 0 && server.service!.waiting === 0, 'anna\'s jobs are done', 60_000);

  // anna comes back with her clientId and gets both results; mallory got nothing of hers
  const back = await TestClient.connectAsync(t, wsUrl, { token: users.tokens.anna, clientId });
  await back.waitForResult(running.jobId);
  await back.waitForResult(waiting.jobId);
  assert.deepEqual(mallory.received.map((r) => (r.kind === 'json' ? r.message.type : r.header.type)), ['hello', 'error', 'error']);
});
