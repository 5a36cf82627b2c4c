// CORS on the three probe paths, so the plugin (Origin null) can tell "token rejected" from "server down".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startTestServerAsync, TEST_TOKEN } from '../helpers/test-server.ts';

/** node:http, because fetch would not let us set Origin and Host. */
function getAsync(port: number, path: string, headers: Record<string, string>, method = 'GET'): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, method }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the probe paths are readable from the plugin origin (null), refusals included', async (t) => {
  const { port } = await startTestServerAsync(t);
  const ok = await getAsync(port, `/v1/info?token=${TEST_TOKEN}`, { origin: 'null' });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['access-control-allow-origin'], 'null');
  assert.equal(ok.headers.vary, 'Origin');
  assert.equal(ok.headers['access-control-allow-credentials'], undefined);

  const wrong = await getAsync(port, '/v1/info?token=wrong', { origin: 'null' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers['access-control-allow-origin'], 'null');
  assert.equal(JSON.parse(wrong.body).code, 'MGIE_ERR_UNAUTHORIZED');

  const health = await getAsync(port, '/healthz', { origin: 'null' });
  assert.deepEqual([health.status, health.headers['access-control-allow-origin']], [200, 'null']);

  // a refused Host: the origin passed, so the plugin can read why
  const badHost = await getAsync(port, `/v1/info?token=${TEST_TOKEN}`, { origin: 'null', host: 'evil.example' });
  assert.deepEqual([badHost.status, badHost.headers['access-control-allow-origin']], [403, 'null']);

  const head = await getAsync(port, `/v1/info?token=${TEST_TOKEN}`, { origin: 'null' }, 'HEAD');
  assert.deepEqual([head.status, head.headers['access-control-allow-origin']], [200, 'null']);
});

test('a 503 from /readyz while the model loads is readable too', async (t) => {
  const { port } = await startTestServerAsync(t, {}, { attach: false });
  const loading = await getAsync(port, '/readyz', { origin: 'null' });
  assert.deepEqual([loading.status, loading.headers['access-control-allow-origin'], JSON.parse(loading.body)], [503, 'null', { ready: false }]);
});

test('a configured origin gets its own origin back, exactly as sent', async (t) => {
  const { port } = await startTestServerAsync(t, { allowedOrigins: ['https://team.example:8443'] });
  const info = await getAsync(port, `/v1/info?token=${TEST_TOKEN}`, { origin: 'https://team.example:8443' });
  assert.deepEqual([info.status, info.headers['access-control-allow-origin'], info.headers.vary], [200, 'https://team.example:8443', 'Origin']);
});

test('no CORS for other origins, for requests without Origin, or on other paths', async (t) => {
  const { port } = await startTestServerAsync(t);
  const foreign = await getAsync(port, `/v1/info?token=${TEST_TOKEN}`, { origin: 'https://evil.example' });
  assert.deepEqual([foreign.status, foreign.headers['access-control-allow-origin']], [403, undefined]);
  const script = await getAsync(port, `/v1/info?token=${TEST_TOKEN}`, {});
  assert.deepEqual([script.status, script.headers['access-control-allow-origin']], [200, undefined]);
  const metrics = await getAsync(port, `/metrics?token=${TEST_TOKEN}`, { origin: 'null' });
  assert.deepEqual([metrics.status, metrics.headers['access-control-allow-origin']], [200, undefined]);
  const socketPath = await getAsync(port, '/v1/ws?token=wrong', { origin: 'null' });
  assert.deepEqual([socketPath.status, socketPath.headers['access-control-allow-origin']], [401, undefined]);
});
