// The parts of pairing on their own, with a clock the test moves: codes, waiting requests, the policy
// of who may pair, and the user name a designer's own name becomes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPairingCode, generatePairingCode, normalizePairingCode, PAIRING_CODE_ALPHABET, pairingCodeMatches } from '../../companion-server/server/pairing/pairing-code.ts';
import { pairingRefusal } from '../../companion-server/server/pairing/pairing-policy.ts';
import { PairingRequests } from '../../companion-server/server/pairing/pairing-requests.ts';
import { USER_NAME_PATTERN, userNameFromDisplayName } from '../../companion-server/server/user-tokens.ts';

test('codes: 6 characters without look-alikes, every character of the alphabet used, typed forms match', () => {
  assert.equal(PAIRING_CODE_ALPHABET.length, 30);
  assert.ok(![...'01OILU'].some((c) => PAIRING_CODE_ALPHABET.includes(c)));
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const code = generatePairingCode();
    assert.match(code, /^[23456789ABCDEFGHJKMNPQRSTVWXYZ]{6}$/);
    for (const c of code) seen.add(c);
  }
  assert.equal(seen.size, 30, 'all 30 characters turn up in 12 000 draws');
  assert.equal(formatPairingCode('4F7K2Q'), '4F7-K2Q');
  assert.equal(normalizePairingCode(' 4f7 - k2q\t'), '4F7K2Q');
  assert.equal(pairingCodeMatches('4f7-k2q', '4F7K2Q'), true);
  assert.equal(pairingCodeMatches('4F7K2', '4F7K2Q'), false, 'a prefix is not the code');
  assert.equal(pairingCodeMatches('', '4F7K2Q'), false);
});

test('a request: the right code once; wrong codes count down and the last one cancels it; expiry at exactly its time', () => {
  let now = 1_000;
  const requests = new PairingRequests({ ttlMs: 5_000, maxTries: 3, maxPending: 4, now: () => now });
  const a = requests.start('Anna');
  assert.equal(a.expiresAt, 6_000);
  assert.deepEqual(requests.confirm(a.pairingId, 'WRONG1'), { ok: false, reason: 'wrong-code', triesLeft: 2 });
  assert.deepEqual(requests.confirm(a.pairingId, a.code.toLowerCase()), { ok: true, displayName: 'Anna' });
  assert.deepEqual(requests.confirm(a.pairingId, a.code), { ok: false, reason: 'expired' }, 'used once');

  const b = requests.start('Bert');
  assert.deepEqual(requests.confirm(b.pairingId, 'WRONG1'), { ok: false, reason: 'wrong-code', triesLeft: 2 });
  assert.deepEqual(requests.confirm(b.pairingId, 'WRONG2'), { ok: false, reason: 'wrong-code', triesLeft: 1 });
  assert.deepEqual(requests.confirm(b.pairingId, 'WRONG3'), { ok: false, reason: 'too-many-tries' });
  assert.deepEqual(requests.confirm(b.pairingId, b.code), { ok: false, reason: 'expired' });

  const c = requests.start('Carl');
  now = c.expiresAt - 1;
  assert.equal(requests.size, 1);
  now = c.expiresAt;
  assert.deepEqual(requests.confirm(c.pairingId, c.code), { ok: false, reason: 'expired' });
  assert.deepEqual(requests.confirm('no-such-id', c.code), { ok: false, reason: 'expired' });
});

test('at most maxPending wait; an expired one frees its place', () => {
  let now = 0;
  const requests = new PairingRequests({ ttlMs: 1_000, maxTries: 5, maxPending: 2, now: () => now });
  requests.start('a');
  now = 500;
  requests.start('b');
  assert.throws(() => requests.start('c'), (error: any) => error.code === 'MGIE_ERR_BUSY');
  now = 1_000; // the first expires
  assert.doesNotThrow(() => requests.start('c'));
  assert.equal(requests.size, 2);
});

test('who may pair: a loopback server reached locally by default; a team box or a proxied request only with --allow-pairing; --no-pairing never', () => {
  const usersFile = '/tmp/users.json';
  const local = { boundAddress: '127.0.0.1', headers: { host: '127.0.0.1:8765' }, usersFile };
  assert.equal(pairingRefusal('auto', local), undefined);
  assert.equal(pairingRefusal('auto', { ...local, boundAddress: '::1', headers: { host: '[::1]:8765' } }), undefined);
  assert.equal(pairingRefusal('auto', { ...local, headers: { host: 'localhost:8765' } }), undefined);
  assert.match(pairingRefusal('auto', { ...local, boundAddress: '0.0.0.0' })!, /--allow-pairing/);
  assert.match(pairingRefusal('auto', { ...local, boundAddress: '::' })!, /--allow-pairing/);
  assert.match(pairingRefusal('auto', { ...local, headers: { host: 'gpu-box.example.com' } })!, /--allow-pairing/);
  assert.match(pairingRefusal('auto', { ...local, headers: { ...local.headers, forwarded: 'for=203.0.113.7' } })!, /--allow-pairing/);
  assert.match(pairingRefusal('auto', { ...local, headers: { ...local.headers, 'x-real-ip': '203.0.113.7' } })!, /--allow-pairing/);
  assert.equal(pairingRefusal('on', { ...local, boundAddress: '0.0.0.0', headers: { host: 'gpu-box.example.com' } }), undefined);
  assert.match(pairingRefusal('off', local)!, /--no-pairing/);
  assert.match(pairingRefusal('on', { ...local, usersFile: null })!, /no users file/);
});

test('user names from designers\' names: valid, readable, unique whatever the case, never "default"', () => {
  const cases: Array<[string, string[], string]> = [
    ['Anna Müller', [], 'anna-muller'],
    ['Anna', ['ANNA'], 'anna-2'],
    ['anna', ['anna', 'anna-2'], 'anna-3'],
    ['Default', [], 'default-2'],
    ['José.García_2', [], 'jose.garcia_2'],
    ['  --Zoë--  ', [], 'zoe'],
    ['李雷', [], 'designer'],
    ['a'.repeat(40), [], 'a'.repeat(32)],
    ['a'.repeat(40), ['a'.repeat(32)], `${'a'.repeat(30)}-2`],
  ];
  for (const [displayName, taken, expected] of cases) {
    const name = userNameFromDisplayName(displayName, taken);
    assert.equal(name, expected, displayName);
    assert.match(name, USER_NAME_PATTERN);
  }
});
