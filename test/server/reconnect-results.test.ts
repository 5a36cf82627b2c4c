// Results kept for a client that was away reach it when it reconnects, however large, and each is
// forgotten only once written: delivered all at once they passed the slow-reader cut-off, the new
// connection was closed (1006) and the kept list was already gone. Real server, real client; the limit
// is made small (1 MiB) and the results about 1 MB each, the shape of seven 15 MB results against 64 MiB.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import sharp from 'sharp';
import { startTestServerAsync, TestClient } from '../helpers/test-server.ts';

const MiB = 2 ** 20;

test('seven large results kept for an absent client all arrive on reconnect, one after another, and the connection stays open', async (t) => {
  const jobs = 7;
  const { wsUrl, server } = await startTestServerAsync(t, {
    slowReader: { dropProgressBytes: 256 * 1024, closeBytes: 1 * MiB },
    maxQueuedPerClient: jobs,
    rateLimit: { capacity: jobs, refillPerSecond: 1 },
    resultsKeptPerClient: jobs,
  });
  // Random alpha keeps each result PNG about 1 MB (it does not compress).
  const side = 512;
  const image = await sharp(randomBytes(side * side * 4), { raw: { width: side, height: side, channels: 4 } }).png().toBuffer();

  // 1. submit, wait until all are accepted, and leave
  const first = await TestClient.connectAsync(t, wsUrl, { clientId: 'comes-back' });
  await first.waitForJson('hello');
  for (let i = 0; i < jobs; i++) first.submit({ clientJobId: `j${i}`, instruction: 'add snow', parameters: { steps: 1, size: 64, seed: i } }, image);
  for (let i = 0; i < jobs; i++) await first.waitForJson('accepted', (m) => m.clientJobId === `j${i}`);
  first.socket.close();
  await new Promise((resolve) => first.socket.once('close', resolve));

  // 2. the jobs finish while the client is away
  const service = server.service!;
  const deadline = Date.now() + 120_000;
  while ((service.waiting > 0 || service.running > 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(service.waiting + service.running, 0, 'the jobs finished');

  // 3. back with the same clientId: every result, on a connection that stays open
  const again = await TestClient.connectAsync(t, wsUrl, { clientId: 'comes-back' });
  await again.waitForJson('hello');
  const received = new Set<string>();
  while (received.size < jobs) {
    const result = await again.waitFor((r) => r.kind === 'binary' && r.header.type === 'result' && !received.has(r.header.clientJobId), 60_000);
    assert.ok(result.kind === 'binary' && result.payload.length > 500_000, 'a large result');
    received.add((result as { header: { clientJobId: string } }).header.clientJobId);
  }
  assert.equal(again.closeCode, undefined, 'the reconnected client was not cut off');
  // 4. delivered means forgotten: a third connection gets nothing again
  const third = await TestClient.connectAsync(t, wsUrl, { clientId: 'comes-back' });
  await third.waitForJson('hello');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(third.received.filter((r) => r.kind === 'binary').length, 0);
});
