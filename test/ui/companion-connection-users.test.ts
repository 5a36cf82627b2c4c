// The plugin's connection against a real server with per-user tokens: a revoked token and a connection
// over the per-user cap are shown to the designer with the server's reason, and not retried in a loop.
import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import WebSocket from 'ws';
import { revokeUserAsync } from '../../companion-server/server/user-tokens.ts';
import { CompanionConnection, type ConnectionStatus, type WebSocketLike } from '../../ui/connection/companion-connection.ts';
import { parseServerAddress } from '../../ui/connection/server-address.ts';
import { describeConnection } from '../../ui/describe-problem.ts';
import { startTestServerAsync } from '../helpers/test-server.ts';
import { makeTestUsersAsync } from '../helpers/test-users.ts';

function open(t: TestContext, url: string, token: string) {
  const statuses: ConnectionStatus[] = [];
  const parsed = parseServerAddress(url);
  if ('error' in parsed) throw new Error(parsed.error);
  let sockets = 0;
  const connection = new CompanionConnection({
    address: parsed,
    token,
    onStatus: (status) => statuses.push(status),
    onMessage: () => {},
    onBinary: () => {},
    createSocket: (socketUrl) => (sockets++, new WebSocket(socketUrl, { headers: { origin: 'null' } }) as unknown as WebSocketLike),
    fetch: (probeUrl, init) => fetch(probeUrl, { ...init, headers: { origin: 'null' } }),
    delayMs: () => 50,
  });
  t.after(() => connection.stop());
  connection.start();
  const untilAsync = async (state: ConnectionStatus['state']): Promise<ConnectionStatus> => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const found = [...statuses].reverse().find((s) => s.state === state);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${state}; statuses: ${statuses.map((s) => s.state).join(',')}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  return { connection, statuses, untilAsync, sockets: () => sockets };
}

test('the plugin shows who it is connected as, and a revoked token as rejected without reconnecting', async (t) => {
  const users = await makeTestUsersAsync(t, ['anna']);
  const { httpUrl } = await startTestServerAsync(t, { usersFile: users.usersFile });
  const anna = open(t, httpUrl, users.tokens.anna);
  const connected = await anna.untilAsync('connected');
  assert.equal(describeConnection(connected), 'Connected · mgie-tiny · anna');
  await revokeUserAsync(users.configDir, 'anna');
  await anna.untilAsync('token-rejected');
  await new Promise((resolve) => setTimeout(resolve, 300)); // several retry delays
  assert.equal(anna.sockets(), 1, 'no reconnect attempts with a revoked token');
  assert.equal(anna.connection.status.state, 'token-rejected');
});

test('a connection over the per-user cap is shown with the server\'s reason and waits for Retry', async (t) => {
  const users = await makeTestUsersAsync(t, ['anna']);
  const { httpUrl } = await startTestServerAsync(t, { usersFile: users.usersFile, maxConnectionsPerUser: 1 });
  const first = open(t, httpUrl, users.tokens.anna);
  await first.untilAsync('connected');
  const second = open(t, httpUrl, users.tokens.anna);
  const refused = await second.untilAsync('forbidden');
  assert.match((refused as { message: string }).message, /already have 1 connections open, the most per user\. Close another plugin window\. Then press Retry\./);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(second.sockets(), 1, 'not retried in a loop');
  first.connection.stop();
  await new Promise((resolve) => setTimeout(resolve, 100));
  second.connection.retryNow();
  await second.untilAsync('connected');
});
