import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isAllowedHost,
  isAllowedOrigin,
  RateLimiter,
  tokenFromRequest,
  tokensMatch,
} from '../../companion-server/server/request-guards.ts';

test('tokensMatch: only the exact token matches', () => {
  const expected = 'correct-horse-battery-staple';
  assert.equal(tokensMatch(expected, expected), true);
  assert.equal(tokensMatch('correct-horse-battery-stapl', expected), false);
  assert.equal(tokensMatch(`${expected}x`, expected), false);
  assert.equal(tokensMatch('', expected), false);
  assert.equal(tokensMatch(undefined, expected), false);
  assert.equal(tokensMatch('', ''), false);
});

test('tokenFromRequest: Bearer header first, else the token query parameter', () => {
  assert.equal(tokenFromRequest({ authorization: 'Bearer abc' }, '/edit?token=xyz'), 'abc');
  assert.equal(tokenFromRequest({ Authorization: 'bearer  abc ' }, '/edit'), 'abc');
  assert.equal(tokenFromRequest({}, '/ws?token=xyz'), 'xyz');
  assert.equal(tokenFromRequest({ authorization: 'Basic Zm9vOmJhcg==' }, '/ws?token=xyz'), 'xyz');
  assert.equal(tokenFromRequest({ authorization: ['Bearer first', 'Bearer second'] }, '/'), 'first');
  assert.equal(tokenFromRequest({}, '/ws?token='), undefined);
  assert.equal(tokenFromRequest({ authorization: undefined }, '/ws'), undefined);
});

test('isAllowedHost: loopback names and configured names only', () => {
  const configured = ['gpu-box.local'];
  for (const host of ['localhost:8765', 'LOCALHOST', '127.0.0.1:8765', '127.0.0.2', '127.255.255.254', '[::1]:8765', '[::1]', '::1', 'gpu-box.local:8765', 'GPU-Box.local']) {
    assert.equal(isAllowedHost(host, configured), true, host);
  }
  for (const host of ['evil.com', 'evil.com:8765', 'evil.localhost.attacker.com', 'localhost.evil.com', '127.0.0.256', '128.0.0.1', '[::2]:8765', 'localhost:80x', 'gpu-box.local.evil.com', '', undefined]) {
    assert.equal(isAllowedHost(host, configured), false, String(host));
  }
  assert.equal(isAllowedHost('gpu-box.local', []), false);
});

test('isAllowedOrigin: none and null pass (token still required), others must be configured', () => {
  const configured = ['https://www.figma.com/', 'http://Localhost:3000'];
  assert.equal(isAllowedOrigin(undefined, configured), true);
  assert.equal(isAllowedOrigin('null', configured), true);
  assert.equal(isAllowedOrigin('https://www.figma.com', configured), true);
  assert.equal(isAllowedOrigin('https://WWW.Figma.com/', configured), true);
  assert.equal(isAllowedOrigin('HTTP://localhost:3000', configured), true);
  assert.equal(isAllowedOrigin('https://evil.com', configured), false);
  assert.equal(isAllowedOrigin('https://www.figma.com.evil.com', configured), false);
  assert.equal(isAllowedOrigin('http://www.figma.com', configured), false);
  assert.equal(isAllowedOrigin('http://localhost:3001', configured), false);
  assert.equal(isAllowedOrigin('not a url', configured), false);
  assert.equal(isAllowedOrigin('https://evil.com', []), false);
});

test('RateLimiter: bursts up to capacity, refills over time, per key', () => {
  let now = 0;
  const limiter = new RateLimiter({ capacity: 2, refillPerSecond: 1, now: () => now });
  assert.equal(limiter.take('a'), true);
  assert.equal(limiter.take('a'), true);
  assert.equal(limiter.take('a'), false);
  assert.equal(limiter.take('b'), true, 'keys are independent');
  now += 500;
  assert.equal(limiter.take('a'), false, 'half a token is not enough');
  now += 500;
  assert.equal(limiter.take('a'), true);
  assert.equal(limiter.take('a'), false);
  now += 60_000;
  assert.equal(limiter.take('a'), true);
  assert.equal(limiter.take('a'), true);
  assert.equal(limiter.take('a'), false, 'refill is capped at capacity');
});

test('RateLimiter: forgets idle keys and never holds more than maxKeys', () => {
  let now = 0;
  const limiter = new RateLimiter({ capacity: 1, refillPerSecond: 1, now: () => now, maxKeys: 100 });
  for (let i = 0; i < 1000; i++) limiter.take(`flood-${i}`);
  assert.equal(limiter.size, 100);
  now += 1000; // long enough for every bucket to be full again
  limiter.take('late');
  assert.equal(limiter.size, 1);
});
