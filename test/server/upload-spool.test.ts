// Waiting uploads live in spool files, not in the server's memory: a real server on the tiny bundle,
// real WebSocket clients, real 32 MB uploads, and the spool folder looked at on disk.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import sharp from 'sharp';
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from '../../companion-server/server/server-options.ts';
import { UploadSpool } from '../../companion-server/server/upload-spool.ts';
import { encodeSubmitFrame } from '../../companion-server/protocol/messages.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { startTestServerAsync, TEST_TOKEN, TestClient } from '../helpers/test-server.ts';

const MiB = 2 ** 20;
/** A job that keeps the server busy while others wait (cancelled by each test once done). */
const BLOCKER = { instruction: 'turn the day into night', parameters: { steps: 200, size: 1024, seed: 1 } };
const quick = { steps: 2, size: 64, seed: 3 };
/** Long, but each model run short: the server stays responsive while it runs. */
const SMALL_BLOCKER = { instruction: 'turn the day into night', parameters: { steps: 200, size: 128, seed: 1 } };

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

async function tempDirAsync(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mgie-spool-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The server's spool folder inside `parent` and the files in it (none while no upload was spooled). */
async function spoolFilesAsync(parent: string): Promise<{ folder: string | undefined; files: Array<{ name: string; size: number; mode: number }> }> {
  const folders = (await readdir(parent)).filter((name) => name.startsWith(`mgie-uploads-${process.pid}-`));
  assert.ok(folders.length <= 1, `one spool folder per server, found ${folders.join(', ')}`);
  if (folders.length === 0) return { folder: undefined, files: [] };
  const folder = path.join(parent, folders[0]);
  const files = await Promise.all(
    (await readdir(folder)).map(async (name) => {
      const info = await stat(path.join(folder, name));
      return { name, size: info.size, mode: info.mode & 0o777 };
    }),
  );
  return { folder, files };
}

/** Polls until `check` passes: files are deleted just after the event that ends their job. */
async function eventuallyAsync(check: () => Promise<void>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** A valid PNG of about `bytes` bytes: noise, stored uncompressed, so its size is what is asked. */
async function bigPngAsync(bytes: number): Promise<Buffer> {
  const side = Math.floor(Math.sqrt(bytes / 3));
  const pixels = randomFillSync(Buffer.alloc(side * side * 3));
  return sharp(pixels, { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
}

function spoolOptions(dir: string, overrides: Partial<ServerOptions['uploadSpool']> = {}): Partial<ServerOptions> {
  return { uploadSpool: { ...DEFAULT_SERVER_OPTIONS.uploadSpool, dir, ...overrides } };
}

test('eleven waiting 32 MB uploads wait in spool files (0600 in a 0700 folder), not in the heap; shutdown removes them', async (t) => {
  const dir = await tempDirAsync(t);
  const { server, wsUrl } = await startTestServerAsync(t, { ...spoolOptions(dir), maxQueuedPerClient: 30 });
  const big = await bigPngAsync(32 * MiB - 256 * 1024);
  assert.ok(big.length > 31 * MiB && big.length <= DEFAULT_SERVER_OPTIONS.maxImageBytes, `test image is ${big.length} bytes`);

  // Long jobs of small size first (the same client's jobs run in order), so the big ones wait behind
  // them; small edits keep each model run short, so the server reads the uploads meanwhile.
  const uploader = await TestClient.connectAsync(t, wsUrl, { clientId: 'uploader-0001' });
  const small = await samplePhotoAsync(64, 64);
  for (let i = 0; i < 12; i++) uploader.submit({ clientJobId: `block-${i}`, ...SMALL_BLOCKER }, small);
  await uploader.waitForJson('started');

  collectGarbage();
  const before = process.memoryUsage();
  const count = 11;
  const startedAt = Date.now();
  for (let i = 0; i < count; i++) uploader.submit({ clientJobId: `big-${i}`, instruction: 'add snow', parameters: quick }, big);
  for (let i = 0; i < count; i++) await uploader.waitForJson('accepted', (m) => m.clientJobId === `big-${i}`, 120_000);
  t.diagnostic(`${count} uploads of ${(big.length / MiB).toFixed(1)} MB accepted in ${Date.now() - startedAt} ms; ${uploader.received.filter((r) => r.kind === 'binary').length} of 12 blockers done`);
  assert.equal(uploader.jsonOfType('error').length, 0, JSON.stringify(uploader.jsonOfType('error')));

  const bigJobs = new Set(uploader.jsonOfType('accepted').filter((m) => m.clientJobId.startsWith('big-')).map((m) => m.jobId));
  assert.equal(uploader.jsonOfType('started').filter((m) => bigJobs.has(m.jobId)).length, 0, 'the blockers outlasted the uploads');
  // On disk: one file per waiting upload, each the upload's bytes, readable by this user alone.
  const { folder, files } = await spoolFilesAsync(dir);
  assert.ok(folder);
  assert.equal((await stat(folder)).mode & 0o777, 0o700);
  assert.equal(files.length, count);
  for (const file of files) assert.deepEqual([file.size, file.mode], [big.length, 0o600]);
  assert.equal(server.spool.spooledBytes, count * big.length);

  // Not in memory: once the last frames are let go (the test's client shares this process), the heap and
  // the buffers outside it (where a held upload would be) grew far less than the uploads' 350 MB. RSS is
  // only reported: it keeps what malloc freed (glibc returns little of it), in amounts that vary run to run.
  const totalMB = (count * big.length) / MiB;
  await eventuallyAsync(async () => {
    collectGarbage();
    const after = process.memoryUsage();
    const buffers = (after.arrayBuffers + after.heapUsed - before.arrayBuffers - before.heapUsed) / MiB;
    assert.ok(buffers < totalMB / 4, `heap and buffers grew by ${buffers.toFixed(0)} MB for ${totalMB.toFixed(0)} MB of waiting uploads`);
    t.diagnostic(`heap and buffers grew by ${buffers.toFixed(0)} MB, RSS by ${((after.rss - before.rss) / MiB).toFixed(0)} MB, for ${totalMB.toFixed(0)} MB of waiting uploads`);
  });

  // Shutdown cancels the waiting jobs and removes the folder with everything in it.
  await server.closeAsync();
  await assert.rejects(stat(folder), { code: 'ENOENT' });
  assert.equal(server.spool.spooledBytes, 0);
});

test('a spooled upload is deleted when its job is cancelled while waiting, when it starts (it runs and its result is right), and when it fails', async (t) => {
  const dir = await tempDirAsync(t);
  // inMemoryMaxBytes 0: every waiting upload is spooled, however small.
  const { wsUrl } = await startTestServerAsync(t, spoolOptions(dir, { inMemoryMaxBytes: 0 }));
  const client = await TestClient.connectAsync(t, wsUrl, { clientId: 'designer-0001' });
  const photo = await samplePhotoAsync(96, 64);
  const damaged = photo.subarray(0, photo.length - 200); // the header is fine, the pixels are cut short

  client.submit({ clientJobId: 'block', ...BLOCKER }, await samplePhotoAsync(64, 64));
  const block = await client.waitForJson('accepted', (m) => m.clientJobId === 'block');
  await client.waitForJson('started');
  // The running job's upload stays in memory: nothing is spooled for a job that starts at once.
  assert.equal((await spoolFilesAsync(dir)).files.length, 0);

  client.submit({ clientJobId: 'cancel-me', instruction: 'add snow', parameters: quick }, photo);
  client.submit({ clientJobId: 'good', instruction: 'add snow', parameters: quick }, photo);
  client.submit({ clientJobId: 'damaged', instruction: 'add snow', parameters: quick }, damaged);
  const [cancelMe, good, bad] = await Promise.all(['cancel-me', 'good', 'damaged'].map((id) => client.waitForJson('accepted', (m) => m.clientJobId === id)));
  assert.deepEqual((await spoolFilesAsync(dir)).files.map((f) => f.size).sort((a, b) => a - b), [damaged.length, photo.length, photo.length]);

  client.sendJson({ type: 'cancel', jobId: cancelMe.jobId });
  await client.waitForJson('cancelled', (m) => m.jobId === cancelMe.jobId);
  await eventuallyAsync(async () => assert.equal((await spoolFilesAsync(dir)).files.length, 2));

  client.sendJson({ type: 'cancel', jobId: block.jobId });
  const result = await client.waitForResult(good.jobId);
  assert.deepEqual([result.header.width, result.header.height], [96, 64]);
  assert.equal((await sharp(result.payload).metadata()).format, 'png');
  const failed = await client.waitForJson('error', (m) => m.jobId === bad.jobId);
  assert.equal(failed.code, 'MGIE_ERR_BAD_IMAGE');
  await eventuallyAsync(async () => assert.equal((await spoolFilesAsync(dir)).files.length, 0));
});

test('a waiting job\'s mask is spooled beside its image, and both go when the job has run with them (the kept pixels are the input\'s)', async (t) => {
  const dir = await tempDirAsync(t);
  const { wsUrl } = await startTestServerAsync(t, spoolOptions(dir, { inMemoryMaxBytes: 0 }));
  const client = await TestClient.connectAsync(t, wsUrl, { clientId: 'designer-0002' });
  const photo = await samplePhotoAsync(96, 64);
  const black = await sharp({ create: { width: 96, height: 64, channels: 3, background: '#000' } }).png().toBuffer();
  client.submit({ clientJobId: 'block', ...SMALL_BLOCKER }, await samplePhotoAsync(64, 64));
  const block = await client.waitForJson('accepted', (m) => m.clientJobId === 'block');
  await client.waitForJson('started');
  client.socket.send(encodeSubmitFrame({ type: 'submit', clientJobId: 'masked', instruction: 'add snow', parameters: quick }, photo, black));
  const masked = await client.waitForJson('accepted', (m) => m.clientJobId === 'masked');
  assert.deepEqual((await spoolFilesAsync(dir)).files.map((f) => f.size).sort((a, b) => a - b), [black.length, photo.length].sort((a, b) => a - b));
  client.sendJson({ type: 'cancel', jobId: block.jobId });
  const result = await client.waitForResult(masked.jobId);
  assert.equal(result.header.masked, true);
  assert.deepEqual(await sharp(result.payload).removeAlpha().raw().toBuffer(), await sharp(photo).removeAlpha().raw().toBuffer());
  await eventuallyAsync(async () => assert.equal((await spoolFilesAsync(dir)).files.length, 0));
});

test('an HTTP upload that waits is spooled too, and its caller gets the edited PNG', async (t) => {
  const dir = await tempDirAsync(t);
  const { wsUrl, httpUrl } = await startTestServerAsync(t, spoolOptions(dir, { inMemoryMaxBytes: 0 }));
  const client = await TestClient.connectAsync(t, wsUrl, { clientId: 'designer-0003' });
  client.submit({ clientJobId: 'block', ...BLOCKER }, await samplePhotoAsync(64, 64));
  const block = await client.waitForJson('accepted', (m) => m.clientJobId === 'block');
  await client.waitForJson('started');

  const photo = await samplePhotoAsync(96, 64);
  const answer = fetch(`${httpUrl}/v1/edits?instruction=add%20snow&steps=2&size=64&seed=5`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'image/png' },
    body: new Uint8Array(photo),
  });
  await eventuallyAsync(async () => assert.deepEqual((await spoolFilesAsync(dir)).files.map((f) => f.size), [photo.length]));
  client.sendJson({ type: 'cancel', jobId: block.jobId });
  const response = await answer;
  assert.equal(response.status, 200);
  const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 96, 64]);
  await eventuallyAsync(async () => assert.equal((await spoolFilesAsync(dir)).files.length, 0));
});

test('past the spool cap a waiting upload gets MGIE_ERR_BUSY that names the cap; it fits again once one is gone', async (t) => {
  const dir = await tempDirAsync(t);
  const photo = await samplePhotoAsync(96, 64);
  const { wsUrl } = await startTestServerAsync(t, spoolOptions(dir, { inMemoryMaxBytes: 0, maxBytes: 2 * photo.length }));
  const client = await TestClient.connectAsync(t, wsUrl, { clientId: 'designer-0002' });
  client.submit({ clientJobId: 'block', ...BLOCKER }, await samplePhotoAsync(64, 64));
  const block = await client.waitForJson('accepted', (m) => m.clientJobId === 'block');

  for (const id of ['w1', 'w2', 'w3']) client.submit({ clientJobId: id, instruction: 'add snow', parameters: quick }, photo);
  const [w1] = await Promise.all(['w1', 'w2'].map((id) => client.waitForJson('accepted', (m) => m.clientJobId === id)));
  const refused = await client.waitForJson('error', (m) => m.clientJobId === 'w3');
  assert.equal(refused.code, 'MGIE_ERR_BUSY');
  assert.match(refused.message, /--max-spool-mb/);
  assert.match(refused.message, /Try again/);

  client.sendJson({ type: 'cancel', jobId: w1.jobId });
  await client.waitForJson('cancelled', (m) => m.jobId === w1.jobId);
  await eventuallyAsync(async () => assert.equal((await spoolFilesAsync(dir)).files.length, 1));
  client.submit({ clientJobId: 'w4', instruction: 'add snow', parameters: quick }, photo);
  await client.waitForJson('accepted', (m) => m.clientJobId === 'w4');
  client.sendJson({ type: 'cancel', jobId: block.jobId });
});

test('at start, spool folders of server processes that are gone are removed; those of live processes stay', async (t) => {
  const dir = await tempDirAsync(t);
  const exited = spawnSync(process.execPath, ['-e', '']).pid!; // a process that has exited: its pid names no process now
  const stale = path.join(dir, `mgie-uploads-${exited}-AbC123`);
  const live = path.join(dir, `mgie-uploads-${process.ppid}-XyZ789`);
  const mine = path.join(dir, `mgie-uploads-${process.pid}-Mine00`);
  const unrelated = path.join(dir, 'something-else');
  for (const folder of [stale, live, mine, unrelated]) {
    await mkdir(folder);
    await writeFile(path.join(folder, 'a.upload'), 'image bytes');
  }
  const spool = new UploadSpool({ ...DEFAULT_SERVER_OPTIONS.uploadSpool, dir });
  assert.deepEqual(await spool.sweepStaleAsync(), [stale]);
  assert.deepEqual((await readdir(dir)).sort(), [path.basename(live), path.basename(mine), 'something-else'].sort());
});
