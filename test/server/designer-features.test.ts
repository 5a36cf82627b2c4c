// The designer features over the wire (issue 13): expressive instruction, mask, variations and chains in
// `submit`, on a real server with the tiny bundle, real WebSocket clients and real edits.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import sharp from 'sharp';
import { encodeSubmitFrame, type SubmitHeader } from '../../companion-server/protocol/messages.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { startTestServerAsync, TEST_TOKEN, TestClient } from '../helpers/test-server.ts';

const quick = { steps: 3, size: 64, seed: 7 };
let photo: Buffer;
const photoAsync = async () => (photo ??= await samplePhotoAsync(96, 64));
const solidPngAsync = (width: number, height: number, grey: number) => sharp({ create: { width, height, channels: 3, background: { r: grey, g: grey, b: grey } } }).png().toBuffer();
const rawRgbAsync = async (png: Uint8Array) => sharp(png).removeAlpha().raw().toBuffer();

type Submit = Omit<SubmitHeader, 'type' | 'maskBytes'>;

function submit(client: TestClient, header: Submit, image: Uint8Array, mask?: Uint8Array): void {
  client.socket.send(encodeSubmitFrame({ type: 'submit', ...header }, image, mask));
}

/** Submits and waits for the job's result (the last one for jobs with several); returns every result of the job. */
async function runJobAsync(client: TestClient, header: Submit, image: Uint8Array, mask?: Uint8Array): Promise<{ jobId: string; results: Array<{ header: any; payload: Uint8Array }> }> {
  const from = client.received.length;
  submit(client, header, image, mask);
  const accepted = await client.waitFor((r) => r.kind === 'json' && r.message.type === 'accepted' && r.message.clientJobId === header.clientJobId, 60_000, from);
  const { jobId } = (accepted as { message: any }).message;
  const isLast = (h: any) => h.of === undefined || h.variation === h.of || h.chainStep === h.of;
  await client.waitFor((r) => r.kind === 'binary' && r.header.type === 'result' && r.header.jobId === jobId && isLast(r.header), 60_000, from);
  const results = client.received.filter((r) => r.kind === 'binary' && r.header.type === 'result' && r.header.jobId === jobId) as Array<{ header: any; payload: Uint8Array }>;
  return { jobId, results };
}

/** Submits a frame that must fail before queuing; returns its error. */
async function refusedAsync(client: TestClient, clientJobId: string, send: () => void): Promise<{ code: string; message: string }> {
  const from = client.received.length;
  send();
  const error = (await client.waitFor((r) => r.kind === 'json' && r.message.type === 'error' && r.message.clientJobId === clientJobId, 20_000, from)) as { message: any };
  assert.equal(client.received.slice(from).filter((r) => r.kind === 'json' && r.message.type === 'accepted').length, 0, 'refused before it was queued');
  return error.message;
}

async function connectAsync(t: TestContext, overrides = {}) {
  const server = await startTestServerAsync(t, overrides);
  const client = await TestClient.connectAsync(t, server.wsUrl);
  await client.waitForJson('hello');
  return { ...server, client };
}

test('a given expressive instruction: the result reports it as given, and the same seed and text give the same PNG', async (t) => {
  const { client } = await connectAsync(t);
  const text = 'The leaves turn orange and red.';
  const first = await runJobAsync(client, { clientJobId: 'e1', instruction: 'make it autumn', expressiveInstruction: text, parameters: quick }, await photoAsync());
  const [result] = first.results;
  assert.equal(result.header.expressiveInstruction, text);
  assert.equal(result.header.expressiveInstructionSource, 'given');
  assert.equal(result.header.masked, false);
  assert.equal(result.header.cached, false);
  assert.deepEqual(client.jsonOfType('instruction').filter((m) => m.jobId === first.jobId).map((m) => m.text), [text]);
  assert.equal(client.jsonOfType('tokens').filter((m) => m.jobId === first.jobId).length, 0, 'nothing generated');

  const again = await runJobAsync(client, { clientJobId: 'e2', instruction: 'make it autumn', expressiveInstruction: text, parameters: quick }, await photoAsync());
  assert.equal(again.results[0].header.cached, false, 'no cache on this server: a second real edit');
  assert.deepEqual(Buffer.from(again.results[0].payload), Buffer.from(result.payload));

  const generated = await runJobAsync(client, { clientJobId: 'e3', instruction: 'make it autumn', parameters: quick }, await photoAsync());
  assert.equal(generated.results[0].header.expressiveInstructionSource, 'model');
  assert.notDeepEqual(Buffer.from(generated.results[0].payload), Buffer.from(result.payload), 'the given text conditions the edit');
});

test('an all-black mask keeps every pixel of the input; the result says it was masked', async (t) => {
  const { client } = await connectAsync(t);
  const image = await photoAsync();
  const { results } = await runJobAsync(client, { clientJobId: 'm1', instruction: 'add snow', parameters: quick }, image, await solidPngAsync(96, 64, 0));
  assert.equal(results.length, 1);
  assert.equal(results[0].header.masked, true);
  assert.equal(results[0].header.expressiveInstructionSource, 'model');
  assert.deepEqual(await rawRgbAsync(results[0].payload), await rawRgbAsync(image));
  // a mask at twice the size (a 2x export) has the image's proportions and is accepted
  const twice = await runJobAsync(client, { clientJobId: 'm2', instruction: 'add snow', parameters: quick }, image, await solidPngAsync(192, 128, 0));
  assert.deepEqual(await rawRgbAsync(twice.results[0].payload), await rawRgbAsync(image));
});

test('with the result cache, a masked edit is not answered with the unmasked one (the mask is part of the key)', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mgie-cache-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { client } = await connectAsync(t, { cache: { dir, maxBytes: 50 * 2 ** 20 } });
  const image = await photoAsync();
  const plain = await runJobAsync(client, { clientJobId: 'c1', instruction: 'add snow', parameters: quick }, image);
  const masked = await runJobAsync(client, { clientJobId: 'c2', instruction: 'add snow', parameters: quick }, image, await solidPngAsync(96, 64, 0));
  assert.equal(masked.results[0].header.cached, false);
  assert.deepEqual(await rawRgbAsync(masked.results[0].payload), await rawRgbAsync(image));
  assert.notDeepEqual(Buffer.from(masked.results[0].payload), Buffer.from(plain.results[0].payload));
  const maskedAgain = await runJobAsync(client, { clientJobId: 'c3', instruction: 'add snow', parameters: quick }, image, await solidPngAsync(96, 64, 0));
  assert.equal(maskedAgain.results[0].header.cached, true);
  assert.equal(maskedAgain.results[0].header.masked, true);
  const given = await runJobAsync(client, { clientJobId: 'c4', instruction: 'add snow', expressiveInstruction: 'Snow on everything.', parameters: quick }, image);
  assert.equal(given.results[0].header.cached, false, 'a given expressive instruction is part of the key');
});

test('variations: one result message per variation, seeds s, s+1, s+2, the first the plain edit', async (t) => {
  const { client } = await connectAsync(t);
  const image = await photoAsync();
  const plain = await runJobAsync(client, { clientJobId: 'p', instruction: 'add snow', parameters: quick }, image);
  const { results } = await runJobAsync(client, { clientJobId: 'v', instruction: 'add snow', parameters: quick, variations: 3 }, image);
  assert.deepEqual(results.map((r) => [r.header.variation, r.header.of, r.header.seed]), [[1, 3, 7], [2, 3, 8], [3, 3, 9]]);
  assert.ok(results.every((r) => r.header.clientJobId === 'v' && r.header.parameters.seed === 7));
  assert.deepEqual(Buffer.from(results[0].payload), Buffer.from(plain.results[0].payload));
  assert.notDeepEqual(Buffer.from(results[1].payload), Buffer.from(results[0].payload));
  const second = await runJobAsync(client, { clientJobId: 'p8', instruction: 'add snow', parameters: { ...quick, seed: 8 } }, image);
  assert.deepEqual(Buffer.from(results[1].payload), Buffer.from(second.results[0].payload), 'variation 2 is the edit seed + 1 gives');
});

test('a 2-step chain: chain-step messages, the step 1 result, then the final result (the edit of step 1\'s picture)', async (t) => {
  const { client } = await connectAsync(t);
  const { jobId, results } = await runJobAsync(client, { clientJobId: 'ch', instruction: 'add snow', chain: ['make it night'], parameters: quick }, await photoAsync());
  assert.deepEqual(client.jsonOfType('chain-step').filter((m) => m.jobId === jobId).map((m) => [m.step, m.of, m.instruction]), [[1, 2, 'add snow'], [2, 2, 'make it night']]);
  assert.deepEqual(results.map((r) => [r.header.chainStep, r.header.of, r.header.instruction]), [[1, 2, 'add snow'], [2, 2, 'make it night']]);
  assert.ok(results.every((r) => typeof r.header.expressiveInstruction === 'string' && r.header.expressiveInstructionSource === 'model'));
  const types = client.received.filter((r) => (r.kind === 'json' ? r.message.jobId : r.header.jobId) === jobId).map((r) => (r.kind === 'json' ? r.message.type : `${r.header.type}${r.header.chainStep ?? ''}`));
  assert.ok(types.indexOf('result1') < types.lastIndexOf('chain-step') && types.lastIndexOf('chain-step') < types.indexOf('result2'), types.join(','));
  // step 2 is exactly the plain edit of step 1's picture
  const step2 = await runJobAsync(client, { clientJobId: 's2', instruction: 'make it night', parameters: quick }, results[0].payload);
  assert.deepEqual(Buffer.from(results[1].payload), Buffer.from(step2.results[0].payload));
});

test('bad masks and bad combinations are refused before the job waits in line, saying what to do', async (t) => {
  const { client } = await connectAsync(t, { maxImageBytes: 100_000 });
  const image = await photoAsync();
  const base = { instruction: 'add snow', parameters: quick };
  const square = await solidPngAsync(64, 64, 0);
  let error = await refusedAsync(client, 'b1', () => submit(client, { ...base, clientJobId: 'b1' }, image, square));
  assert.equal(error.code, 'MGIE_ERR_BAD_PARAMETER');
  assert.match(error.message, /mask is 64x64 pixels but the image is 96x64.*same proportions/);
  error = await refusedAsync(client, 'b2', () => submit(client, { ...base, clientJobId: 'b2' }, image, Buffer.from('not an image at all')));
  assert.equal(error.code, 'MGIE_ERR_BAD_PARAMETER');
  assert.match(error.message, /^The mask: /);
  error = await refusedAsync(client, 'b3', () => submit(client, { ...base, clientJobId: 'b3' }, image, Buffer.alloc(100_001)));
  assert.equal(error.code, 'MGIE_ERR_IMAGE_TOO_LARGE');
  assert.match(error.message, /mask is 0\.1 MB; the limit is 0 MB/);
  // maskBytes that do not leave room for an image
  error = await refusedAsync(client, 'b4', () => client.socket.send(encodeSubmitFrame({ type: 'submit', ...base, clientJobId: 'b4', maskBytes: 10 } as never, Buffer.alloc(10))));
  assert.equal(error.code, 'MGIE_ERR_BAD_MESSAGE');
  assert.match(error.message, /maskBytes is 10 but the payload has 10 bytes/);
  error = await refusedAsync(client, 'b5', () => submit(client, { ...base, clientJobId: 'b5', chain: ['make it night'], variations: 2 }, image));
  assert.match(error.message, /variations are for one edit, not a chain/);
  error = await refusedAsync(client, 'b6', () => submit(client, { ...base, clientJobId: 'b6', chain: ['make it night'], expressiveInstruction: 'Snow.' }, image));
  assert.match(error.message, /expressiveInstruction is for one edit/);
  error = await refusedAsync(client, 'b7', () => submit(client, { ...base, clientJobId: 'b7', chain: ['x'.repeat(1001)] }, image));
  assert.equal(error.code, 'MGIE_ERR_BAD_PARAMETER');
  assert.match(error.message, /^Instruction 2 of the chain: /);
  error = await refusedAsync(client, 'b8', () => submit(client, { ...base, clientJobId: 'b8', variations: 9 }, image));
  assert.equal(error.code, 'MGIE_ERR_BAD_MESSAGE');
  assert.match(error.message, /variations/);
  error = await refusedAsync(client, 'b9', () => submit(client, { ...base, clientJobId: 'b9', expressiveInstruction: 'Snow [IMG0] here.' }, image));
  assert.equal(error.code, 'MGIE_ERR_BAD_PARAMETER');
  assert.match(error.message, /reserved token "\[IMG0\]"/);
  // and the connection still edits
  const { results } = await runJobAsync(client, { ...base, clientJobId: 'ok' }, image);
  assert.equal(results.length, 1);
});

/** The parts of a multipart/mixed answer: each part's headers (lower-case names) and bytes. */
function multipartParts(contentType: string, body: Buffer): Array<{ headers: Record<string, string>; bytes: Buffer }> {
  const boundary = /boundary=([^;]+)/.exec(contentType)?.[1];
  assert.ok(boundary, contentType);
  const parts: Array<{ headers: Record<string, string>; bytes: Buffer }> = [];
  let at = body.indexOf(`--${boundary}\r\n`);
  while (at >= 0) {
    const headEnd = body.indexOf('\r\n\r\n', at);
    const headers = Object.fromEntries(
      body.subarray(at, headEnd).toString().split('\r\n').slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
    );
    const length = Number(headers['content-length']);
    parts.push({ headers, bytes: body.subarray(headEnd + 4, headEnd + 4 + length) });
    const next = headEnd + 4 + length + 2;
    at = body.subarray(next).toString('latin1').startsWith(`--${boundary}--`) ? -1 : body.indexOf(`--${boundary}\r\n`, next);
  }
  return parts;
}

test('POST /v1/edits: expressive=TEXT, variations=N and a chain (instruction repeated) answer multipart/mixed, a mask after the image with maskBytes', async (t) => {
  const { httpUrl } = await startTestServerAsync(t);
  const post = (query: string, body?: Uint8Array) =>
    photoAsync().then((photo) => fetch(`${httpUrl}/v1/edits?${query}`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'image/png' }, body: new Uint8Array(body ?? photo) }));
  const text = 'Snow covers the ground.';
  const response = await post(`instruction=add%20snow&seed=7&steps=3&size=64&expressive=${encodeURIComponent(text)}`);
  assert.equal(response.status, 200);
  assert.equal(decodeURIComponent(response.headers.get('x-mgie-expressive-instruction')!), text);
  assert.equal(response.headers.get('x-mgie-expressive-instruction-source'), 'given');
  const png = Buffer.from(await response.arrayBuffer());
  assert.equal((await sharp(png).metadata()).format, 'png');
  const plain = await post('instruction=add%20snow&seed=7&steps=3&size=64');
  assert.equal(plain.headers.get('x-mgie-expressive-instruction-source'), 'model');
  const plainPng = Buffer.from(await plain.arrayBuffer());

  const variations = await post('instruction=add%20snow&seed=7&steps=3&size=64&variations=3');
  assert.equal(variations.status, 200);
  assert.match(variations.headers.get('content-type')!, /^multipart\/mixed; boundary=/);
  const parts = multipartParts(variations.headers.get('content-type')!, Buffer.from(await variations.arrayBuffer()));
  assert.deepEqual(parts.map((part) => [part.headers['content-type'], part.headers['x-mgie-variation'], part.headers['x-mgie-seed']]), [['image/png', '1/3', '7'], ['image/png', '2/3', '8'], ['image/png', '3/3', '9']]);
  assert.deepEqual(parts[0].bytes, plainPng, 'variation 1 is the plain edit');

  const chain = await post('instruction=add%20snow&instruction=make%20it%20night&seed=7&steps=3&size=64');
  assert.equal(chain.status, 200);
  const steps = multipartParts(chain.headers.get('content-type')!, Buffer.from(await chain.arrayBuffer()));
  assert.deepEqual(steps.map((part) => [part.headers['x-mgie-chain-step'], decodeURIComponent(part.headers['x-mgie-instruction'])]), [['1/2', 'add snow'], ['2/2', 'make it night']]);
  assert.deepEqual(steps[0].bytes, plainPng, 'step 1 is the plain edit');

  const photo = await photoAsync();
  const black = await solidPngAsync(96, 64, 0);
  const masked = await post(`instruction=add%20snow&seed=7&steps=3&size=64&maskBytes=${black.length}`, Buffer.concat([photo, black]));
  assert.equal(masked.status, 200);
  assert.deepEqual(await rawRgbAsync(Buffer.from(await masked.arrayBuffer())), await rawRgbAsync(photo), 'an all-black mask keeps every pixel');

  for (const [query, pattern] of [
    ['instruction=a&expressive=x&expressive=y', /expressive was given 2 times/],
    ['instruction=a&variations=two', /variations must be a whole number/],
    [`instruction=a&maskBytes=${photo.length + 10}`, /maskBytes.*send the image and then the mask/],
    ['instruction=a&variations=2&instruction=b', /variations are for one edit, not a chain/],
  ] as const) {
    const refused = await post(query);
    assert.equal(refused.status, 400, query);
    const body = (await refused.json()) as { code: string; message: string };
    assert.equal(body.code, 'MGIE_ERR_BAD_PARAMETER');
    assert.match(body.message, pattern);
  }
});

test('a client away while its variations and chain steps finish gets every one of them when it reconnects, in order', async (t) => {
  const { wsUrl } = await startTestServerAsync(t);
  const first = await TestClient.connectAsync(t, wsUrl, { clientId: 'designer-away-1' });
  await first.waitForJson('hello');
  const image = await photoAsync();
  submit(first, { clientJobId: 'v', instruction: 'add snow', parameters: { steps: 30, size: 64, seed: 3 }, variations: 2 }, image);
  submit(first, { clientJobId: 'c', instruction: 'add snow', parameters: { steps: 30, size: 64, seed: 3 }, chain: ['make it night'] }, image);
  const [v, c] = await Promise.all(['v', 'c'].map((id) => first.waitForJson('accepted', (m) => m.clientJobId === id)));
  first.socket.close();
  const observer = await TestClient.connectAsync(t, wsUrl); // another client, to know when both jobs are done
  await observer.waitForJson('hello');
  const back = await (async () => {
    // wait for the jobs to end: a plain job submitted after them finishes after them
    await runJobAsync(observer, { clientJobId: 'after', instruction: 'add snow', parameters: quick }, image);
    return TestClient.connectAsync(t, wsUrl, { clientId: 'designer-away-1' });
  })();
  await back.waitFor((r) => r.kind === 'binary' && r.header.jobId === c.jobId && r.header.chainStep === 2);
  const results = back.received.filter((r) => r.kind === 'binary' && r.header.type === 'result').map((r) => (r as { header: any }).header);
  assert.deepEqual(results.map((h) => [h.jobId === v.jobId ? 'v' : 'c', h.variation ?? h.chainStep]), [['v', 1], ['v', 2], ['c', 1], ['c', 2]]);
});
