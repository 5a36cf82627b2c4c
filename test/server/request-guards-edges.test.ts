// Edges of the request guards that request-guards.test.ts and request-guards-hostile.test.ts leave
// open: where a Bearer header may start, request URLs that do not parse, loopback look-alikes that
// only contain a loopback address, custom-scheme origins, unparsable configured origins, and the rate
// limiter's options, its least-recently-used order and when it forgets a key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAllowedHost, isAllowedOrigin, RateLimiter, tokenFromRequest } from '../../companion-server/server/request-guards.ts';

test('tokenFromRequest: "Bearer" must start the header; an unparsable URL gives no token; a header named "undefined" is not Authorization', () => {
  assert.equal(tokenFromRequest({ authorization: 'NotBearer abc' }, '/ws'), undefined);
  assert.equal(tokenFromRequest({ authorization: 'xBearer abc' }, '/ws?token=fromquery'), 'fromquery');
  assert.equal(tokenFromRequest({}, 'http://[not-an-address/ws?token=abc'), undefined);
  assert.equal(tokenFromRequest({ undefined: 'Bearer abc' }, '/ws'), undefined);
});

test('isAllowedHost: an address that only contains a loopback address is not loopback', () => {
  for (const host of ['1127.0.0.1', '[x127.0.0.1]', '[127.0.0.1::ffff:]', '[1::ffff:127.0.0.1]', 'a::ffff:127.0.0.1']) {
    assert.equal(isAllowedHost(host, []), false, host);
  }
  assert.equal(isAllowedHost('[::ffff:127.0.0.1]', []), true);
});

test('isAllowedOrigin: custom-scheme origins match exactly (their URL origin is "null", which must not match every other one)', () => {
  const configured = ['app://figma-desktop', 'tauri://Localhost'];
  assert.equal(isAllowedOrigin('app://figma-desktop', configured), true);
  assert.equal(isAllowedOrigin('APP://Figma-Desktop', configured), true);
  assert.equal(isAllowedOrigin('tauri://localhost', configured), true);
  for (const origin of ['app://evil', 'app://figma-desktop.evil', 'tauri://evil', 'other://figma-desktop']) assert.equal(isAllowedOrigin(origin, configured), false, origin);
});

test('isAllowedOrigin: an unparsable Origin never matches, not even an unparsable configured entry', () => {
  assert.equal(isAllowedOrigin('not a url', ['also not a url']), false);
  assert.equal(isAllowedOrigin('not a url', ['not a url']), false);
});

test('RateLimiter: capacity below 1 and refill rates that are not positive are refused at construction', () => {
  for (const capacity of [0, 0.5, -1, Number.NaN]) {
    assert.throws(() => new RateLimiter({ capacity, refillPerSecond: 1 }), /^Error: RateLimiter capacity must be at least 1\.$/, String(capacity));
  }
  for (const refillPerSecond of [0, -1, Number.NaN]) {
    assert.throws(() => new RateLimiter({ capacity: 1, refillPerSecond }), /^Error: RateLimiter refillPerSecond must be positive\.$/, String(refillPerSecond));
  }
  assert.doesNotThrow(() => new RateLimiter({ capacity: 1, refillPerSecond: 0.001 }));
});

test('RateLimiter: over maxKeys the least recently used key is forgotten, and using a key makes it recent', () => {
  const now = 0;
  const limiter = new RateLimiter({ capacity: 1, refillPerSecond: 1, now: () => now, maxKeys: 2 });
  assert.equal(limiter.take('a'), true);
  assert.equal(limiter.take('b'), true);
  assert.equal(limiter.take('a'), false); // a is now the most recent
  assert.equal(limiter.take('c'), true); // over maxKeys: b, the least recent, is forgotten
  assert.equal(limiter.size, 2);
  assert.equal(limiter.take('a'), false, 'a was kept, still empty');
  assert.equal(limiter.take('b'), true, 'b was forgotten: a fresh bucket');
});

test('RateLimiter: a key is forgotten only once it would be full again', () => {
  let now = 0;
  const limiter = new RateLimiter({ capacity: 2, refillPerSecond: 1, now: () => now });
  limiter.take('a');
  limiter.take('a');
  now += 1;
  limiter.take('b');
  assert.equal(limiter.size, 2, 'a is still refilling: kept');
  assert.equal(limiter.take('a'), false);
  now += 1999;
  limiter.take('c');
  assert.equal(limiter.size, 3, 'a and b (last used at 1 ms) are a millisecond short of full: kept');
  now += 1;
  limiter.take('c');
  assert.equal(limiter.size, 1, 'a and b are full again: forgotten');
  assert.equal(limiter.take('a'), true);
});
