// Seed 0 through the server's protocols, as a client sends it: over the WebSocket (the plugin) and as
// ?seed=0 on POST /v1/edits (scripts). It must come back as seed 0, give the same picture each time,
// and not be confused with another seed or with "no seed", also when results come from the cache.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { startTestServerAsync, TEST_TOKEN, TestClient } from '../helpers/test-server.ts';

const quick = { steps: 3, size: 64 };

test('WebSocket: seed 0 comes back as 0 with the same picture twice; seed 1 and no seed differ', async (t) => {
  const { wsUrl } = await startTestServerAsync(t);
  const client = await TestClient.connectAsync(t, wsUrl);
  const image = await samplePhotoAsync(96, 64);
  const resultOf = async (clientJobId: string, parameters: object) => {
    client.submit({ clientJobId, instruction: 'make the frame red', parameters: { ...quick, ...parameters } }, image);
    const { jobId } = await client.waitForJson('accepted', (m) => m.clientJobId === clientJobId);
    return client.waitForResult(jobId);
  };
  const first = await resultOf('zero-1', { seed: 0 });
  const second = await resultOf('zero-2', { seed: 0 });
  assert.equal(first.header.parameters.seed, 0);
  assert.equal(second.header.parameters.seed, 0);
  assert.ok(Buffer.from(first.payload).equals(Buffer.from(second.payload)), 'seed 0 twice, same bytes');
  const one = await resultOf('one', { seed: 1 });
  assert.ok(!Buffer.from(first.payload).equals(Buffer.from(one.payload)), 'seed 1 is another picture');
  const drawn = await resultOf('none', {});
  assert.notEqual(drawn.header.parameters.seed, 0);
  assert.ok(!Buffer.from(first.payload).equals(Buffer.from(drawn.payload)), 'no seed is another picture');
});

test('HTTP: ?seed=0 answers X-MGIE-Seed: 0 and the same PNG as seed 0 over the WebSocket', async (t) => {
  const { httpUrl, wsUrl } = await startTestServerAsync(t);
  const image = await samplePhotoAsync(96, 64);
  const post = async (query: string) => {
    const response = await fetch(`${httpUrl}/v1/edits?instruction=${encodeURIComponent('add snow')}&steps=3&size=64${query}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'image/png' },
      body: new Uint8Array(image),
    });
    assert.equal(response.status, 200);
    return { seed: response.headers.get('x-mgie-seed'), png: Buffer.from(await response.arrayBuffer()) };
  };
  const first = await post('&seed=0');
  const second = await post('&seed=0');
  assert.equal(first.seed, '0');
  assert.equal(second.seed, '0');
  assert.ok(first.png.equals(second.png));
  const drawn = await post('');
  assert.notEqual(drawn.seed, '0');
  assert.ok(!first.png.equals(drawn.png));

  const client = await TestClient.connectAsync(t, wsUrl);
  client.submit({ clientJobId: 'ws-zero', instruction: 'add snow', parameters: { ...quick, seed: 0 } }, image);
  const { jobId } = await client.waitForJson('accepted');
  const overWebSocket = await client.waitForResult(jobId);
  assert.ok(first.png.equals(Buffer.from(overWebSocket.payload)), 'one seed 0 for both protocols');
});

test('with the result cache: seed 0 is cached under seed 0, not served for seed 1 or no seed', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'mgie-seed-cache-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { wsUrl } = await startTestServerAsync(t, { cache: { dir, maxBytes: 50 * 2 ** 20 } });
  const client = await TestClient.connectAsync(t, wsUrl);
  const image = await samplePhotoAsync(96, 64);
  const resultOf = async (clientJobId: string, parameters: object) => {
    client.submit({ clientJobId, instruction: 'darken the image', parameters: { ...quick, ...parameters } }, image);
    const { jobId } = await client.waitForJson('accepted', (m) => m.clientJobId === clientJobId);
    return client.waitForResult(jobId);
  };
  const zero = await resultOf('a', { seed: 0 });
  assert.equal(zero.header.cached, false);
  const again = await resultOf('b', { seed: 0 });
  assert.equal(again.header.cached, true, 'the repeat of seed 0 comes from the cache');
  assert.equal(again.header.parameters.seed, 0);
  assert.ok(Buffer.from(zero.payload).equals(Buffer.from(again.payload)));
  for (const [id, parameters] of [['c', { seed: 1 }], ['d', {}]] as const) {
    const other = await resultOf(id, parameters);
    assert.equal(other.header.cached, false, `${JSON.stringify(parameters)} is not seed 0's cache entry`);
    assert.notEqual(other.header.parameters.seed, 0);
  }
});
