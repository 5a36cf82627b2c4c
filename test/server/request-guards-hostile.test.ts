// The request guards against what a scanner (or a rebinding page) would try. The threat each guard
// answers decides what is right:
// - Host is the DNS-rebinding defence. A rebound page's requests carry the attacker's DNS name, so the
//   guard must refuse every name an attacker can register, especially ones that embed a loopback name
//   (127.0.0.1.attacker.example). Browsers send an IP host in canonical form (http://2130706433/ is
//   sent as 127.0.0.1, IPv6 compressed and bracketed), so other spellings of loopback come only from
//   non-browser clients, which rebinding is not about; they are refused (decimal, hex, octal, short
//   forms, other IPv6 spellings) except a few harmless leniencies named below.
// - Origin is the cross-site WebSocket hijacking defence: exact origins only; `null` and no Origin pass
//   because the token is still required (PROTOCOL.md).
// - The token identifies the client: only the exact string matches.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { isAllowedHost, isAllowedOrigin, tokenFromRequest, tokensMatch } from '../../companion-server/server/request-guards.ts';
import { startTestServerAsync, TEST_TOKEN } from '../helpers/test-server.ts';

const REFUSED_HOSTS: Array<[string | undefined, string]> = [
  // names that embed a loopback name: registrable by an attacker, the heart of DNS rebinding
  ['127.0.0.1.attacker.example', 'loopback address as the first labels of an attacker name'],
  ['127.0.0.1.attacker.example:8765', 'the same with a port'],
  ['localhost.attacker.example', 'localhost as the first label'],
  ['LocalHost.attacker.example', 'case does not help'],
  ['LOCALHOST.ATTACKER.EXAMPLE:8765', 'nor upper case with a port'],
  ['attacker.example', 'a plain foreign name'],
  ['localhost-attacker.example', 'a prefix without a dot'],
  ['127.0.0.1x', 'garbage after the address'],
  ['127.0.0.1@x', 'userinfo syntax is not a host'],
  ['127.0.0.1:80@evil', 'userinfo with a port'],
  ['localhost@attacker.example', 'userinfo the other way round'],
  ['localhost..', 'two trailing dots are not the root'],
  ['localhost,attacker.example', 'a list is not a host'],
  ['attacker.example,localhost', 'nor the other way round'],
  ['localhost#.attacker.example', 'fragment syntax'],
  ['localhost/.attacker.example', 'path syntax'],
  ['localhost\\.attacker.example', 'backslash'],
  ['localhost%00.attacker.example', 'an encoded NUL'],
  ['localhost\u0000', 'a raw NUL'],
  ['a'.repeat(10_000) + '.localhost', 'a very long name under .localhost (no one registers it, but it is not ours to accept)'],
  ['\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54', 'fullwidth "localhost" (a browser would map it to ASCII before sending)'],
  ['localh\u03bfst', 'a Greek omicron lookalike'],
  // ports
  ['localhost:', 'an empty port'],
  ['localhost:abc', 'a non-numeric port'],
  ['127.0.0.1:+80', 'a signed port'],
  ['127.0.0.1:0x50', 'a hex port'],
  ['localhost :8765', 'space before the port'],
  ['127.0.0.1: 80', 'space after the colon'],
  ['localhost:8765:8765', 'two ports'],
  // IPv6
  ['[::1]x', 'garbage after the brackets'],
  ['[::1', 'no closing bracket'],
  ['[[::1]]', 'double brackets'],
  ['[::1]:', 'an empty port after brackets'],
  ['[::1%25lo]', 'a zone id'],
  ['[::]', 'the unspecified address is not loopback'],
  ['[::2]', 'another address'],
  ['[::ffff:7f00:1]', 'loopback, but not a form the guard knows: refused (fail closed)'],
  ['[::ffff:127.0.0.1.attacker.example]', 'a mapped address followed by a name'],
  ['::1:8765', 'unbracketed with a port is ambiguous'],
  // other IPv4 spellings of loopback, and addresses that are not loopback
  ['2130706433', 'decimal'],
  ['0x7f000001', 'hex'],
  ['0x7f.0.0.1', 'a hex octet'],
  ['0177.0.0.1', 'an octal first octet'],
  ['127.1', 'the short form'],
  ['127.0.0.256', 'an octet over 255'],
  ['127.0.0.1000', 'an octet of four digits'],
  ['0.0.0.0', 'reaches local services on some systems, but is not a name for this server'],
  ['128.0.0.1', 'not in 127/8'],
  // empty
  ['', 'empty'],
  ['   ', 'whitespace only'],
  [undefined, 'no Host header (HTTP/1.0)'],
];

const ACCEPTED_HOSTS: Array<[string, string]> = [
  ['localhost', ''],
  ['LOCALHOST', 'host names are case-insensitive'],
  ['localhost:8765', ''],
  ['localhost:80', 'another port: a reverse proxy on :80 is legitimate, and rebinding changes the name, not the port'],
  ['localhost.', 'the fully qualified form of localhost'],
  ['localhost.:8765', ''],
  ['127.0.0.1', ''],
  ['127.0.0.1:8765', ''],
  ['127.0.0.1.', 'trailing dot: still the address (a browser sends it without)'],
  ['127.255.255.254', 'all of 127/8 is loopback'],
  ['127.000.000.001', 'leading zeros: lenient, but every reading of it (decimal or octal) is in 127/8'],
  ['[::1]', ''],
  ['[::1]:8765', ''],
  ['[0:0:0:0:0:0:0:1]', 'the uncompressed form'],
  ['[::ffff:127.0.0.1]', 'IPv4-mapped loopback'],
  ['::1', 'unbracketed: malformed as a Host, but no browser sends it and no DNS name looks like it; kept for lenient clients'],
  ['  localhost  ', 'surrounding whitespace (HTTP allows it around field values; Node strips it anyway)'],
];

test('Host: names that embed a loopback name, odd ports, odd IPv6 and other IPv4 spellings are refused', () => {
  for (const [host, why] of REFUSED_HOSTS) {
    assert.equal(isAllowedHost(host, []), false, `${JSON.stringify(host?.slice(0, 60))} must be refused: ${why}`);
    assert.equal(isAllowedHost(host, ['gpu-box.local']), false, `${JSON.stringify(host?.slice(0, 60))} must be refused with another name configured`);
  }
});

test('Host: loopback names in the forms clients send are accepted', () => {
  for (const [host, why] of ACCEPTED_HOSTS) assert.equal(isAllowedHost(host, []), true, `${JSON.stringify(host)} must be accepted${why ? `: ${why}` : ''}`);
});

test('Host: a configured name matches itself only, in any case, with or without port or trailing dot', () => {
  const allowed = ['gpu-box.local'];
  for (const host of ['gpu-box.local', 'GPU-Box.Local', 'gpu-box.local:8765', 'gpu-box.local.', 'gpu-box.local.:443']) assert.equal(isAllowedHost(host, allowed), true, host);
  for (const host of ['gpu-box.local.attacker.example', 'attacker.gpu-box.local', 'gpu-box.localx', 'gpu-box', 'gpu-box.local@attacker.example', 'gpu-box.local:x']) {
    assert.equal(isAllowedHost(host, allowed), false, host);
  }
  // a configured entry with a port or odd case still means the name
  assert.equal(isAllowedHost('gpu-box.local', ['GPU-BOX.local:9000']), true);
  // nothing configured: only loopback
  assert.equal(isAllowedHost('gpu-box.local', []), false);
});

/** A raw HTTP request with exactly this Host header (fetch and ws would not send some of these). */
function statusWithHost(port: number, host: string, path = '/healthz', headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, path, headers: { ...headers, host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end();
  });
}

test('Host through the real server: rebinding names get 403 on HTTP and on the WebSocket upgrade, loopback names 200', async (t) => {
  const { port } = await startTestServerAsync(t);
  for (const host of ['127.0.0.1.attacker.example', `127.0.0.1.attacker.example:${port}`, 'localhost.attacker.example', '127.0.0.1@x', `127.0.0.1:80@evil`, '2130706433', '0x7f000001', '0177.0.0.1', 'localhost..']) {
    assert.equal(await statusWithHost(port, host), 403, host);
    const upgrade = { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', authorization: `Bearer ${TEST_TOKEN}` };
    assert.equal(await statusWithHost(port, host, '/v1/ws', upgrade), 403, `${host} (WebSocket upgrade)`);
  }
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, 'localhost.', 'LOCALHOST']) assert.equal(await statusWithHost(port, host), 200, host);
});

// ---- token -----------------------------------------------------------------------------------

test('token: only the exact string matches (no prefix, suffix, case change, whitespace, lookalike, NUL)', () => {
  const expected = TEST_TOKEN;
  assert.equal(tokensMatch(expected, expected), true);
  const wrong: Array<[string | undefined, string]> = [
    [expected.slice(0, -1), 'a prefix'],
    [expected.slice(1), 'a suffix'],
    [expected.slice(0, 1), 'one character'],
    [`${expected}x`, 'one character more'],
    [expected.toUpperCase(), 'upper case'],
    [` ${expected}`, 'a leading space'],
    [`${expected} `, 'a trailing space'],
    [`${expected}\n`, 'a trailing newline'],
    [`${expected}\u0000`, 'a trailing NUL'],
    [expected.replace('e', '\u0435'), 'a Cyrillic lookalike'],
    [expected.repeat(2), 'repeated'],
    [expected.repeat(10_000), 'very long'],
    ['', 'empty'],
    [undefined, 'absent'],
  ];
  for (const [given, why] of wrong) assert.equal(tokensMatch(given, expected), false, why);
  // an empty expected token (a misconfiguration) matches nothing, not even an empty one
  assert.equal(tokensMatch('', ''), false);
  assert.equal(tokensMatch(undefined, ''), false);
  // non-ASCII tokens compare by their UTF-8 bytes: composed and decomposed forms differ
  assert.equal(tokensMatch('caf\u00e9-token-0123456789', 'caf\u00e9-token-0123456789'), true);
  assert.equal(tokensMatch('cafe\u0301-token-0123456789', 'caf\u00e9-token-0123456789'), false);
});

test('token: taken from "Bearer" (any case, surrounding whitespace allowed by HTTP) else ?token=, never altered', () => {
  assert.equal(tokenFromRequest({ authorization: `Bearer ${TEST_TOKEN}` }, '/'), TEST_TOKEN);
  assert.equal(tokenFromRequest({ authorization: `  bEaReR   ${TEST_TOKEN}  ` }, '/'), TEST_TOKEN);
  // a header that is not one Bearer credential gives no token from the header
  for (const authorization of [`Bearer${TEST_TOKEN}`, `Bearer ${TEST_TOKEN} extra`, `Token ${TEST_TOKEN}`, 'Bearer', '']) {
    assert.equal(tokenFromRequest({ authorization }, '/'), undefined, authorization);
  }
  // the query is used as it decodes: whitespace or a prefix stays and so does not match
  assert.equal(tokenFromRequest({}, `/v1/ws?token=%20${TEST_TOKEN}`), ` ${TEST_TOKEN}`);
  assert.equal(tokenFromRequest({}, `/v1/ws?token=${TEST_TOKEN}&token=other`), TEST_TOKEN, 'the first of repeated parameters');
  // a wrong Bearer header is not rescued by a right query token
  assert.equal(tokenFromRequest({ authorization: 'Bearer wrong' }, `/v1/ws?token=${TEST_TOKEN}`), 'wrong');
});

test('token through the real server: every near miss is 401, the exact token 200', async (t) => {
  const { httpUrl } = await startTestServerAsync(t);
  const status = async (headers: Record<string, string>, query = ''): Promise<number> => (await fetch(`${httpUrl}/v1/info${query}`, { headers })).status;
  assert.equal(await status({ authorization: `Bearer ${TEST_TOKEN}` }), 200);
  assert.equal(await status({}, `?token=${TEST_TOKEN}`), 200);
  for (const token of [TEST_TOKEN.slice(0, -1), `${TEST_TOKEN}x`, TEST_TOKEN.toUpperCase(), TEST_TOKEN.repeat(20)]) {
    assert.equal(await status({ authorization: `Bearer ${token}` }), 401, token.slice(0, 40));
    assert.equal(await status({}, `?token=${encodeURIComponent(token)}`), 401, token.slice(0, 40));
  }
  for (const query of [`?token=%20${TEST_TOKEN}`, `?token=${TEST_TOKEN}%0A`, `?token=${TEST_TOKEN}%00`, `?token=${encodeURIComponent(TEST_TOKEN.replace('e', '\u0435'))}`, '?token=', '?Token=' + TEST_TOKEN]) {
    assert.equal(await status({}, query), 401, query);
  }
  assert.equal(await status({ authorization: 'Bearer wrong-token' }, `?token=${TEST_TOKEN}`), 401, 'a wrong header is not rescued by the query');
  assert.equal(await status({ authorization: 'Basic dXNlcjpwYXNz' }, `?token=${TEST_TOKEN}`), 200, 'another scheme defers to the query');
});

// ---- Origin ----------------------------------------------------------------------------------

test('Origin: exact configured origins, `null` and none pass; lookalikes, other schemes and ports do not', () => {
  const configured = ['https://www.figma.com'];
  const accepted: Array<[string | undefined, string]> = [
    [undefined, 'no Origin: not a browser page; the token is still required'],
    ['null', 'what the Figma plugin iframe sends (and any sandboxed page: the token is what protects)'],
    [' null ', 'with whitespace'],
    ['https://www.figma.com', ''],
    ['https://WWW.Figma.COM', 'host case'],
    ['HTTPS://www.figma.com', 'scheme case'],
    ['https://www.figma.com:443', 'the default port'],
    ['https://www.figma.com/', 'a path: browsers never send one; it does not change the origin'],
  ];
  const refused: Array<[string, string]> = [
    ['https://www.figma.com.attacker.example', 'the configured origin as a prefix'],
    ['https://www.figma.com@attacker.example', 'userinfo trick'],
    ['https://attacker.example/https://www.figma.com', 'in the path'],
    ['https://attacker.example?https://www.figma.com', 'in the query'],
    ['https://www.figma.com.', 'a trailing dot is another origin'],
    ['http://www.figma.com', 'another scheme'],
    ['wss://www.figma.com', 'another scheme'],
    ['https://www.figma.com:8443', 'another port'],
    ['https://figma.com', 'the parent domain'],
    ['https://evil-www.figma.com', 'a sibling'],
    ['https://www.figma.com,https://attacker.example', 'a list'],
    ['NULL', '`null` is lower case'],
    ['null,null', 'not `null`'],
    ['*', 'a wildcard is not an origin'],
    ['', 'empty'],
    ['file://', 'file pages send `null`, not this'],
    ['data:text/html,x', ''],
    ['not a url', ''],
    ['https://www.figma.com\u0000.attacker.example', 'a NUL'],
  ];
  for (const [origin, why] of accepted) assert.equal(isAllowedOrigin(origin, configured), true, `${JSON.stringify(origin)}${why ? `: ${why}` : ''}`);
  for (const [origin, why] of refused) assert.equal(isAllowedOrigin(origin, configured), false, `${JSON.stringify(origin)} must be refused${why ? `: ${why}` : ''}`);
  // nothing configured: only `null` and none
  assert.equal(isAllowedOrigin('https://www.figma.com', []), false);
  assert.equal(isAllowedOrigin('null', []), true);
  assert.equal(isAllowedOrigin(undefined, []), true);
});
