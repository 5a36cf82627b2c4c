// The companion server over real sockets: a listening server on a free port with the tiny bundle,
// real WebSocket clients, real edits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { startTestServerAsync, TEST_TOKEN, TestClient } from '../helpers/test-server.ts';
import { makeTestUsersAsync } from '../helpers/test-users.ts';

const quick = { steps: 3, size: 64 };
let photo: Buffer;
const photoAsync = async () => (photo ??= await samplePhotoAsync(96, 64));

test('the whole edit flow: hello, accepted, started, stages, instruction, steps, previews, result', async (t) => {
  const { wsUrl } = await startTestServerAsync(t, { previewIntervalMs: 0 });
  const client = await TestClient.connectAsync(t, wsUrl, { clientId: 'designer-one' });
  // 1. hello with protocol version, limits and the model
  const hello = await client.waitForJson('hello');
  assert.equal(hello.protocol, 2);
  assert.equal(hello.clientId, 'designer-one');
  assert.equal(hello.model.name, 'mgie-tiny');
  assert.ok(hello.limits.maxImageBytes > 0 && hello.limits.maxSteps > 0);

  client.submit({ clientJobId: 'c1', instruction: 'make it look like autumn', parameters: { steps: 4, size: 64, seed: 42 }, previews: true }, await photoAsync());
  // 2. accepted with a job id and position 0 (nothing else queued)
  const accepted = await client.waitForJson('accepted');
  assert.equal(accepted.clientJobId, 'c1');
  assert.equal(accepted.position, 0);
  // 3..6 started, stages, the expressive instruction, steps, then the result as a binary frame
  const result = await client.waitForResult(accepted.jobId);
  assert.equal(result.header.clientJobId, 'c1');
  assert.equal(result.header.parameters.seed, 42);
  assert.equal(typeof result.header.expressiveInstruction, 'string');
  assert.deepEqual([result.header.width, result.header.height], [96, 64]);
  const meta = await sharp(result.payload).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 96, 64]);

  const types = client.received.map((r) => (r.kind === 'json' ? r.message.type : r.header.type));
  const order = ['accepted', 'started', 'stage', 'instruction', 'step', 'result'].map((type) => types.indexOf(type));
  assert.deepEqual([...order].sort((a, b) => a - b), order, `event order: ${types.join(',')}`);
  assert.deepEqual(client.jsonOfType('step').map((s) => s.step), [1, 2, 3, 4]);
  assert.ok(client.jsonOfType('tokens').length > 0);
  const previews = client.received.filter((r) => r.kind === 'binary' && r.header.type === 'preview');
  assert.ok(previews.length > 0, 'previews for a client that asked');
  assert.equal((await sharp((previews[0] as { payload: Uint8Array }).payload).metadata()).format, 'jpeg');
  // 96x64 at 64: the image is 64x43 on a 64x64 canvas; the preview shows its latent cells (8x6, twice), not the padding
  assert.deepEqual([(previews[0] as { header: any }).header.width, (previews[0] as { header: any }).header.height], [16, 12]);
});

test('no previews for a client that did not ask', async (t) => {
  const { wsUrl } = await startTestServerAsync(t, { previewIntervalMs: 0 });
  const client = await TestClient.connectAsync(t, wsUrl);
  client.submit({ clientJobId: 'c1', instruction: 'add snow', parameters: quick }, await photoAsync());
  const { jobId } = await client.waitForJson('accepted');
  await client.waitForResult(jobId);
  assert.equal(client.received.filter((r) => r.kind === 'binary' && r.header.type === 'preview').length, 0);
});

test('jobs of different users interleave round-robin', async (t) => {
  const users = await makeTestUsersAsync(t, ['anna', 'bert']);
  const { wsUrl } = await startTestServerAsync(t, { usersFile: users.usersFile });
  const a = await TestClient.connectAsync(t, wsUrl, { clientId: 'client-aaaa', token: users.tokens.anna });
  const b = await TestClient.connectAsync(t, wsUrl, { clientId: 'client-bbbb', token: users.tokens.bert });
  const image = await photoAsync();
  // A queues three (the first starts at once and runs long enough for the rest to queue), then B one.
  a.submit({ clientJobId: 'a1', instruction: 'make the frame red', parameters: { steps: 40, size: 128, seed: 1 } }, image);
  await a.waitForJson('accepted', (m) => m.clientJobId === 'a1');
  a.submit({ clientJobId: 'a2', instruction: 'make the frame red', parameters: { ...quick, seed: 2 } }, image);
  a.submit({ clientJobId: 'a3', instruction: 'make the frame red', parameters: { ...quick, seed: 3 } }, image);
  await a.waitForJson('accepted', (m) => m.clientJobId === 'a3');
  b.submit({ clientJobId: 'b1', instruction: 'give him a beard', parameters: { ...quick, seed: 4 } }, image);
  const b1 = await b.waitForJson('accepted');
  assert.equal(b1.position, 1, 'A has had its turn (a1 runs): B\'s first job is next');
  await b.waitForJson('started');
  assert.equal(a.jsonOfType('started').length, 1, 'A\'s second job starts after B\'s');
  const a3 = a.jsonOfType('accepted').find((m) => m.clientJobId === 'a3');
  await a.waitForResult(a3.jobId, 30_000);
  assert.ok(a.jsonOfType('position').some((p) => p.jobId === a3.jobId && p.position === 3), 'A\'s last job moved back behind B');
});

test('cancel a queued job and a running job; the running one stops within one model run', async (t) => {
  const { wsUrl } = await startTestServerAsync(t);
  const client = await TestClient.connectAsync(t, wsUrl);
  const image = await photoAsync();
  client.submit({ clientJobId: 'long', instruction: 'turn the day into night', parameters: { steps: 200, size: 256, seed: 1 } }, image);
  client.submit({ clientJobId: 'queued', instruction: 'turn the day into night', parameters: quick }, image);
  const running = await client.waitForJson('accepted', (m) => m.clientJobId === 'long');
  const queued = await client.waitForJson('accepted', (m) => m.clientJobId === 'queued');
  client.sendJson({ type: 'cancel', jobId: queued.jobId });
  await client.waitForJson('cancelled', (m) => m.jobId === queued.jobId);
  await client.waitForJson('step', (m) => m.jobId === running.jobId);
  const cancelledAt = Date.now();
  client.sendJson({ type: 'cancel', jobId: running.jobId });
  await client.waitForJson('cancelled', (m) => m.jobId === running.jobId);
  assert.ok(Date.now() - cancelledAt < 2000, 'the running edit stopped promptly');
  assert.equal(client.received.filter((r) => r.kind === 'binary').length, 0, 'no result for cancelled jobs');
});

test('another user cannot cancel your job', async (t) => {
  const users = await makeTestUsersAsync(t, ['other']);
  const { wsUrl } = await startTestServerAsync(t, { usersFile: users.usersFile });
  const owner = await TestClient.connectAsync(t, wsUrl, { clientId: 'owner-1234' });
  const other = await TestClient.connectAsync(t, wsUrl, { clientId: 'other-1234', token: users.tokens.other });
  owner.submit({ clientJobId: 'mine', instruction: 'remove the text', parameters: { steps: 20, size: 128 } }, await photoAsync());
  const { jobId } = await owner.waitForJson('accepted');
  other.sendJson({ type: 'cancel', jobId });
  const refused = await other.waitForJson('error');
  assert.equal(refused.code, 'MGIE_ERR_FORBIDDEN');
  await owner.waitForResult(jobId);
  assert.equal(owner.jsonOfType('cancelled').length, 0);
});

test('a missing or wrong token, a foreign Host and a foreign Origin are refused; Origin null is fine', async (t) => {
  const { wsUrl, httpUrl, port } = await startTestServerAsync(t);
  await assert.rejects(TestClient.connectAsync(t, wsUrl, { token: null }), { statusCode: 401 });
  await assert.rejects(TestClient.connectAsync(t, wsUrl, { token: 'wrong-token-wrong-token' }), { statusCode: 401 });
  await assert.rejects(TestClient.connectAsync(t, wsUrl, { headers: { host: `attacker.example:${port}` } }), { statusCode: 403 });
  await assert.rejects(TestClient.connectAsync(t, wsUrl, { headers: { origin: 'https://evil.example' } }), { statusCode: 403 });
  const plugin = await TestClient.connectAsync(t, wsUrl, { headers: { origin: 'null' } });
  assert.equal((await plugin.waitForJson('hello')).protocol, 2);
  // a browser passes the token in the query string
  const browser = await TestClient.connectAsync(t, `${wsUrl}?token=${TEST_TOKEN}`, { token: null });
  await browser.waitForJson('hello');

  assert.equal((await fetch(`${httpUrl}/v1/info`)).status, 401);
  const info = await fetch(`${httpUrl}/v1/info`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
  assert.equal(info.status, 200);
  const { model } = await info.json();
  assert.equal(model.name, 'mgie-tiny');
  // how the provider was chosen travels with it (the test server loads on the CPU, as asked)
  assert.deepEqual({ provider: model.provider, providers: model.providers }, { provider: 'cpu', providers: { requested: 'cpu', chosen: 'cpu', notChosen: [] } });
  assert.equal((await fetch(`${httpUrl}/healthz`)).status, 200);
  const body = await (await fetch(`${httpUrl}/v1/info`, { headers: { authorization: 'Bearer nope' } })).json();
  assert.equal(body.code, 'MGIE_ERR_UNAUTHORIZED');
  assert.match(body.message, /paste your token/);
});

test('oversize frames close the connection; oversize and bomb images, garbage frames get errors and the connection lives on', async (t) => {
  const { wsUrl } = await startTestServerAsync(t, { maxImageBytes: 200_000, limits: { ...(await import('../../companion-server/engine/image/image-limits.ts')).DEFAULT_LIMITS, maxInputPixels: 100 * 100 } });
  const client = await TestClient.connectAsync(t, wsUrl);
  await client.waitForJson('hello');
  client.socket.send('this is not json');
  assert.equal((await client.waitForJson('error')).code, 'MGIE_ERR_BAD_MESSAGE');
  client.sendJson({ type: 'launch-missiles' });
  await client.waitFor((r) => r.kind === 'json' && r.message.type === 'error' && /Unknown or malformed/.test(r.message.message));
  client.socket.send(Buffer.from([0, 0, 0, 200, 1, 2, 3]));
  await client.waitFor((r) => r.kind === 'json' && r.message.type === 'error' && /runs past the frame/.test(r.message.message));
  client.submit({ clientJobId: 'x', instruction: '' }, await photoAsync());
  await client.waitFor((r) => r.kind === 'json' && r.message.type === 'error' && /Submit header rejected/.test(r.message.message));
  // pixel limit, checked from the header before the job is queued
  client.submit({ clientJobId: 'big', instruction: 'add snow' }, await samplePhotoAsync(200, 200));
  const tooLarge = await client.waitForJson('error', (m) => m.clientJobId === 'big');
  assert.equal(tooLarge.code, 'MGIE_ERR_IMAGE_TOO_LARGE');
  client.submit({ clientJobId: 'not-image', instruction: 'add snow' }, Buffer.from('GIF89a garbage'));
  assert.equal((await client.waitForJson('error', (m) => m.clientJobId === 'not-image')).code, 'MGIE_ERR_BAD_IMAGE');
  client.submit({ clientJobId: 'bad-steps', instruction: 'add snow', parameters: { steps: 100000 } }, await photoAsync());
  assert.equal((await client.waitForJson('error', (m) => m.clientJobId === 'bad-steps')).code, 'MGIE_ERR_BAD_PARAMETER');
  client.submit({ clientJobId: 'blank', instruction: '   ', parameters: quick }, await photoAsync());
  const blank = await client.waitForJson('error', (m) => m.clientJobId === 'blank');
  assert.equal(blank.code, 'MGIE_ERR_BAD_PARAMETER');
  assert.equal(client.jsonOfType('accepted').length, 0, 'nothing bad was queued');
  client.sendJson({ type: 'ping', id: 7 });
  assert.equal((await client.waitForJson('pong')).id, 7);
  // a frame beyond the WebSocket limit closes the connection (1009: message too big)
  client.socket.send(Buffer.alloc(400_000));
  await new Promise((resolve) => client.socket.once('close', resolve));
  assert.equal(client.closeCode, 1009);
});

test('a slow reader does not hold up others, and gets its result when it reads again', async (t) => {
  const { wsUrl } = await startTestServerAsync(t, { previewIntervalMs: 0 });
  const slow = await TestClient.connectAsync(t, wsUrl, { clientId: 'slow-reader' });
  const fast = await TestClient.connectAsync(t, wsUrl, { clientId: 'fast-reader' });
  await slow.waitForJson('hello');
  const image = await photoAsync();
  slow.submit({ clientJobId: 's', instruction: 'add snow', parameters: { steps: 10, size: 64 }, previews: true }, image);
  const { jobId: slowJob } = await slow.waitForJson('accepted');
  (slow.socket as any)._socket.pause(); // stop reading
  fast.submit({ clientJobId: 'f', instruction: 'add rain', parameters: quick }, image);
  const { jobId: fastJob } = await fast.waitForJson('accepted');
  await fast.waitForResult(fastJob);
  (slow.socket as any)._socket.resume();
  await slow.waitForResult(slowJob);
});

test('a client that reconnects re-attaches to its running job and gets results that finished while away', async (t) => {
  const { wsUrl } = await startTestServerAsync(t);
  const image = await photoAsync();
  const first = await TestClient.connectAsync(t, wsUrl, { clientId: 'roaming-designer' });
  first.submit({ clientJobId: 'r1', instruction: 'make more brightness', parameters: { steps: 60, size: 128 } }, image);
  first.submit({ clientJobId: 'r2', instruction: 'make more brightness', parameters: quick }, image);
  const r1 = await first.waitForJson('accepted', (m) => m.clientJobId === 'r1');
  const r2 = await first.waitForJson('accepted', (m) => m.clientJobId === 'r2');
  await first.waitForJson('step', (m) => m.jobId === r1.jobId);
  first.socket.close();
  await new Promise((resolve) => first.socket.once('close', resolve));

  // Back while r1 runs: both jobs are announced again, then both results arrive.
  const second = await TestClient.connectAsync(t, wsUrl, { clientId: 'roaming-designer' });
  const again = await second.waitForJson('accepted', (m) => m.jobId === r1.jobId);
  assert.equal(again.clientJobId, 'r1');
  await second.waitForJson('started', (m) => m.jobId === r1.jobId);
  await second.waitForJson('accepted', (m) => m.jobId === r2.jobId);
  await second.waitForResult(r1.jobId);
  await second.waitForResult(r2.jobId);

  // Away while a job finishes: the result is delivered on reconnect.
  second.submit({ clientJobId: 'r3', instruction: 'darken the image', parameters: quick }, image);
  const r3 = await second.waitForJson('accepted', (m) => m.clientJobId === 'r3');
  second.socket.close();
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const third = await TestClient.connectAsync(t, wsUrl, { clientId: 'roaming-designer' });
  const delivered = await third.waitForResult(r3.jobId);
  assert.equal(delivered.header.clientJobId, 'r3');
});

test('shutdown while busy: clients are told, the running edit finishes or is cancelled within the grace', async (t) => {
  const { wsUrl, server } = await startTestServerAsync(t, { shutdownGraceMs: 300 });
  const client = await TestClient.connectAsync(t, wsUrl);
  const image = await photoAsync();
  client.submit({ clientJobId: 'busy', instruction: 'make it look like autumn', parameters: { steps: 200, size: 256 } }, image);
  client.submit({ clientJobId: 'waiting', instruction: 'make it look like autumn', parameters: quick }, image);
  const busy = await client.waitForJson('accepted', (m) => m.clientJobId === 'busy');
  await client.waitForJson('step', (m) => m.jobId === busy.jobId);
  const started = Date.now();
  await server.closeAsync();
  assert.ok(Date.now() - started < 5000);
  assert.ok(client.jsonOfType('shutdown').length === 1);
  const waiting = client.jsonOfType('accepted').find((m) => m.clientJobId === 'waiting');
  assert.ok(client.jsonOfType('cancelled').some((m) => m.jobId === waiting.jobId), 'the waiting job was cancelled');
  assert.ok(client.jsonOfType('error').some((m) => m.jobId === busy.jobId && m.code === 'MGIE_ERR_SHUTTING_DOWN'), 'the running job was stopped after the grace');
});

test('readiness stays false until the model is attached; edits are refused meanwhile', async (t) => {
  const { httpUrl, wsUrl, server } = await startTestServerAsync(t, {}, { attach: false });
  assert.equal((await fetch(`${httpUrl}/readyz`)).status, 503);
  assert.equal((await fetch(`${httpUrl}/healthz`)).status, 200);
  const client = await TestClient.connectAsync(t, wsUrl);
  client.submit({ clientJobId: 'early', instruction: 'add snow' }, await photoAsync());
  assert.equal((await client.waitForJson('error')).code, 'MGIE_ERR_NOT_READY');
  const { tinyPipelineAsync } = await import('../helpers/test-server.ts');
  server.attachPipeline(await tinyPipelineAsync());
  assert.equal((await fetch(`${httpUrl}/readyz`)).status, 200);
});

test('POST /v1/edits: PNG in, PNG out with the expressive instruction and seed in headers; JSON errors', async (t) => {
  const { httpUrl } = await startTestServerAsync(t);
  const auth = { authorization: `Bearer ${TEST_TOKEN}` };
  const response = await fetch(`${httpUrl}/v1/edits?instruction=${encodeURIComponent('make it look like autumn')}&seed=9&steps=3&size=64&guidance=7&imageGuidance=1.5`, {
    method: 'POST',
    headers: { ...auth, 'content-type': 'image/png' },
    body: new Uint8Array(await photoAsync()),
  });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'image/png');
  assert.equal(response.headers.get('x-mgie-seed'), '9');
  assert.equal(typeof decodeURIComponent(response.headers.get('x-mgie-expressive-instruction')!), 'string');
  const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
  assert.deepEqual([meta.width, meta.height], [96, 64]);

  const bad = await fetch(`${httpUrl}/v1/edits?instruction=x`, { method: 'POST', headers: { ...auth, 'content-type': 'image/png' }, body: new TextEncoder().encode('not an image') });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).code, 'MGIE_ERR_BAD_IMAGE');
  const badSeed = await fetch(`${httpUrl}/v1/edits?instruction=x&seed=abc`, { method: 'POST', headers: { ...auth, 'content-type': 'image/png' }, body: new Uint8Array(await photoAsync()) });
  assert.equal((await badSeed.json()).code, 'MGIE_ERR_BAD_PARAMETER');
  const noToken = await fetch(`${httpUrl}/v1/edits?instruction=x`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: new Uint8Array(await photoAsync()) });
  assert.equal(noToken.status, 401);
});

test('size mode native: over the WebSocket and in the query; over the edit size limit refused before it waits in line', async (t) => {
  const { httpUrl, wsUrl } = await startTestServerAsync(t);
  const client = await TestClient.connectAsync(t, wsUrl);
  client.submit({ clientJobId: 'n', instruction: 'add snow', parameters: { steps: 2, sizeMode: 'native' } }, await photoAsync());
  const { jobId } = await client.waitForJson('accepted');
  const { header } = await client.waitForResult(jobId);
  assert.equal(header.parameters.sizeMode, 'native');
  assert.deepEqual([header.width, header.height], [96, 64]);

  const post = async (query: string, image: Buffer) =>
    fetch(`${httpUrl}/v1/edits?instruction=x&steps=1&${query}`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'image/png' }, body: new Uint8Array(image) });
  assert.equal((await post('sizeMode=native', await photoAsync())).status, 200);
  const started = performance.now();
  const tooLarge = await post('sizeMode=native', await samplePhotoAsync(1100, 300));
  assert.equal(tooLarge.status, 413);
  const body = await tooLarge.json();
  assert.equal(body.code, 'MGIE_ERR_IMAGE_TOO_LARGE');
  assert.match(body.message, /1100x300 pixels; size mode "native" .* Use size mode "fit"/);
  assert.ok(performance.now() - started < 2000, 'refused from the header, no model run');
  const unknown = await post('sizeMode=stretch', await photoAsync());
  assert.equal(unknown.status, 400);
  assert.match((await unknown.json()).message, /sizeMode must be one of fit, native, got "stretch"/);
});

test('the pre-queue instruction check counts characters (code points), not UTF-16 units', async (t) => {
  const { httpUrl } = await startTestServerAsync(t);
  const image = new Uint8Array(await photoAsync());
  const post = (instruction: string) =>
    fetch(`${httpUrl}/v1/edits?instruction=${encodeURIComponent(instruction)}&seed=1&steps=1&size=64`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'image/png' },
      body: image,
    });
  // 1000 emoji: 2000 UTF-16 units, 1000 characters, within the limit.
  const accepted = await post('🍂'.repeat(1000));
  assert.equal(accepted.status, 200, await accepted.clone().text());
  const refused = await post('🍂'.repeat(1001));
  assert.equal(refused.status, 400);
  assert.match((await refused.json()).message, /The instruction is 1001 characters long; the limit is 1000/);
});

test('metrics: queue depth, wait and run durations, jobs by outcome, model load time', async (t) => {
  const { httpUrl, wsUrl } = await startTestServerAsync(t);
  const client = await TestClient.connectAsync(t, wsUrl);
  client.submit({ clientJobId: 'm', instruction: 'add snow', parameters: quick }, await photoAsync());
  const { jobId } = await client.waitForJson('accepted');
  await client.waitForResult(jobId);
  assert.equal((await fetch(`${httpUrl}/metrics`)).status, 401);
  const text = await (await fetch(`${httpUrl}/metrics`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).text();
  assert.match(text, /^mgie_queue_depth 0$/m);
  // per user: the single token is the built-in user "default"
  assert.match(text, /^mgie_jobs_total\{outcome="succeeded",user="default"\} 1$/m);
  assert.match(text, /^mgie_job_wait_seconds_count\{user="default"\} 1$/m);
  assert.match(text, /^mgie_job_run_seconds_count\{user="default"\} 1$/m);
  assert.match(text, /^mgie_model_load_seconds \d/m);
});

test('an HTTP upload over the size limit gets MGIE_ERR_IMAGE_TOO_LARGE in our error shape', async (t) => {
  const { httpUrl } = await startTestServerAsync(t, { maxImageBytes: 10_000 });
  const response = await fetch(`${httpUrl}/v1/edits?instruction=x`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'image/png' },
    body: new Uint8Array(50_000),
  });
  assert.equal(response.status, 413);
  assert.equal((await response.json()).code, 'MGIE_ERR_IMAGE_TOO_LARGE');
});

test('TLS with a certificate and key: HTTPS and WSS', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const { mkdtemp, readFile, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const path = await import('node:path');
  const https = await import('node:https');
  const dir = await mkdtemp(path.join(tmpdir(), 'mgie-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  } catch {
    t.skip('openssl is not installed, so no test certificate can be made');
    return;
  }
  const tls = { cert: await readFile(path.join(dir, 'cert.pem')), key: await readFile(path.join(dir, 'key.pem')) };
  const { port } = await startTestServerAsync(t, { tls });
  const status = await new Promise<number>((resolve, reject) => https.get({ host: '127.0.0.1', port, path: '/healthz', rejectUnauthorized: false }, (res) => resolve(res.statusCode ?? 0)).on('error', reject));
  assert.equal(status, 200);
  const WebSocket = (await import('ws')).default;
  const socket = new WebSocket(`wss://127.0.0.1:${port}/v1/ws`, { headers: { authorization: `Bearer ${TEST_TOKEN}` }, rejectUnauthorized: false });
  t.after(() => socket.terminate());
  const hello = await new Promise<any>((resolve, reject) => {
    socket.once('message', (data) => resolve(JSON.parse(String(data))));
    socket.once('error', reject);
  });
  assert.equal(hello.type, 'hello');
});
