// `mgie serve` started the wrong way: real processes that must stop at once, non-zero, with one line
// that says what to do (never "unexpected failure ... report it", never a server left running).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cleanEnv, type MgieRun, runMgieAsync } from '../helpers/run-mgie.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mgie-serve-errors-'));
});
after(() => rm(dir, { recursive: true, force: true }));

/** mgie serve with its own config folder and no cache, so nothing in ~/.config or ~/.cache is touched. */
function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<MgieRun> {
  // A serve that does not stop on these errors would be ready within this time and keep running: the kill makes it a failure.
  return runMgieAsync(['serve', '--no-cache', ...args], { env: cleanEnv({ MGIE_CONFIG_DIR: path.join(dir, 'config'), ...env }), timeoutMs: 60_000 });
}

function assertOneUserError(run: MgieRun, code: number, message: RegExp): void {
  assert.equal(run.code, code, run.stderr);
  assert.match(run.stderr, message);
  assert.doesNotMatch(run.stderr, /unexpected failure|report it/);
  assert.equal(run.stderr.trim().split('\n').filter((line) => line.startsWith('mgie:')).length, 1, run.stderr);
  assert.doesNotMatch(run.stdout, /ready at/);
}

test('a port in use: stop the other server or pass --port', async (t) => {
  const occupier = net.createServer();
  await new Promise<void>((resolve) => occupier.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => occupier.close(resolve)));
  const { port } = occupier.address() as net.AddressInfo;
  assertOneUserError(await serve(['--port', String(port)]), 1, new RegExp(`^mgie: Port ${port} is in use \\(is another mgie serve running\\?\\): stop it or pass --port N\\.$`, 'm'));
});

test('a --host this computer does not have', async () => {
  // 192.0.2.1 is TEST-NET-1 (RFC 5737): documentation only, never a local address.
  assertOneUserError(await serve(['--port', '0', '--host', '192.0.2.1']), 1, /Cannot listen on --host 192\.0\.2\.1: this computer has no such address\. Pass --host 127\.0\.0\.1/);
});

test('a missing --tls-cert or --tls-key file, and files that are not PEM', async () => {
  const cert = path.join(dir, 'missing-cert.pem');
  const key = path.join(dir, 'missing-key.pem');
  assertOneUserError(await serve(['--port', '0', '--tls-cert', cert, '--tls-key', key]), 1, /Cannot read --tls-cert .*missing-cert\.pem \(ENOENT\)\. Check the path/);
  const garbage = path.join(dir, 'garbage.pem');
  await writeFile(garbage, 'not a certificate');
  assertOneUserError(await serve(['--port', '0', '--tls-cert', garbage, '--tls-key', key]), 1, /Cannot read --tls-key .*missing-key\.pem \(ENOENT\)/);
  assertOneUserError(await serve(['--port', '0', '--tls-cert', garbage, '--tls-key', garbage]), 1, /are not a usable PEM certificate and its key/);
});

test('a bad MGIE_LOG_LEVEL lists the valid levels (usage error, exit 2)', async () => {
  assertOneUserError(await serve(['--port', '0'], { MGIE_LOG_LEVEL: 'loud' }), 2, /MGIE_LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, got "loud"\./);
});

test('a damaged users.json in the config folder (--config-dir) names the file; a bad --max-connections-per-user is a usage error', async () => {
  const configDir = path.join(dir, 'config-with-bad-users');
  await mkdir(configDir, { recursive: true });
  await writeFile(path.join(configDir, 'users.json'), '{"users": [');
  assertOneUserError(await serve(['--port', '0', '--config-dir', configDir]), 1, /users\.json is not valid JSON .*Restore it from a backup, or delete it and add the users again with mgie token add/);
  assertOneUserError(await serve(['--port', '0', '--max-connections-per-user', '0']), 2, /--max-connections-per-user \/ MGIE_MAX_CONNECTIONS_PER_USER must be a whole number from 1 to 1000, got "0"/);
  assertOneUserError(await serve(['--port', '0'], { MGIE_MAX_CONNECTIONS_PER_USER: 'many' }), 2, /MGIE_MAX_CONNECTIONS_PER_USER must be a whole number/);
});

test('a bad --max-spool-mb or MGIE_MAX_SPOOL_MB says the range (usage error, exit 2)', async () => {
  assertOneUserError(await serve(['--port', '0', '--max-spool-mb', 'lots']), 2, /--max-spool-mb \/ MGIE_MAX_SPOOL_MB must be a whole number from 1 to 1048576, got "lots"\./);
  assertOneUserError(await serve(['--port', '0'], { MGIE_MAX_SPOOL_MB: '0' }), 2, /--max-spool-mb \/ MGIE_MAX_SPOOL_MB must be a whole number from 1 to 1048576, got "0"\./);
});
