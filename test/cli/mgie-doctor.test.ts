// `mgie doctor` as an admin runs it: a real process on this machine, its report and exit code. Each
// test gives it its own config and cache folders, so what it reports never depends on this account.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { checkMemory } from '../../companion-server/cli/doctor/check-system-async.ts';
import { addUserAsync } from '../../companion-server/server/user-tokens.ts';
import { startTestServerAsync } from '../helpers/test-server.ts';
import { copyTinyBundleAsync, tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../companion-server/cli/mgie.js');
const posix = process.platform !== 'win32';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function doctorAsync(t: TestContext, args: string[] = [], setup?: (home: string) => Promise<void>, extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  const home = await mkdtemp(path.join(tmpdir(), 'mgie-doctor-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  await setup?.(home);
  const env = { ...process.env, MGIE_CONFIG_DIR: path.join(home, 'config'), XDG_CACHE_HOME: path.join(home, 'cache'), MGIE_TOKEN: '', MGIE_BUNDLE: '', ...extraEnv };
  const port = args.includes('--port') ? [] : ['--port', String(await freePortAsync())];
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, 'doctor', ...port, ...args], { env, timeout: 120_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function listenAsync(port = 0): Promise<Server> {
  // Another program: it hangs up on whoever connects (doctor asks it whether it is an MGIE server).
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return server;
}

async function freePortAsync(): Promise<number> {
  const server = await listenAsync();
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const line = (stdout: string, topic: string): string => stdout.split('\n').find((l) => new RegExp(`^\\S+\\s+${topic}\\s{2}`).test(l)) ?? `(no "${topic}" line)`;

test('on this machine: every check reported in plain words, nothing blocks an edit, exit 0', async (t) => {
  await tinyBundleDirAsync();
  const { code, stdout, stderr } = await doctorAsync(t);
  assert.equal(code, 0, stdout + stderr);
  assert.match(line(stdout, 'node'), /^ok\s+node\s+Node \d+\.\d+\.\d+ \(22 or newer needed\)/);
  assert.match(line(stdout, 'onnxruntime'), /onnxruntime-node \d+\.\d+\.\d+/);
  assert.match(line(stdout, 'provider cpu'), /^ok/);
  for (const provider of ['cuda', 'coreml', 'webgpu']) assert.match(line(stdout, `provider ${provider}`), /^(ok|--)\s+provider \w+\s+\S/);
  if (process.platform !== 'darwin') assert.match(line(stdout, 'provider coreml'), /not available: CoreML runs only on macOS$/);
  assert.match(line(stdout, 'provider'), /--provider auto \(the default\) will use (cpu|cuda|webgpu|coreml)/);
  assert.match(line(stdout, 'GPUs'), /^--/);
  assert.match(line(stdout, 'bundle'), /^ok\s+bundle\s+the tiny demo bundle \(.*\): "mgie-tiny", [\d.]+ MB, float32, 9 checksums match/);
  assert.match(line(stdout, 'memory'), /^ok\s+memory\s+[\d.]+ GB available of [\d.]+ GB; the bundle needs about [\d.]+ MB/);
  assert.match(line(stdout, 'token'), /does not exist yet: mgie serve creates it \(0600\) on first start/);
  assert.match(line(stdout, 'port'), /^ok\s+port\s+127\.0\.0\.1:\d+ is free for mgie serve/);
  assert.match(stdout, /\nNothing blocks an edit\.\n$/);
  assert.equal(stderr.includes('[E:onnxruntime'), false, 'no raw onnxruntime log');
});

test('a missing bundle blocks an edit: FAIL with what to do, exit 1', async (t) => {
  const { code, stdout } = await doctorAsync(t, ['--bundle', '/nonexistent/mgie-7b']);
  assert.equal(code, 1);
  assert.match(line(stdout, 'bundle'), /^FAIL\s+bundle\s+No bundle folder at \/nonexistent\/mgie-7b\. Pass --bundle/);
  assert.match(stdout, /1 problem \(FAIL\) blocks an edit: fix it and run mgie doctor again\.\n$/);
});

test('a damaged bundle file fails its checksum; MGIE_BUNDLE is read like mgie serve does', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await appendFile(path.join(dir, 'unet.onnx'), Buffer.from([0]));
  const { code, stdout } = await doctorAsync(t, [], undefined, { MGIE_BUNDLE: dir });
  assert.equal(code, 1);
  assert.match(line(stdout, 'bundle'), /unet\.onnx does not match its sha256 in the manifest/);
});

test('a port held by another program is a FAIL; a running MGIE server on it is fine', async (t) => {
  const other = await listenAsync();
  t.after(() => new Promise((resolve) => other.close(resolve)));
  const { port } = other.address() as { port: number };
  const { code, stdout } = await doctorAsync(t, ['--port', String(port)]);
  assert.equal(code, 1);
  assert.match(line(stdout, 'port'), new RegExp(`^FAIL\\s+port\\s+127\\.0\\.0\\.1:${port} is in use by another program: stop it, or start the server with --port N`));

  const mgie = await startTestServerAsync(t, {}, { attach: false });
  const running = await doctorAsync(t, ['--port', String(mgie.port)]);
  assert.match(line(running.stdout, 'port'), new RegExp(`^ok\\s+port\\s+127\\.0\\.0\\.1:${mgie.port}: an MGIE companion server is already running there$`));
});

test('a token file others can read is a warning with the fix, not a failure', { skip: !posix && 'no mode bits on Windows' }, async (t) => {
  const { code, stdout } = await doctorAsync(t, [], async (home) => {
    await mkdir(path.join(home, 'config'), { recursive: true });
    await writeFile(path.join(home, 'config', 'token'), 'x'.repeat(32));
    await chmod(path.join(home, 'config', 'token'), 0o644);
  });
  assert.equal(code, 0);
  assert.match(line(stdout, 'token'), /^WARN\s+token\s+.*token is readable by other users \(0644\): chmod 600 '/);
});

test('the users line counts the tokens per user, and a damaged users.json is a FAIL (mgie serve would refuse to start)', async (t) => {
  const none = await doctorAsync(t);
  assert.match(line(none.stdout, 'users'), /^ok\s+users\s+no tokens per user: everyone uses the single token \(user "default"\).*mgie token add NAME/);
  const two = await doctorAsync(t, [], async (home) => {
    for (const name of ['anna', 'bert']) await addUserAsync(path.join(home, 'config'), name);
  });
  assert.match(line(two.stdout, 'users'), /^ok\s+users\s+2 with a token of their own \(mgie token list\)/);
  const damaged = await doctorAsync(t, [], async (home) => {
    await mkdir(path.join(home, 'config'), { recursive: true });
    await writeFile(path.join(home, 'config', 'users.json'), '{"users": [');
  });
  assert.equal(damaged.code, 1);
  assert.match(line(damaged.stdout, 'users'), /^FAIL\s+users\s+.*users\.json is not valid JSON/);
});

test('--provider that cannot run here is a FAIL naming the cause; --json gives the same checks to scripts', async (t) => {
  if (process.platform === 'darwin') return;
  const { code, stdout } = await doctorAsync(t, ['--provider', 'coreml', '--json']);
  assert.equal(code, 1);
  const report = JSON.parse(stdout);
  assert.equal(report.ok, false);
  const provider = report.checks.find((c: { topic: string }) => c.topic === 'provider');
  assert.deepEqual(provider, { status: 'fail', topic: 'provider', summary: 'The coreml execution provider cannot run here: CoreML runs only on macOS. Or use --provider auto, which picks one that runs.' });
});

test('memory: FAIL when the weights do not fit, WARN when the working set may not', () => {
  const gb = 2 ** 30;
  assert.equal(checkMemory(14 * gb, 8 * gb).status, 'fail');
  assert.equal(checkMemory(14 * gb, 16 * gb).status, 'warn');
  assert.equal(checkMemory(14 * gb, 32 * gb).status, 'ok');
  assert.match(checkMemory(14 * gb, 8 * gb).summary, /the bundle needs about 19\.9 GB: not even its weights fit/);
});
