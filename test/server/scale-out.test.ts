// Scale-out on Redis with real processes: a private redis-server, two `mgie serve --queue` fronts and two
// `mgie worker`s on the tiny bundle, real WebSocket clients. What the protocol promises must hold across
// processes: delivery through any front, cancellation, a killed worker's job retried, a restarted front,
// fairness between owners on different fronts, Redis restarting.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { type Front, RedisProcess, redisMissingReason, type RunningProcess, type ScaleOutEnv, startFrontAsync, startWorkerAsync } from '../helpers/scale-out-processes.ts';
import { Redis } from 'ioredis';
import { QueueStore } from '../../companion-server/server/scale-out/queue-store.ts';
import { runMgieAsync } from '../helpers/run-mgie.ts';
import { startTestServerAsync, TEST_TOKEN, TestClient } from '../helpers/test-server.ts';
import { addUserAsync } from '../../companion-server/server/user-tokens.ts';
import { encodeSubmitFrame } from '../../companion-server/protocol/messages.ts';

const skip = redisMissingReason() ?? false;
let redis: RedisProcess;
let env: ScaleOutEnv;
let frontA: Front;
let frontB: Front;
const workers: RunningProcess[] = [];
let image: Buffer;
let seed = 1000;
/** Designers with tokens of their own (mgie token add), in the config folder every front reads: owners are users. */
const tokens: Record<string, string> = {};

/** Short jobs take well under a second on the tiny bundle; long ones tens of seconds (to cancel or kill them). */
const SHORT = { steps: 2, size: 64 };
const MEDIUM = { steps: 40, size: 192 };
const LONG = { steps: 200, size: 256 };

async function readyAsync(front: Front, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await fetch(`${front.httpUrl}/readyz`).then((r) => r.status, () => 0)) !== 200) {
    if (Date.now() > deadline) throw new Error(`front on ${front.port} not ready:\n${front.process.output.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

before(async () => {
  if (skip) return;
  redis = await RedisProcess.startAsync({ persist: true });
  env = { redisUrl: redis.url, configDir: await mkdtemp(path.join(tmpdir(), 'mgie-scale-config-')), lockMs: 2000 };
  for (const name of ['ana', 'ben']) tokens[name] = (await addUserAsync(env.configDir, name)).token;
  [frontA, frontB] = await Promise.all([startFrontAsync(env), startFrontAsync(env)]);
  workers.push(...(await Promise.all([startWorkerAsync(env), startWorkerAsync(env)])));
  await Promise.all([readyAsync(frontA), readyAsync(frontB)]);
  image = await sharp({ create: { width: 96, height: 64, channels: 3, background: '#3a7bd5' } }).png().toBuffer();
});

after(async () => {
  if (skip) return;
  await Promise.all([frontA, frontB].filter(Boolean).map((front) => front.process.stopAsync('SIGKILL')));
  await Promise.all(workers.map((worker) => worker.stopAsync('SIGKILL')));
  await redis?.destroyAsync();
  await rm(env.configDir, { recursive: true, force: true });
});

function kinds(client: TestClient, jobId: string): string[] {
  return client.received
    .filter((r) => (r.kind === 'json' ? r.message.jobId === jobId : r.header.jobId === jobId))
    .map((r) => (r.kind === 'json' ? r.message.type : `binary:${r.header.type}`));
}

async function submitAsync(client: TestClient, parameters: object, extra: { previews?: boolean; instruction?: string } = {}): Promise<string> {
  const clientJobId = `c${seed}`;
  client.submit({ clientJobId, instruction: extra.instruction ?? 'add snow', parameters: { ...parameters, seed: seed++ }, previews: extra.previews ?? false }, image);
  const accepted = await client.waitForJson('accepted', (m) => m.clientJobId === clientJobId);
  return accepted.jobId;
}

test('an edit submitted on a front runs on a worker and reaches its owner with every event, the same result as in-process', { skip }, async (t) => {
  const client = await TestClient.connectAsync(t, frontA.wsUrl, { clientId: 'designer-core-1' });
  const hello = await client.waitForJson('hello');
  assert.equal(hello.model.name, 'mgie-tiny', 'the model comes from the workers registrations');
  // a bad parameter is refused by the front before the edit waits in line, as in-process
  client.submit({ clientJobId: 'too-many-steps', instruction: 'add snow', parameters: { steps: 500 } }, image);
  const refused = await client.waitForJson('error', (m) => m.clientJobId === 'too-many-steps');
  assert.equal(refused.code, 'MGIE_ERR_BAD_PARAMETER');
  assert.match(refused.message, /steps must be a whole number from 1 to 200/);
  assert.equal(client.jsonOfType('accepted').length, 0);
  const parameters = { steps: 3, size: 64, seed: 7 };
  client.submit({ clientJobId: 'core', instruction: 'make it autumn', parameters, previews: true }, image);
  const accepted = await client.waitForJson('accepted', (m) => m.clientJobId === 'core');
  const result = await client.waitForResult(accepted.jobId, 60_000);
  // 1. accepted, 2. started, 3. stages, tokens and the expressive instruction, 4. steps (and a preview), 5. the result
  const sequence = kinds(client, accepted.jobId);
  assert.equal(sequence[0], 'accepted');
  assert.equal(sequence[1], 'started');
  for (const type of ['stage', 'tokens', 'instruction', 'step']) assert.ok(sequence.includes(type), `${type} reached the client: ${sequence.join(',')}`);
  assert.ok(sequence.includes('binary:preview'), 'a preview JPEG reached the client');
  assert.equal(sequence.at(-1), 'binary:result');
  assert.ok(sequence.indexOf('instruction') < sequence.indexOf('step'), 'the expressive instruction comes before diffusion');

  // The same edit on an in-process server gives the same PNG and expressive instruction: the worker runs the same code.
  const local = await startTestServerAsync(t);
  const reference = await TestClient.connectAsync(t, local.wsUrl);
  await reference.waitForJson('hello');
  reference.submit({ clientJobId: 'core', instruction: 'make it autumn', parameters }, image);
  const localJob = await reference.waitForJson('accepted');
  const localResult = await reference.waitForResult(localJob.jobId, 60_000);
  assert.equal(result.header.expressiveInstruction, localResult.header.expressiveInstruction);
  assert.deepEqual(Buffer.from(result.payload), Buffer.from(localResult.payload));

  // /v1/info and /metrics on the other front: the model, and per-worker figures
  const info = await (await fetch(`${frontB.httpUrl}/v1/info`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).json();
  assert.equal(info.model.name, 'mgie-tiny');
  assert.equal(info.ready, true);
  // workers report through heartbeats and fronts poll them every second: wait for the figures to arrive
  let metrics = '';
  for (let tries = 0; tries < 50 && !/mgie_worker_jobs\{worker="[^"]+",outcome="succeeded"\} [1-9]/.test(metrics); tries++) {
    if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    metrics = await (await fetch(`${frontA.httpUrl}/metrics`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).text();
  }
  assert.match(metrics, /mgie_workers_alive 2/);
  assert.match(metrics, /mgie_worker_jobs\{worker="[^"]+",outcome="succeeded"\} [1-9]/);
  assert.match(metrics, /mgie_owner_jobs_total\{owner="default",outcome="succeeded"\} [1-9]/); // the single token's user

  // POST /v1/edits through a front: the PNG comes back in the response
  const response = await fetch(`${frontB.httpUrl}/v1/edits?instruction=add%20snow&steps=2&size=64&seed=${seed++}`, { method: 'POST', body: new Uint8Array(image), headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'image/png' } });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'image/png');
  assert.equal((await sharp(Buffer.from(await response.arrayBuffer())).metadata()).format, 'png');
});

test('the designer features travel through Redis: a mask, an expressive instruction, variations and a chain run on a worker as in-process', { skip }, async (t) => {
  const client = await TestClient.connectAsync(t, frontA.wsUrl, { clientId: 'designer-features-1' });
  await client.waitForJson('hello');
  const results = async (clientJobId: string, extra: object, mask?: Buffer) => {
    client.socket.send(encodeSubmitFrame({ type: 'submit', clientJobId, instruction: 'add snow', parameters: { ...SHORT, seed: 77 }, ...extra }, image, mask));
    const accepted = await client.waitForJson('accepted', (m) => m.clientJobId === clientJobId, 30_000);
    const isLast = (h: any) => h.of === undefined || h.variation === h.of || h.chainStep === h.of;
    await client.waitFor((r) => r.kind === 'binary' && r.header.type === 'result' && r.header.jobId === accepted.jobId && isLast(r.header), 60_000);
    return { jobId: accepted.jobId as string, results: client.received.filter((r) => r.kind === 'binary' && r.header.type === 'result' && r.header.jobId === accepted.jobId) as Array<{ header: any; payload: Uint8Array }> };
  };
  const raw = (png: Uint8Array) => sharp(png).removeAlpha().raw().toBuffer();

  const black = await sharp({ create: { width: 96, height: 64, channels: 3, background: '#000' } }).png().toBuffer();
  const masked = await results('f-mask', {}, black);
  assert.equal(masked.results[0].header.masked, true);
  assert.deepEqual(await raw(masked.results[0].payload), await raw(image), 'an all-black mask keeps every pixel');

  const text = 'Snow covers everything.';
  const given = await results('f-expressive', { expressiveInstruction: text });
  assert.equal(given.results[0].header.expressiveInstruction, text);
  assert.equal(given.results[0].header.expressiveInstructionSource, 'given');

  const variations = await results('f-variations', { variations: 2 });
  assert.deepEqual(variations.results.map((r) => [r.header.variation, r.header.of, r.header.seed]), [[1, 2, 77], [2, 2, 78]]);

  const chain = await results('f-chain', { chain: ['make it night'] });
  assert.deepEqual(chain.results.map((r) => [r.header.chainStep, r.header.of, r.header.instruction]), [[1, 2, 'add snow'], [2, 2, 'make it night']]);
  assert.deepEqual(client.jsonOfType('chain-step').filter((m) => m.jobId === chain.jobId).map((m) => m.step), [1, 2]);

  // what the front can check without a model is still refused before queuing
  client.socket.send(encodeSubmitFrame({ type: 'submit', clientJobId: 'f-bad', instruction: 'add snow', parameters: SHORT, variations: 2, chain: ['x'] }, image));
  const refused = await client.waitForJson('error', (m) => m.clientJobId === 'f-bad');
  assert.equal(refused.code, 'MGIE_ERR_BAD_PARAMETER');
  assert.match(refused.message, /variations are for one edit, not a chain/);

  // over HTTP a front answers one picture: several results are refused, saying what to do
  const http = await fetch(`${frontA.httpUrl}/v1/edits?instruction=add%20snow&steps=2&size=64&variations=2`, { method: 'POST', body: new Uint8Array(image), headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'image/png' } });
  assert.equal(http.status, 400);
  assert.match(((await http.json()) as { message: string }).message, /over the WebSocket only.*seed, seed \+ 1/);
});

test('the rate limit per user holds across fronts: a burst spread over two fronts is cut at the capacity, not at twice it', { skip }, async (t) => {
  const { token } = await addUserAsync(env.configDir, 'cai');
  const connect = async (front: Front) => {
    for (const deadline = Date.now() + 10_000; ; ) {
      try {
        const client = await TestClient.connectAsync(t, front.wsUrl, { token });
        await client.waitForJson('hello');
        return client;
      } catch (error) {
        if (Date.now() > deadline) throw error; // the fronts read users.json again within a moment
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  };
  const [onA, onB] = [await connect(frontA), await connect(frontB)];
  // Submits that fail their checks still spend a token (the limit comes first), and cost no queue place.
  const codes: string[] = [];
  for (let i = 0; i < 24; i++) {
    const client = i % 2 === 0 ? onA : onB;
    const clientJobId = `rate-${i}`;
    client.submit({ clientJobId, instruction: '   ', parameters: SHORT }, image);
    codes.push((await client.waitForJson('error', (m) => m.clientJobId === clientJobId)).code);
  }
  // the default capacity is 20 (then 1 per second): the rest of the burst is refused on both fronts
  assert.deepEqual(codes.slice(0, 20), Array(20).fill('MGIE_ERR_BAD_PARAMETER'));
  assert.ok(codes.slice(20).filter((code) => code === 'MGIE_ERR_RATE_LIMITED').length >= 3, codes.slice(20).join(', '));
});

test('cancelling a waiting job and a running one: both end cancelled, the running one stops within a model run', { skip }, async (t) => {
  const client = await TestClient.connectAsync(t, frontB.wsUrl, { clientId: 'designer-cancel-1' });
  await client.waitForJson('hello');
  // two long jobs occupy both workers, the third waits
  const first = await submitAsync(client, LONG);
  const second = await submitAsync(client, LONG);
  await client.waitForJson('step', (m) => m.jobId === first, 60_000);
  await client.waitForJson('started', (m) => m.jobId === second, 60_000);
  const third = await submitAsync(client, LONG);
  assert.equal(kinds(client, third).includes('started'), false);

  client.sendJson({ type: 'cancel', jobId: third });
  await client.waitForJson('cancelled', (m) => m.jobId === third, 10_000);

  const asked = Date.now();
  client.sendJson({ type: 'cancel', jobId: first });
  await client.waitForJson('cancelled', (m) => m.jobId === first, 10_000);
  const took = Date.now() - asked;
  assert.ok(took < 5000, `the running job stopped ${took} ms after the cancel`);
  client.sendJson({ type: 'cancel', jobId: second });
  await client.waitForJson('cancelled', (m) => m.jobId === second, 10_000);
  for (const jobId of [first, second, third]) assert.equal(kinds(client, jobId).includes('binary:result'), false);

  // someone else's job cannot be cancelled, an unknown one is reported
  const other = await TestClient.connectAsync(t, frontA.wsUrl, { clientId: 'designer-cancel-2', token: tokens.ben });
  await other.waitForJson('hello');
  const mine = await submitAsync(client, SHORT);
  other.sendJson({ type: 'cancel', jobId: mine });
  const refused = await other.waitForJson('error', (m) => m.jobId === mine);
  assert.ok(['MGIE_ERR_FORBIDDEN', 'MGIE_ERR_NOT_FOUND'].includes(refused.code));
  await client.waitForResult(mine, 30_000);
});

test('a worker killed (SIGKILL) mid-job: another worker runs the job again and the designer gets the result', { skip }, async (t) => {
  const client = await TestClient.connectAsync(t, frontA.wsUrl, { clientId: 'designer-kill-1' });
  await client.waitForJson('hello');
  const jobId = await submitAsync(client, MEDIUM);
  await client.waitForJson('step', (m) => m.jobId === jobId, 60_000);
  const victim = workers.find((worker) => worker.output.includes(`"jobId":"${jobId}"`));
  assert.ok(victim, 'a worker logged the job');
  await victim.stopAsync('SIGKILL');
  workers.splice(workers.indexOf(victim), 1);

  const result = await client.waitForResult(jobId, 90_000);
  assert.equal(result.header.jobId, jobId);
  assert.equal(client.jsonOfType('started').filter((m) => m.jobId === jobId).length, 2, "'started' again when the retry starts");
  assert.equal(client.jsonOfType('error').length, 0);
  workers.push(await startWorkerAsync(env));
});

test('a front restarted while its client\'s job runs: the client reconnects and gets its result', { skip }, async (t) => {
  const clientId = 'designer-restart-1';
  const client = await TestClient.connectAsync(t, frontA.wsUrl, { clientId });
  await client.waitForJson('hello');
  const jobId = await submitAsync(client, MEDIUM);
  await client.waitForJson('started', (m) => m.jobId === jobId, 60_000);
  await frontA.process.stopAsync('SIGKILL');
  frontA = await startFrontAsync(env, frontA.port);

  const again = await TestClient.connectAsync(t, frontA.wsUrl, { clientId });
  await again.waitForJson('hello');
  const result = await again.waitForResult(jobId, 90_000);
  assert.equal(result.header.jobId, jobId);
  // delivered means forgotten: connecting once more (to the other front) brings nothing again
  const third = await TestClient.connectAsync(t, frontB.wsUrl, { clientId });
  await third.waitForJson('hello');
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(third.received.filter((r) => r.kind === 'binary').length, 0);
});

test('fairness holds across fronts: a second owner waits at most one round behind a busy one', { skip }, async (t) => {
  const busy = await TestClient.connectAsync(t, frontA.wsUrl, { clientId: 'designer-busy-1', token: tokens.ana });
  const newcomer = await TestClient.connectAsync(t, frontB.wsUrl, { clientId: 'designer-newcomer', token: tokens.ben });
  await Promise.all([busy.waitForJson('hello'), newcomer.waitForJson('hello')]);
  const busyJobs: string[] = [];
  for (let i = 0; i < 5; i++) busyJobs.push(await submitAsync(busy, MEDIUM));
  const theirs = await submitAsync(newcomer, MEDIUM);
  const startedAt = new Map<string, number>();
  const watch = (client: TestClient, jobId: string) => client.waitForJson('started', (m) => m.jobId === jobId, 120_000).then(() => startedAt.set(jobId, Date.now()));
  await Promise.all([...busyJobs.map((jobId) => watch(busy, jobId)), watch(newcomer, theirs)]);
  const order = [...startedAt].sort((a, b) => a[1] - b[1]).map(([jobId]) => jobId);
  // Two workers: the busy owner's first two start at once; the newcomer's goes no later than the third place after them.
  assert.ok(order.indexOf(theirs) <= 3, `the newcomer's job started ${order.indexOf(theirs) + 1}th of 6`);
  assert.ok(order.indexOf(theirs) < order.indexOf(busyJobs[4]), "ahead of the busy owner's last job (FIFO would put it last)");
  const position = newcomer.jsonOfType('accepted').find((m) => m.jobId === theirs).position;
  assert.ok(position <= 2, `the newcomer was told position ${position}`);
  // the busy owner's waiting jobs were told their new places as the line moved
  assert.ok(busy.jsonOfType('position').some((m) => m.jobId === busyJobs[4]), 'position updates for a waiting job');
  for (const jobId of busyJobs) await busy.waitForResult(jobId, 120_000);
  await newcomer.waitForResult(theirs, 60_000);
});

test('Redis stopping and starting again: processes survive, clients are told, new edits are refused, then work', { skip }, async (t) => {
  const client = await TestClient.connectAsync(t, frontB.wsUrl, { clientId: 'designer-redis-1' });
  await client.waitForJson('hello');
  await redis.stopAsync();
  const notice = await client.waitForJson('error', (m) => m.code === 'MGIE_ERR_QUEUE_UNAVAILABLE', 15_000);
  assert.match(notice.message, /Redis/);
  client.submit({ clientJobId: 'while-down', instruction: 'add snow', parameters: { ...SHORT, seed: seed++ } }, image);
  const refused = await client.waitForJson('error', (m) => m.clientJobId === 'while-down');
  assert.equal(refused.code, 'MGIE_ERR_QUEUE_UNAVAILABLE');
  assert.equal((await fetch(`${frontB.httpUrl}/healthz`)).status, 200);
  assert.equal((await fetch(`${frontB.httpUrl}/readyz`)).status, 503);
  await new Promise((resolve) => setTimeout(resolve, 1500));

  await redis.restartAsync();
  await Promise.all([readyAsync(frontA), readyAsync(frontB)]);
  const jobId = await submitAsync(client, SHORT);
  const result = await client.waitForResult(jobId, 60_000);
  assert.equal(result.header.jobId, jobId);
  for (const process of [frontA.process, frontB.process, ...workers]) {
    assert.ok(process.alive, `${process.name} still runs`);
    assert.doesNotMatch(process.output, /Unhandled|uncaught|UnhandledPromiseRejection/i, `${process.name} handled every Redis error`);
  }
});

test('limits and byte budgets hold in Redis: per owner and in total across fronts, uploads refused past the budget, results push out the oldest', { skip }, async (t) => {
  const connection = new Redis(redis.url);
  t.after(() => connection.disconnect());
  const store = new QueueStore(connection, `budget-${Date.now()}`);
  const admit = (jobId: string, owner: string) => store.admitAsync({ jobId, owner, clientId: owner, clientJobId: jobId }, { perOwner: 2, total: 3 }, 60_000);
  assert.deepEqual(await admit('j1', 'ana'), [1, 1]);
  assert.deepEqual(await admit('j2', 'ana'), [2, 2]);
  assert.equal((await admit('j3', 'ana'))[0], -2, "over the owner's limit");
  // a second owner's first job is tagged with the current round: ahead of ana's second
  assert.deepEqual(await admit('j4', 'ben'), [1, 2]);
  assert.equal((await admit('j5', 'cleo'))[0], -1, 'over the total limit');
  assert.equal(await store.startAsync('j1', 'w'), 'run');
  assert.deepEqual(await admit('j5', 'cleo'), [2, 3], 'a start frees a place; the virtual clock moved to 1');
  assert.equal(await store.cancelAsync('j2', 'ben'), 'forbidden');
  assert.equal(await store.cancelAsync('j2', 'ana'), 'queued');
  assert.equal(await store.startAsync('j2', 'w'), 'skip', 'a worker skips a job cancelled while waiting');
  assert.equal(await store.cancelAsync('j1', 'ana'), 'running');
  assert.equal(await store.startAsync('j1', 'w'), 'cancelled', 'a retry of a job cancelled while running ends cancelled');

  const kib = new Uint8Array(1024);
  assert.equal(await store.putBlobAsync('images', 'budget:a', kib, 60_000, 2048, 'refuse'), true);
  assert.equal(await store.putBlobAsync('images', 'budget:b', kib, 60_000, 2048, 'refuse'), true);
  assert.equal(await store.putBlobAsync('images', 'budget:c', kib, 60_000, 2048, 'refuse'), false, 'refused past the budget');
  await store.deleteBlobAsync('images', 'budget:a');
  assert.equal(await store.putBlobAsync('images', 'budget:c', kib, 60_000, 2048, 'refuse'), true, 'a deleted image frees its bytes');
  assert.equal(await store.blobBytesAsync('images'), 2048);
  await store.putBlobAsync('results', 'budget:r1', kib, 60_000, 2048, 'evict');
  await store.putBlobAsync('results', 'budget:r2', kib, 61_000, 2048, 'evict');
  await store.putBlobAsync('results', 'budget:r3', kib, 62_000, 2048, 'evict');
  assert.equal(await store.getBlobAsync('budget:r1'), null, 'the oldest result went');
  assert.ok(await store.getBlobAsync('budget:r3'));
  await store.putBlobAsync('images', 'budget:short', new Uint8Array(10), 1, 1_000_000, 'refuse');
  await new Promise((resolve) => setTimeout(resolve, 20));
  await store.putBlobAsync('images', 'budget:d', new Uint8Array(10), 60_000, 1_000_000, 'refuse');
  assert.equal(await store.blobBytesAsync('images'), 2058, 'an expired image no longer counts');
});

test('mgie worker and mgie serve --queue: a missing or malformed --queue is a usage error (exit 2)', async () => {
  const missing = await runMgieAsync(['worker']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /mgie worker needs --queue redis:\/\/HOST:PORT/);
  const malformed = await runMgieAsync(['serve', '--queue', 'http://127.0.0.1:6379']);
  assert.equal(malformed.code, 2);
  assert.match(malformed.stderr, /--queue must be a Redis URL like redis:\/\/HOST:6379/);
  const help = await runMgieAsync(['worker', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: mgie worker --queue/);
});

test('SIGTERM: a front and an idle worker leave cleanly (exit 0), and the worker unregisters at once', { skip }, async () => {
  const front = await startFrontAsync(env);
  const worker = await startWorkerAsync(env);
  const alive = async (): Promise<number> => {
    const metrics = await (await fetch(`${front.httpUrl}/metrics`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).text();
    return Number(/mgie_workers_alive (\d+)/.exec(metrics)?.[1]);
  };
  const deadline = Date.now() + 10_000;
  while ((await alive()) !== workers.length + 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(await alive(), workers.length + 1);
  await worker.stopAsync('SIGTERM');
  assert.equal(worker.exitCode, 0);
  // gone from the registrations now, not only once its heartbeat is stale
  const gone = Date.now() + 3000;
  while ((await alive()) !== workers.length && Date.now() < gone) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(await alive(), workers.length);
  await front.process.stopAsync('SIGTERM');
  assert.equal(front.process.exitCode, 0);
});
