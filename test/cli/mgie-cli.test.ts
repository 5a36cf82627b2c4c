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

/** A float32 .npy file, as np.save writes it (format 1.0, header padded to 64 bytes). */
function npyFloat32(values: Float32Array, shape: number[]): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const prefix = Buffer.alloc(10);
  prefix.write('\x93NUMPY', 0, 'latin1');
  prefix.writeUInt8(1, 6);
  prefix.writeUInt16LE(header.length, 8);
  return Buffer.concat([prefix, Buffer.from(header, 'latin1'), Buffer.from(values.buffer, values.byteOffset, values.byteLength)]);
}

test('mgie edit --initial-noise takes the start latents from a .npy file and reports the generated ids', async () => {
  const base = ['edit', '--image', input, '--instruction', 'add fog', '--steps', '2', '--size', '128', '--scheduler', 'ddim', '--json'];
  const noisePath = path.join(dir, 'noise.npy');
  // 120x90 at size 128 edits at 128x128 (each side rounded to a multiple of 64): latents 1x4x16x16
  const noise = Float32Array.from({ length: 4 * 16 * 16 }, (_, i) => Math.sin(i));
  await writeFile(noisePath, npyFloat32(noise, [1, 4, 16, 16]));
  const runs = [];
  for (const seed of ['1', '2']) {
    const out = path.join(dir, `noise-${seed}.png`);
    const { code, stdout, stderr } = await mgie(...base, '--out', out, '--seed', seed, '--initial-noise', noisePath);
    assert.equal(code, 0, stderr);
    const summary = JSON.parse(stdout);
    assert.ok(Array.isArray(summary.generatedIds) && Number.isInteger(summary.imgHiddenStart));
    runs.push(await readFile(out));
  }
  assert.ok(runs[0].equals(runs[1]), 'with given noise and DDIM the seed no longer matters');

  await writeFile(noisePath, npyFloat32(noise.subarray(1), [1023]));
  const wrong = await mgie(...base, '--out', path.join(dir, 'x.png'), '--initial-noise', noisePath);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /initial noise has 1023 values; this edit's latents have 1024/);
  await writeFile(noisePath, 'not numpy');
  const garbage = await mgie(...base, '--out', path.join(dir, 'x.png'), '--initial-noise', noisePath);
  assert.match(garbage.stderr, /is not a float32 \.npy file: no NumPy magic/);
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
