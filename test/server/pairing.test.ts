// Pairing without a terminal path, against a real listening server: the plugin asks to pair, the code
// appears only where the server's terminal would show it, and the right code gets the designer a token
// of their own in users.json, the same store as `mgie token add` (listed and revoked by real `mgie
// token` processes).
import assert from 'node:assert/strict';
import http from 'node:http';
import { type TestContext, test } from 'node:test';
import { parseServeOptions } from '../../companion-server/cli/parse-serve-options.ts';
import { PAIRING_CODE_ALPHABET } from '../../companion-server/server/pairing/pairing-code.ts';
import type { PairingOptions } from '../../companion-server/server/server-options.ts';
import { codeOnTerminal, startPairingServerAsync } from '../helpers/pairing-server.ts';
import { runMgieAsync } from '../helpers/run-mgie.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { type TestServer, TestClient } from '../helpers/test-server.ts';

async function pairingServerAsync(t: TestContext, pairing: Partial<PairingOptions> = {}, listen: { listenHost?: string; allowedHosts?: string[] } = {}) {
  return startPairingServerAsync(t, pairing, { listenHost: listen.listenHost, overrides: listen.allowedHosts ? { allowedHosts: listen.allowedHosts } : {} });
}

/**
 * As the plugin sends it: a CORS "simple" request (text/plain) from the iframe's `null` origin. Over
 * node:http, because fetch drops a Host header, which the proxy and rebinding cases need to set.
 */
function postAsync(server: TestServer, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string; json: any }> {
  const data = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = http.request(`${server.httpUrl}${path}`, { method: 'POST', headers: { origin: 'null', 'content-type': 'text/plain;charset=UTF-8', 'content-length': Buffer.byteLength(data), ...headers } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => {
        const answerHeaders = new Headers();
        for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') answerHeaders.set(name, value);
        resolve({ status: response.statusCode!, headers: answerHeaders, text, json: JSON.parse(text) });
      });
    });
    request.on('error', reject);
    request.end(data);
  });
}

/** A code that is not `code`, from the same alphabet. */
function anotherCode(code: string): string {
  const first = PAIRING_CODE_ALPHABET[(PAIRING_CODE_ALPHABET.indexOf(code[0]) + 1) % PAIRING_CODE_ALPHABET.length];
  return first + code.slice(1);
}

async function waitUntilAsync(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('pairing end to end: the code shows only on the terminal; the right code gives a token of her own that works over HTTP and the WebSocket, once; mgie token lists and revokes it', async (t) => {
  const server = await pairingServerAsync(t);
  // 1. the plugin asks to pair with the name the designer typed
  const asked = await postAsync(server, '/v1/pair', { name: 'Anna Müller' });
  assert.equal(asked.status, 202, asked.text);
  assert.equal(asked.headers.get('access-control-allow-origin'), 'null', 'the plugin iframe can read the answer');
  assert.match(asked.json.pairingId, /^[A-Za-z0-9_-]{22}$/);
  assert.deepEqual([asked.json.expiresInSeconds, asked.json.codeLength], [300, 6]);
  // 2. the terminal shows who asks, from where, and the code
  assert.equal(server.terminal.length, 1);
  assert.match(server.terminal[0], /Pairing request from "Anna Müller" \(127\.0\.0\.1, Origin null\): code [0-9A-Z]{3}-[0-9A-Z]{3} — type it in the plugin/);
  const code = codeOnTerminal(server.terminal);
  assert.ok(![...code.replace('-', '')].some((c) => '01OILU'.includes(c)), `no look-alike characters in ${code}`);
  // 3. never in the HTTP answer, in any form
  for (const form of [code, code.replace('-', '')]) {
    assert.ok(!asked.text.includes(form), 'the code is not in the body');
    assert.ok(![...asked.headers.values()].some((value) => value.includes(form)), 'nor in a header');
  }
  // 4. typed as a person might (lower case, a space for the dash)
  const confirmed = await postAsync(server, '/v1/pair/confirm', { pairingId: asked.json.pairingId, code: code.toLowerCase().replace('-', ' ') });
  assert.equal(confirmed.status, 200, confirmed.text);
  assert.equal(confirmed.headers.get('access-control-allow-origin'), 'null');
  assert.equal(confirmed.json.user, 'anna-muller');
  const token: string = confirmed.json.token;
  assert.match(token, /^[A-Za-z0-9_-]{43}$/, 'a token like mgie token add makes');
  assert.match(server.terminal.at(-1)!, /Paired: "Anna Müller" is now user anna-muller/);

  // 5. the token works at once, over HTTP and the WebSocket
  const info = await fetch(`${server.httpUrl}/v1/info`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(info.status, 200);
  assert.equal((await info.json()).user, 'anna-muller');
  const edit = await fetch(`${server.httpUrl}/v1/edits?instruction=add%20fog&steps=2&size=64`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'image/png' }, body: new Uint8Array(await samplePhotoAsync(96, 64)) });
  assert.equal(edit.status, 200, await edit.clone().text());
  assert.equal(edit.headers.get('content-type'), 'image/png');
  const client = await TestClient.connectAsync(t, server.wsUrl, { token });
  assert.equal((await client.waitForJson('hello')).user, 'anna-muller');

  // 6. a code works once
  const again = await postAsync(server, '/v1/pair/confirm', { pairingId: asked.json.pairingId, code });
  assert.deepEqual([again.status, again.json.code], [410, 'MGIE_ERR_PAIRING_EXPIRED']);

  // 7. the admin sees her with mgie token list, and takes the token back with mgie token revoke
  const listed = await runMgieAsync(['token', 'list', '--json', '--config-dir', server.users.configDir]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.deepEqual(JSON.parse(listed.stdout).users.map((user: { name: string }) => user.name), ['anna-muller']);
  const revoked = await runMgieAsync(['token', 'revoke', 'anna-muller', '--config-dir', server.users.configDir]);
  assert.equal(revoked.code, 0, revoked.stderr);
  await waitUntilAsync(() => client.closeCode !== undefined, 'her connection closes');
  assert.equal(client.closeCode, 4001);
  assert.equal((await fetch(`${server.httpUrl}/v1/info`, { headers: { authorization: `Bearer ${token}` } })).status, 401);
});

test('a second designer with the same name gets a user of their own (anna, then anna-2)', async (t) => {
  const server = await pairingServerAsync(t);
  const names: string[] = [];
  for (let i = 0; i < 2; i++) {
    const asked = await postAsync(server, '/v1/pair', { name: 'Anna' });
    const confirmed = await postAsync(server, '/v1/pair/confirm', { pairingId: asked.json.pairingId, code: codeOnTerminal(server.terminal) });
    assert.equal(confirmed.status, 200, confirmed.text);
    names.push(confirmed.json.user);
  }
  assert.deepEqual(names, ['anna', 'anna-2']);
});

test('a wrong code says "try again" with the tries left, and the right one still works; the code is in no answer', async (t) => {
  const server = await pairingServerAsync(t);
  const asked = await postAsync(server, '/v1/pair', { name: 'Bert' });
  const code = codeOnTerminal(server.terminal);
  const wrong = await postAsync(server, '/v1/pair/confirm', { pairingId: asked.json.pairingId, code: anotherCode(code) });
  assert.deepEqual([wrong.status, wrong.json.code, wrong.json.triesLeft], [401, 'MGIE_ERR_PAIRING_CODE_WRONG', 4]);
  assert.match(wrong.json.message, /try again \(4 tries left\)/);
  assert.ok(!wrong.text.includes(code) && !wrong.text.includes(code.replace('-', '')));
  const right = await postAsync(server, '/v1/pair/confirm', { pairingId: asked.json.pairingId, code });
  assert.equal(right.status, 200, right.text);
  assert.equal(right.json.user, 'bert');
});

test('five wrong codes cancel the request: even the right code is refused after that', async (t) => {
  const server = await pairingServerAsync(t);
  const asked = await postAsync(server, '/v1/pair', { name: 'Mallory' });
  const code = codeOnTerminal(server.terminal);
  const answers = [];
  for (let i = 0; i < 5; i++) answers.push(await postAsync(server, '/v1/pair/confirm', { pairingId: asked.json.pairingId, code: anotherCode(code) }));
  assert.deepEqual(
    answers.map((answer) => [answer.status, answer.json.triesLeft ?? null]),
    [[401, 4], [401, 3], [401, 2], [401, 1], [410, null]],
  );
  assert.match(answers[4].json.message, /Too many wrong codes.*Pair again/);
  const right = await postAsync(server, '/v1/pair/confirm', { pairingId: asked.json.pairingId, code });
  assert.deepEqual([right.status, right.json.code], [410, 'MGIE_ERR_PAIRING_EXPIRED']);
  const listed = await runMgieAsync(['token', 'list', '--json', '--config-dir', server.users.configDir]);
  assert.deepEqual(JSON.parse(listed.stdout).users, [], 'no user was added');
});

test('an expired code is refused with "Pair again"', async (t) => {
  const server = await pairingServerAsync(t, { codeTtlMs: 300 });
  const asked = await postAsync(server, '/v1/pair', { name: 'Carl' });
  const code = codeOnTerminal(server.terminal);
  await new Promise((resolve) => setTimeout(resolve, 400));
  const late = await postAsync(server, '/v1/pair/confirm', { pairingId: asked.json.pairingId, code });
  assert.deepEqual([late.status, late.json.code], [410, 'MGIE_ERR_PAIRING_EXPIRED']);
  assert.match(late.json.message, /expired.*Pair again/);
});

test('a team box (listening on 0.0.0.0) does not pair without --allow-pairing, and pairs with it; --no-pairing turns it off on loopback too', async (t) => {
  const teamBox = await pairingServerAsync(t, {}, { listenHost: '0.0.0.0' });
  const refused = await postAsync(teamBox, '/v1/pair', { name: 'Dora' });
  assert.deepEqual([refused.status, refused.json.code], [403, 'MGIE_ERR_PAIRING_DISABLED']);
  assert.match(refused.json.message, /--allow-pairing/);
  assert.equal(refused.headers.get('access-control-allow-origin'), 'null', 'the plugin can read why');
  assert.equal((await postAsync(teamBox, '/v1/pair/confirm', { pairingId: 'x', code: 'ABCDEF' })).status, 403);
  assert.deepEqual(teamBox.terminal, [], 'nothing printed');

  const approved = await pairingServerAsync(t, { mode: 'on' }, { listenHost: '0.0.0.0' });
  const asked = await postAsync(approved, '/v1/pair', { name: 'Dora' });
  assert.equal(asked.status, 202, asked.text);
  const confirmed = await postAsync(approved, '/v1/pair/confirm', { pairingId: asked.json.pairingId, code: codeOnTerminal(approved.terminal) });
  assert.equal(confirmed.json.user, 'dora');

  const off = await pairingServerAsync(t, { mode: 'off' });
  const turnedOff = await postAsync(off, '/v1/pair', { name: 'Dora' });
  assert.deepEqual([turnedOff.status, turnedOff.json.code], [403, 'MGIE_ERR_PAIRING_DISABLED']);
  assert.match(turnedOff.json.message, /--no-pairing/);

  assert.equal(parseServeOptions([], {}).pairing, 'auto');
  assert.equal(parseServeOptions(['--allow-pairing'], {}).pairing, 'on');
  assert.equal(parseServeOptions(['--no-pairing'], {}).pairing, 'off');
  assert.throws(() => parseServeOptions(['--allow-pairing', '--no-pairing'], {}), /contradict/);
});

test('a loopback server reached through a proxy (a public Host name, X-Forwarded-For) does not pair by default', async (t) => {
  const server = await pairingServerAsync(t, {}, { allowedHosts: ['gpu-box.example.com'] });
  const viaName = await postAsync(server, '/v1/pair', { name: 'Eve' }, { host: 'gpu-box.example.com' });
  assert.deepEqual([viaName.status, viaName.json.code], [403, 'MGIE_ERR_PAIRING_DISABLED']);
  const forwarded = await postAsync(server, '/v1/pair', { name: 'Eve' }, { 'x-forwarded-for': '203.0.113.7' });
  assert.deepEqual([forwarded.status, forwarded.json.code], [403, 'MGIE_ERR_PAIRING_DISABLED']);
  assert.deepEqual(server.terminal, []);
});

test('the same Host and Origin guards as the rest of the API; a name cannot put escape sequences on the terminal', async (t) => {
  const server = await pairingServerAsync(t);
  const rebound = await postAsync(server, '/v1/pair', { name: 'Eve' }, { host: 'evil.example' });
  assert.deepEqual([rebound.status, rebound.json.code], [403, 'MGIE_ERR_FORBIDDEN']);
  const page = await postAsync(server, '/v1/pair', { name: 'Eve' }, { origin: 'https://evil.example' });
  assert.deepEqual([page.status, page.json.code], [403, 'MGIE_ERR_FORBIDDEN']);
  assert.equal(page.headers.get('access-control-allow-origin'), null, 'another site cannot read the answer');
  assert.equal(server.terminal.length, 0, 'nothing printed');

  const empty = await postAsync(server, '/v1/pair', { name: ' \u0007 ' });
  assert.deepEqual([empty.status, empty.json.code], [400, 'MGIE_ERR_BAD_PARAMETER']);
  const notJson = await postAsync(server, '/v1/pair', 'name=Eve');
  assert.deepEqual([notJson.status, notJson.json.code], [400, 'MGIE_ERR_BAD_PARAMETER']);
  const asked = await postAsync(server, '/v1/pair', { name: 'Eve\u001b[2J\u001b]0;owned\u0007\nroot' });
  assert.equal(asked.status, 202);
  assert.ok(!/[\u0000-\u001f\u007f]/.test(server.terminal[0].replaceAll('\n', '')), JSON.stringify(server.terminal[0]));
  assert.match(server.terminal[0], /Pairing request from "Eve \[2J \]0;owned root"/);
  // scripts may send application/json
  const scripted = await fetch(`${server.httpUrl}/v1/pair`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Script' }) });
  assert.equal(scripted.status, 202);
});

test('pairing requests are rate-limited per address and only a few may wait at once', async (t) => {
  const limited = await pairingServerAsync(t);
  const statuses = [];
  for (let i = 0; i < 6; i++) statuses.push((await postAsync(limited, '/v1/pair', { name: `Designer ${i}` })).status);
  assert.deepEqual(statuses, [202, 202, 202, 202, 202, 429]);
  assert.equal(limited.terminal.length, 5, 'the refused one printed nothing');

  const bounded = await pairingServerAsync(t, { maxPending: 2, requestRate: { capacity: 100, refillPerSecond: 100 } });
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push(await postAsync(bounded, '/v1/pair', { name: `Designer ${i}` }));
  assert.deepEqual(answers.map((answer) => answer.status), [202, 202, 503]);
  assert.equal(answers[2].json.code, 'MGIE_ERR_BUSY');
  // finishing one makes room for the next
  await postAsync(bounded, '/v1/pair/confirm', { pairingId: answers[0].json.pairingId, code: /code (\S+)/.exec(bounded.terminal[0])![1] });
  assert.equal((await postAsync(bounded, '/v1/pair', { name: 'Designer 3' })).status, 202);
});
