// A client that stops reading must not grow the server's memory without bound: once the unsent data of
// its connection (the WebSocket's bufferedAmount, what the server measures) passes the limit, the
// server closes the connection, and what finishes afterwards waits for the client to reconnect
// (PROTOCOL.md, "Slow readers"). A real client that really stops reading, against the real server; the
// limit is made small so the test takes seconds, and the default is checked against the document.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import sharp from 'sharp';
import type { WebSocket } from 'ws';
import { DEFAULT_SERVER_OPTIONS } from '../../companion-server/server/server-options.ts';
import { clientKey } from '../../companion-server/server/user-connections.ts';
import { startTestServerAsync, TestClient } from '../helpers/test-server.ts';

const MiB = 2 ** 20;

test('the default backlog limits are the documented ones: progress dropped past 1 MiB, the connection closed past 64 MiB', async () => {
  assert.deepEqual(DEFAULT_SERVER_OPTIONS.slowReader, { dropProgressBytes: 1 * MiB, closeBytes: 64 * MiB });
  const protocol = await readFile(new URL('../../companion-server/PROTOCOL.md', import.meta.url), 'utf8');
  assert.match(protocol, /When more than 1 MiB is waiting to be sent on a connection, the server drops events/);
  assert.match(protocol, /When more than 64 MiB is waiting, the server closes the connection/);
});

test('a client that stops reading is closed once its backlog passes the limit; what finishes later waits for its reconnect', async (t) => {
  const closeBytes = 1 * MiB;
  const jobs = 16;
  const { wsUrl, server } = await startTestServerAsync(t, {
    slowReader: { dropProgressBytes: 256 * 1024, closeBytes },
    maxQueuedPerClient: jobs,
    rateLimit: { capacity: jobs, refillPerSecond: 1 },
    resultsKeptPerClient: jobs,
  });
  // Each result is a PNG with the input's alpha channel put back; random alpha makes it about 1 MB that
  // does not compress, so a few results fill the kernel's socket buffers (a few MB) and then the backlog.
  const side = 512;
  const image = await sharp(randomBytes(side * side * 4), { raw: { width: side, height: side, channels: 4 } }).png().toBuffer();

  const client = await TestClient.connectAsync(t, wsUrl, { clientId: 'never-reads' });
  await client.waitForJson('hello');
  assert.equal(server.hub.connectionCount, 1);
  // Spy on the server's side of the connection: the backlog each message is added to.
  const [serverSide] = server.hub.allSockets() as WebSocket[];
  let largestBacklog = 0;
  let largestMessage = 0;
  const send = serverSide.send.bind(serverSide);
  serverSide.send = ((data: Buffer | string, ...rest: unknown[]) => {
    largestBacklog = Math.max(largestBacklog, serverSide.bufferedAmount);
    largestMessage = Math.max(largestMessage, typeof data === 'string' ? Buffer.byteLength(data) : data.length);
    return (send as (...args: unknown[]) => void)(data, ...rest);
  }) as WebSocket['send'];

  (client.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause(); // stops reading
  for (let i = 0; i < jobs; i++) client.submit({ clientJobId: `j${i}`, instruction: 'add snow', parameters: { steps: 1, size: 64, seed: i } }, image);

  // Until the server drops the connection, or has nothing left to send on it.
  const service = server.service!;
  const deadline = Date.now() + 60_000;
  let idleSince: number | undefined;
  while (server.hub.connectionCount > 0 && Date.now() < deadline) {
    const idle = service.waiting === 0 && service.running === 0 && largestMessage > 0;
    idleSince = idle ? (idleSince ?? Date.now()) : undefined;
    if (idleSince !== undefined && Date.now() - idleSince > 500) break;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const leftAtClose = (await service.jobsOf(clientKey('default', 'never-reads'), 'default')).map((job) => job.jobId); // the single token is the user "default"
  const stillOpen = server.hub.connectionCount;
  const unsent = serverSide.bufferedAmount;
  // (when it failed, end the client here, or the server's shutdown waits 30 s for its close handshake)
  if (stillOpen > 0) client.socket.terminate();
  assert.equal(stillOpen, 0, `the server still holds a connection with ${unsent} bytes unsent to a client that never reads (limit ${closeBytes})`);
  assert.ok(largestBacklog <= closeBytes + largestMessage, `the backlog reached ${largestBacklog} bytes; the limit is ${closeBytes} + one message`);

  // The client, reading again, finds the connection closed (abnormally: the server did not wait for it).
  (client.socket as unknown as { _socket: { resume(): void } })._socket.resume();
  await new Promise<void>((resolve) => (client.closeCode !== undefined ? resolve() : client.socket.once('close', () => resolve())));
  assert.equal(client.closeCode, 1006);

  // Back with the same clientId: the jobs still queued or running at the close are announced again and
  // their results come (the first is enough to show it; the rest are cancelled when the server closes).
  assert.ok(leftAtClose.length > 0, 'the connection was closed while jobs were left');
  const again = await TestClient.connectAsync(t, wsUrl, { clientId: 'never-reads' });
  for (const jobId of leftAtClose) await again.waitForJson('accepted', (m) => m.jobId === jobId);
  await again.waitForResult(leftAtClose[0], 30_000);
});
