// `npm run setup:cuda`, the one explicit CUDA step: when NuGet cannot be reached it says so with the
// ways forward, and exits 1, instead of a stack trace. The download is pointed at a closed local port
// through onnxruntime's own proxy setting, so the test never touches the network.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { cudaProviderLibrary } from '../../companion-server/engine/providers/probe-providers-async.ts';

const linuxX64 = process.platform === 'linux' && process.arch === 'x64';

async function closedPortAsync(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('setup:cuda without a route to NuGet: one clear explanation and exit 1', { skip: !linuxX64 ? 'the CUDA provider exists for Linux x64 only' : existsSync(cudaProviderLibrary()) ? 'the CUDA provider is already installed here' : false }, async () => {
  const proxy = `http://127.0.0.1:${await closedPortAsync()}`;
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile('npm', ['run', '-s', 'setup:cuda'], { env: { ...process.env, GLOBAL_AGENT_HTTPS_PROXY: proxy, GLOBAL_AGENT_HTTP_PROXY: proxy }, timeout: 60_000 }, (error, out, err) =>
      resolve({ code: (error as { code?: number } | null)?.code ?? 0, stdout: out, stderr: err }),
    );
  });
  assert.equal(code, 1, stdout + stderr);
  assert.match(stdout, /Could not reach api\.nuget\.org \(ECONNREFUSED\)/);
  assert.match(stdout, /GLOBAL_AGENT_HTTPS_PROXY/);
  assert.match(stdout, /libonnxruntime_providers_cuda\.so/);
  assert.doesNotMatch(stdout + stderr, /triggerUncaughtException|    at /, 'no stack trace');
  assert.equal(existsSync(cudaProviderLibrary()), false, 'nothing half-installed');
});
