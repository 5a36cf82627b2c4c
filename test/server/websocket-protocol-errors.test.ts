// Frames that break the WebSocket protocol itself: the connection is closed with the code PROTOCOL.md
// promises (1009 too big, 1007 not UTF-8), every time, and the log gets a brief, rate-limited warning
// instead of an error with a stack trace per frame (any token holder could flood it).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { buildApp } from '../../companion-server/server/build-app.ts';
import { ProtocolErrorLog } from '../../companion-server/server/protocol-error-log.ts';
import { DEFAULT_SERVER_OPTIONS } from '../../companion-server/server/server-options.ts';
import { TEST_TOKEN } from '../helpers/test-server.ts';

async function startLoggedServerAsync(t: import('node:test').TestContext) {
  const lines: Array<{ level: number; msg: string; kind?: string; suppressed?: number; err?: unknown }> = [];
  const stream = new Writable({ write: (chunk, _encoding, done) => (lines.push(JSON.parse(String(chunk))), done()) });
  const server = buildApp({ ...DEFAULT_SERVER_OPTIONS, port: 0, token: TEST_TOKEN, maxImageBytes: 100_000, shutdownGraceMs: 500, maxConnectionsPerUser: 32 }, { level: 'debug', stream });
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => server.closeAsync());
  const { port } = server.app.server.address() as { port: number };
  return { url: `ws://127.0.0.1:${port}/v1/ws`, lines };
}

function closeCodeAfterAsync(url: string, send: (socket: WebSocket) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    socket.once('message', () => send(socket)); // after hello
    socket.once('close', (code) => resolve(code));
    socket.once('error', reject);
  });
}

test('a frame over the limit closes with 1009 and a text frame that is not UTF-8 with 1007, every time', async (t) => {
  const { url } = await startLoggedServerAsync(t);
  // Far over the limit, so the server refuses it from the frame header while the client is still sending.
  const tooBig = await Promise.all(Array.from({ length: 24 }, () => closeCodeAfterAsync(url, (socket) => socket.send(Buffer.alloc(8_000_000)))));
  assert.deepEqual(tooBig, Array(24).fill(1009));
  const notUtf8 = await Promise.all(Array.from({ length: 8 }, () => closeCodeAfterAsync(url, (socket) => socket.send(Buffer.from([0xc3, 0x28]), { binary: false }))));
  assert.deepEqual(notUtf8, Array(8).fill(1007));
});

test('protocol errors are logged as one brief warning per kind, not as errors with stacks', async (t) => {
  const { url, lines } = await startLoggedServerAsync(t);
  await Promise.all(Array.from({ length: 20 }, () => closeCodeAfterAsync(url, (socket) => socket.send(Buffer.alloc(400_000)))));
  const protocolLines = lines.filter((line) => /websocket protocol error/.test(line.msg));
  assert.equal(lines.filter((line) => line.level >= 50).length, 0, 'nothing at error level');
  assert.equal(protocolLines.length, 1, 'one line for 20 frames within the interval');
  assert.equal(protocolLines[0].level, 40);
  assert.equal(protocolLines[0].kind, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
  assert.equal(protocolLines[0].err, undefined, 'no stack trace');
});

test('the rate-limited log says how many it left out when it next writes', () => {
  const written: Array<{ fields: Record<string, unknown>; message: string }> = [];
  let clock = 0;
  const log = { warn: (fields: Record<string, unknown>, message: string) => written.push({ fields, message }) } as unknown as import('fastify').FastifyBaseLogger;
  const errors = new ProtocolErrorLog(log, 10_000, () => clock);
  for (let i = 0; i < 5; i++) errors.note('WS_ERR_X', 'bad frame');
  errors.note('WS_ERR_Y', 'other');
  clock = 10_000;
  errors.note('WS_ERR_X', 'bad frame');
  assert.deepEqual(written.map((w) => w.fields), [{ kind: 'WS_ERR_X' }, { kind: 'WS_ERR_Y' }, { kind: 'WS_ERR_X', suppressed: 4 }]);
});
