// The `mgie` command as a user runs it: a real process, its stdout, stderr and exit code.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../companion-server/cli/mgie.js');
let dir: string;
let input: string;

before(async () => {
  await tinyBundleDirAsync();
  dir = await mkdtemp(path.join(tmpdir(), 'mgie-cli-'));
  input = path.join(dir, 'in.png');
  await writeFile(input, await samplePhotoAsync(120, 90));
});
after(() => rm(dir, { recursive: true, force: true }));

function mgie(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('mgie edit --json prints one JSON object and writes the PNG at the input size', async () => {
  const out = path.join(dir, 'out.png');
  const { code, stdout, stderr } = await mgie('edit', '--image', input, '--instruction', 'make it look like autumn', '--out', out, '--seed', '7', '--steps', '3', '--size', '128', '--json');
  assert.equal(code, 0, stderr);
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const summary = JSON.parse(lines[0]);
  assert.equal(summary.seed, 7);
  assert.equal(summary.steps, 3);
  assert.deepEqual([summary.width, summary.height], [120, 90]);
  assert.equal(summary.bundle, 'mgie-tiny');
  assert.match(stderr, /not meaningful/, 'the tiny-bundle notice goes to stderr, keeping stdout one JSON object');
  assert.equal(typeof summary.expressiveInstruction, 'string');
  for (const stage of ['prepare', 'vision', 'generate', 'condition', 'encode', 'diffuse', 'decode']) assert.equal(typeof summary.timings[stage], 'number');
  const meta = await sharp(await readFile(out)).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 120, 90]);
});

test('without --bundle it says the tiny bundle edits are not meaningful', async () => {
  const { code, stderr } = await mgie('edit', '--image', input, '--instruction', 'add snow', '--out', path.join(dir, 'o2.png'), '--steps', '1', '--size', '64');
  assert.equal(code, 0, stderr);
  assert.match(stderr, /not meaningful/);
  assert.match(stderr, /MGIE imagines: /);
});

test('a missing flag exits 2 with the usage', async () => {
  const { code, stderr } = await mgie('edit', '--image', input, '--out', path.join(dir, 'x.png'));
  assert.equal(code, 2);
  assert.match(stderr, /--instruction is required/);
  assert.match(stderr, /Usage: mgie edit/);
});

test('a non-numeric value exits 2 naming the flag', async () => {
  const { code, stderr } = await mgie('edit', '--image', input, '--instruction', 'x', '--out', path.join(dir, 'x.png'), '--steps', 'many');
  assert.equal(code, 2);
  assert.match(stderr, /--steps must be a whole number, got "many"/);
});

test('errors are one line that says what to do, with exit code 1', async () => {
  const cases: [string[], RegExp][] = [
    [['--image', path.join(dir, 'nope.png')], /Cannot read the image .*nope\.png \(ENOENT\)\. Check the path\./],
    [['--image', input, '--bundle', path.join(dir, 'no-bundle')], /No bundle folder at .*MGIE_ERR_BUNDLE_NOT_FOUND/],
    [['--image', input, '--steps', '0'], /steps must be a whole number from 1 to 200/],
  ];
  for (const [args, pattern] of cases) {
    const { code, stderr } = await mgie('edit', '--instruction', 'x', '--out', path.join(dir, 'x.png'), ...args);
    assert.equal(code, 1, stderr);
    assert.match(stderr, pattern);
    assert.equal(stderr.trim().split('\n').filter((l) => l.startsWith('mgie:')).length, 1, stderr);
  }
});

test('an unknown command exits 2', async () => {
  const { code, stderr } = await mgie('paint');
  assert.equal(code, 2);
  assert.match(stderr, /unknown command "paint"/);
});

test('mgie serve: ready banner without the token, health answers, SIGTERM shuts down with exit 0', async (t) => {
  const { spawn } = await import('node:child_process');
  const configDir = path.join(dir, 'config');
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--no-cache'], { env: { ...process.env, MGIE_CONFIG_DIR: configDir, MGIE_LOG_LEVEL: 'warn' } });
  t.after(() => child.kill('SIGKILL'));
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (!/ready at (http:\/\/\S+) /.test(stdout) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  const url = /ready at (http:\/\/\S+) /.exec(stdout)![1];
  const token = (await readFile(path.join(configDir, 'token'), 'utf8')).trim();
  assert.ok(!stdout.includes(token), 'the banner names the token file but never prints the token');
  assert.match(stdout, /not meaningful/);
  assert.equal((await fetch(`${url}/readyz`)).status, 200);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('mgie serve with a short token exits 1 with one line', async () => {
  const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, [bin, 'serve', '--port', '0', '--token', 'short'], { timeout: 30_000 }, (error, _out, err) => resolve({ code: (error as { code?: number })?.code ?? 0, stderr: err }));
  });
  assert.equal(code, 1);
  assert.match(stderr, /^mgie: The given token .* is too short: use at least 16 characters \[MGIE_ERR_BAD_PARAMETER\]\n$/);
});
