// The UI's connection module, in Node with the `ws` WebSocket, against a real companion server.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { ServerBinaryHeader, ServerMessage } from '../../companion-server/protocol/messages.ts';
import { CompanionConnection, type ConnectionStatus, type WebSocketLike } from '../../ui/connection/companion-connection.ts';
import { probeServerAsync } from '../../ui/connection/probe-server-async.ts';
import { parseServerAddress, type ServerAddress } from '../../ui/connection/server-address.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { startTestServerAsync, TEST_TOKEN } from '../helpers/test-server.ts';

function address(url: string): ServerAddress {
  const parsed = parseServerAddress(url);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed;
}

/** A connection that records what it reports; the browser's Origin: null is sent like the plugin's. */
function openConnection(t: TestContext, url: string, token: string, delayMs = (_attempt: number) => 50) {
  const statuses: ConnectionStatus[] = [];
  const messages: ServerMessage[] = [];
  const binaries: Array<{ header: ServerBinaryHeader; payload: Uint8Array }> = [];
  const changed: Array<() => void> = [];
  const notify = () => changed.splice(0).forEach((resolve) => resolve());
  const connection = new CompanionConnection({
    address: address(url),
    token,
    onStatus: (status) => (statuses.push(status), notify()),
    onMessage: (message) => (messages.push(message), notify()),
    onBinary: (header, payload) => (binaries.push({ header, payload }), notify()),
    createSocket: (socketUrl) => new WebSocket(socketUrl, { headers: { origin: 'null' } }) as unknown as WebSocketLike,
    fetch: (probeUrl, init) => fetch(probeUrl, { ...init, headers: { origin: 'null' } }),
    delayMs,
  });
  t.after(() => connection.stop());
  async function until<T>(find: () => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; statuses: ${statuses.map((s) => s.state).join(',')}`);
      await new Promise<void>((resolve) => {
        changed.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }
  return { connection, statuses, messages, binaries, until };
}

test('server addresses: bare host, http(s), ws(s), a path behind a proxy; bad ones are explained', () => {
  assert.deepEqual(parseServerAddress('localhost:8765'), { httpBase: 'http://localhost:8765', wsUrl: 'ws://localhost:8765/v1/ws' });
  assert.deepEqual(parseServerAddress(' https://gpu.example.com/mgie/ '), { httpBase: 'https://gpu.example.com/mgie', wsUrl: 'wss://gpu.example.com/mgie/v1/ws' });
  assert.deepEqual(parseServerAddress('ws://127.0.0.1:9000'), { httpBase: 'http://127.0.0.1:9000', wsUrl: 'ws://127.0.0.1:9000/v1/ws' });
  assert.match((parseServerAddress('') as { error: string }).error, /Enter the server address/);
  assert.match((parseServerAddress('ftp://box') as { error: string }).error, /must start with http/);
  assert.match((parseServerAddress('http://user:secret@box') as { error: string }).error, /Token field/);
});

test('the probe tells apart: connected, token rejected, unreachable', async (t) => {
  const { httpUrl } = await startTestServerAsync(t);
  const withNullOrigin = (url: string, init: { signal: AbortSignal; cache: 'no-store' }) => fetch(url, { ...init, headers: { origin: 'null' } });
  const ok = await probeServerAsync(address(httpUrl), TEST_TOKEN, { fetch: withNullOrigin });
  assert.equal(ok.kind, 'ok');
  assert.equal(ok.kind === 'ok' && ok.info.model?.name, 'mgie-tiny');
  assert.deepEqual(await probeServerAsync(address(httpUrl), 'wrong-token', { fetch: withNullOrigin }), { kind: 'token-rejected' });
  assert.deepEqual(await probeServerAsync(address('http://127.0.0.1:1'), TEST_TOKEN, { fetch: withNullOrigin }), { kind: 'unreachable' });
});

test('connects, edits with progress and a result, and cancels', async (t) => {
  const { httpUrl } = await startTestServerAsync(t);
  const client = openConnection(t, httpUrl, TEST_TOKEN);
  client.connection.start();
  const connected = await client.until(() => client.statuses.find((s) => s.state === 'connected'), 'connected');
  assert.equal(connected.state === 'connected' && connected.hello.model.name, 'mgie-tiny');
  const image = new Uint8Array(await samplePhotoAsync(96, 64));
  assert.ok(client.connection.submit({ clientJobId: 'first', instruction: 'make it look like autumn', parameters: { steps: 3, size: 64, seed: 1 }, previews: true }, image));
  const result = await client.until(() => client.binaries.find((b) => b.header.type === 'result'), 'result');
  assert.equal(result.header.type === 'result' && result.header.clientJobId, 'first');
  assert.equal(String.fromCharCode(...result.payload.subarray(1, 4)), 'PNG');
  const types = new Set(client.messages.map((m) => m.type));
  for (const type of ['accepted', 'started', 'stage', 'step', 'instruction'] as const) assert.ok(types.has(type), `saw ${type}`);

  client.connection.submit({ clientJobId: 'second', instruction: 'make it snowy', parameters: { steps: 200, size: 64 } }, image);
  const accepted = await client.until(() => client.messages.find((m) => m.type === 'accepted' && m.clientJobId === 'second'), 'accepted');
  assert.ok(accepted.type === 'accepted' && client.connection.cancel(accepted.jobId));
  await client.until(() => client.messages.find((m) => m.type === 'cancelled'), 'cancelled');
});

test('a wrong token is reported as such and not retried', async (t) => {
  const { httpUrl } = await startTestServerAsync(t);
  const client = openConnection(t, httpUrl, 'wrong-token');
  client.connection.start();
  await client.until(() => client.statuses.find((s) => s.state === 'token-rejected'), 'token-rejected');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.deepEqual(client.statuses.map((s) => s.state), ['connecting', 'token-rejected']);
  assert.equal(client.connection.submit({ clientJobId: 'x', instruction: 'x' }, new Uint8Array(1)), false);
});

test('server down: unreachable with backoff, then connected when it comes back, on the same clientId', async (t) => {
  const first = await startTestServerAsync(t);
  const client = openConnection(t, first.httpUrl, TEST_TOKEN, (attempt) => 100 * (attempt + 1));
  client.connection.start();
  const hello = await client.until(() => client.statuses.find((s) => s.state === 'connected'), 'first connect');
  const clientId = hello.state === 'connected' ? hello.hello.clientId : '';
  await first.server.closeAsync();
  const down = await client.until(() => client.statuses.filter((s) => s.state === 'unreachable')[1], 'two unreachable reports');
  assert.ok(down.state === 'unreachable' && down.attempt === 2);

  await startTestServerAsync(t, { port: first.port });
  const back = await client.until(() => client.statuses.slice(1).find((s) => s.state === 'connected'), 'reconnected');
  assert.equal(back.state === 'connected' && back.hello.clientId, clientId);
});
