// The `mgie` command as a user runs it: a real process, its stdout, stderr and exit code.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, type TestContext, test } from 'node:test';
import sharp from 'sharp';
import { cleanEnv, MGIE_BIN as bin, type MgieRun, runMgieAsync } from '../helpers/run-mgie.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { copyTinyBundleAsync, tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';
let dir: string;
let input: string;

before(async () => {
  await tinyBundleDirAsync();
  dir = await mkdtemp(path.join(tmpdir(), 'mgie-cli-'));
  input = path.join(dir, 'in.png');
  await writeFile(input, await samplePhotoAsync(120, 90));
});
after(() => rm(dir, { recursive: true, force: true }));

function mgie(...args: string[]): Promise<MgieRun> {
  return runMgieAsync(args);
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
  // 120x90 at size 128: a 128x96 region padded to a 128x128 canvas: latents 1x4x16x16
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
  assert.match(stderr, /--instruction or --instruction-file is required/);
  assert.match(stderr, /Usage: mgie edit/);
});

test('a non-numeric value exits 2 naming the flag', async () => {
  const { code, stderr } = await mgie('edit', '--image', input, '--instruction', 'x', '--out', path.join(dir, 'x.png'), '--steps', 'many');
  assert.equal(code, 2);
  assert.match(stderr, /--steps must be a whole number, got "many"/);
});

test('--size-mode native edits at the image\'s own size; an unknown mode exits 2 naming the choices', async () => {
  const { code, stdout, stderr } = await mgie('edit', '--image', input, '--instruction', 'add fog', '--out', path.join(dir, 'native.png'), '--steps', '1', '--size-mode', 'native', '--json');
  assert.equal(code, 0, stderr);
  const summary = JSON.parse(stdout);
  // 120x90: floored to 120x88 as diffusers does, centred on a 128x128 canvas
  assert.deepEqual([summary.sizeMode, summary.editWidth, summary.editHeight, summary.editRegion], ['native', 128, 128, { left: 0, top: 16, width: 120, height: 88 }]);
  assert.deepEqual([summary.width, summary.height], [120, 90]);
  const unknown = await mgie('edit', '--image', input, '--instruction', 'x', '--out', path.join(dir, 'x.png'), '--size-mode', 'stretch');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--size-mode must be one of fit, native, got "stretch"/);
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

test('mgie serve: ready banner without the token, health answers, a loose cache folder tightened, SIGTERM shuts down with exit 0', async (t) => {
  const { spawn } = await import('node:child_process');
  const configDir = path.join(dir, 'config');
  // A result cache an older version made readable by everyone.
  const cacheDir = path.join(dir, 'cache');
  await mkdir(cacheDir, { recursive: true });
  await chmod(cacheDir, 0o755);
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--cache-dir', cacheDir], { env: cleanEnv({ MGIE_CONFIG_DIR: configDir, MGIE_LOG_LEVEL: 'warn' }) });
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
  // --provider auto by default: the banner names what it chose and why each other GPU provider is not used
  assert.match(stdout, /\n {2}provider: (cpu|cuda|webgpu|coreml|dml), chosen by --provider auto/);
  if (process.platform !== 'darwin') assert.match(stdout, /\n {12}coreml: CoreML runs only on macOS\n/);
  assert.equal((await fetch(`${url}/readyz`)).status, 200);
  // per-user tokens: a user added by another mgie process gets in without a restart
  assert.match(stdout, /\n {2}users: {4}the token above is the only one \(user "default"\); give each designer their own with mgie token add NAME/);
  const added = await runMgieAsync(['token', 'add', 'anna'], { env: cleanEnv({ MGIE_CONFIG_DIR: configDir }) });
  const annaToken = added.stdout.trimEnd().split('\n').at(-1)!;
  const infoAsync = () => fetch(`${url}/v1/info`, { headers: { authorization: `Bearer ${annaToken}` } });
  for (const until = Date.now() + 10_000; (await infoAsync()).status !== 200 && Date.now() < until; ) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal((await (await infoAsync()).json()).user, 'anna');
  if (process.platform !== 'win32') {
    assert.match(stdout, /warning: {2}The result cache .*cache was readable by other users; it is now 0700/);
    assert.equal((await stat(cacheDir)).mode & 0o777, 0o700);
  }
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('mgie serve with a short token exits 1 with one line', async () => {
  const { code, stderr } = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, [bin, 'serve', '--port', '0', '--token', 'short'], { timeout: 30_000, env: cleanEnv() }, (error, _out, err) => resolve({ code: (error as { code?: number })?.code ?? 0, stderr: err }));
  });
  assert.equal(code, 1);
  assert.match(stderr, /^mgie: The given token .* is too short: use at least 16 characters \[MGIE_ERR_BAD_PARAMETER\]\n$/);
});

// ---- the first hour: mistakes are reported at once, plainly, and never cost a run ----------------

const quickEdit = ['--steps', '1', '--size', '64'];

/** A copy of the tiny bundle whose UNet is damaged: loading it fails, so an error about anything else proves nothing was loaded. */
async function damagedBundleAsync(t: TestContext): Promise<string> {
  const bundle = await copyTinyBundleAsync(t);
  await writeFile(path.join(bundle, 'unet.onnx'), 'not a model');
  return bundle;
}

test('--help and -h print the command usage on stdout and exit 0', async () => {
  for (const [command, usage] of [['edit', /^Usage: mgie edit/], ['serve', /^Usage: mgie serve/]] as const) {
    for (const flag of ['--help', '-h']) {
      const { code, stdout, stderr } = await mgie(command, flag);
      assert.equal(code, 0, `${command} ${flag}: ${stderr}`);
      assert.match(stdout, usage);
      assert.equal(stderr, '');
    }
  }
  const withOthers = await mgie('edit', '--image', input, '--help');
  assert.equal(withOthers.code, 0, withOthers.stderr);
});

test('--threads is bounded (1 to 1024) for edit and serve alike', async () => {
  for (const command of ['edit', 'serve']) {
    for (const threads of ['0', '99999', 'many']) {
      const { code, stderr } = await mgie(command, '--threads', threads, ...(command === 'edit' ? ['--image', input, '--instruction', 'x', '--out', path.join(dir, 'x.png')] : ['--port', '0', '--no-cache']));
      assert.equal(code, 2, `${command} --threads ${threads}: ${stderr}`);
      assert.match(stderr, new RegExp(`--threads must be a whole number from 1 to 1024, got "${threads}"`));
    }
  }
});

test('--seed -1 and --seed=-1 draw a random seed; other negative seeds are a range error', async () => {
  for (const seed of [['--seed', '-1'], ['--seed=-1']]) {
    const { code, stdout, stderr } = await mgie('edit', '--image', input, '--instruction', 'add snow', '--out', path.join(dir, 'seed.png'), ...quickEdit, ...seed, '--json', '--bundle', await tinyBundleDirAsync());
    assert.equal(code, 0, stderr);
    const drawn = JSON.parse(stdout).seed;
    assert.ok(Number.isInteger(drawn) && drawn >= 0, `drew ${drawn}`);
  }
  for (const seed of [['--seed', '-5'], ['--seed=-2']]) {
    const { code, stderr } = await mgie('edit', '--image', input, '--instruction', 'x', '--out', path.join(dir, 'x.png'), ...seed);
    assert.equal(code, 2, stderr);
    assert.match(stderr, /--seed must be a whole number from 0 to 4294967295, or -1 for a random seed, got "-[52]"/);
  }
});

test('inputs are checked before the bundle loads: instruction, parameters, image, output', async (t) => {
  const bundle = await damagedBundleAsync(t);
  const out = path.join(dir, 'checked.png');
  const base = ['edit', '--bundle', bundle, ...quickEdit];
  // The control: with good inputs this bundle is loaded, and fails.
  const loaded = await mgie(...base, '--image', input, '--instruction', 'x', '--out', out);
  assert.equal(loaded.code, 1);
  assert.match(loaded.stderr, /unet\.onnx does not match its sha256/);

  const longFile = path.join(dir, 'long.txt');
  await writeFile(longFile, 'a'.repeat(50_000));
  const wide = path.join(dir, 'wide.png');
  await writeFile(wide, await samplePhotoAsync(1100, 300));
  const cases: [string[], RegExp][] = [
    // 50,000 characters on the command line made onnxruntime's session creation crash (exit 139).
    [['--image', input, '--out', out, '--instruction', 'a'.repeat(50_000)], /The instruction is 50000 characters long; the limit is 1000\. Shorten it\./],
    [['--image', input, '--out', out, '--instruction-file', longFile], /The instruction is 50000 characters long/],
    [['--image', input, '--out', out, '--instruction', '   '], /The instruction is empty/],
    [['--image', input, '--out', out, '--instruction', 'x', '--size', '100'], /size must be a multiple of 64 from 64 to 1024, got 100/],
    [['--image', wide, '--out', out, '--instruction', 'x', '--size-mode', 'native'], /1100x300 pixels; size mode "native" edits at the image's own size .* Use size mode "fit"/],
    [['--image', path.join(dir, 'nope.png'), '--out', out, '--instruction', 'x'], /Cannot read the image .*nope\.png \(ENOENT\)/],
    [['--image', longFile, '--out', out, '--instruction', 'x'], /The image could not be read/],
    [['--image', input, '--out', path.join(dir, 'no-such-folder', 'out.png'), '--instruction', 'x'], /Cannot write .*out\.png: the folder .*no-such-folder does not exist\. Create it, or choose another --out\./],
    [['--image', input, '--out', path.join(input, 'out.png'), '--instruction', 'x'], /in\.png is a file, not a folder/],
  ];
  for (const [args, message] of cases) {
    const { code, stderr } = await mgie(...base, ...args);
    assert.equal(code, 1, `${args.join(' ').slice(0, 120)}: ${stderr}`);
    assert.match(stderr, message);
    assert.doesNotMatch(stderr, /sha256/, 'nothing was loaded');
  }
});

test('--instruction-file reads UTF-8 from a file or stdin (-); the limit counts characters, not UTF-16 units', async () => {
  const file = path.join(dir, 'emoji.txt');
  // 600 emoji: 1200 UTF-16 units, 600 characters (the limit is 1000).
  await writeFile(file, `\uFEFF${'🍂'.repeat(600)}\n`);
  const fromFile = await mgie('edit', '--image', input, '--instruction-file', file, '--out', path.join(dir, 'emoji.png'), ...quickEdit, '--json');
  assert.equal(fromFile.code, 0, fromFile.stderr);
  const fromStdin = await runMgieAsync(['edit', '--image', input, '--instruction-file', '-', '--out', path.join(dir, 'stdin.png'), ...quickEdit, '--json'], { stdin: 'make it look like autumn\n' });
  assert.equal(fromStdin.code, 0, fromStdin.stderr);
  assert.equal(JSON.parse(fromStdin.stdout).out, path.join(dir, 'stdin.png'));

  await writeFile(file, '🍂'.repeat(1001));
  const tooLong = await mgie('edit', '--image', input, '--instruction-file', file, '--out', path.join(dir, 'x.png'));
  assert.match(tooLong.stderr, /The instruction is 1001 characters long; the limit is 1000/);
  const emptyStdin = await runMgieAsync(['edit', '--image', input, '--instruction-file', '-', '--out', path.join(dir, 'x.png')], { stdin: '' });
  assert.match(emptyStdin.stderr, /The instruction is empty/);
  await writeFile(file, Buffer.from([0x6d, 0x61, 0x6b, 0xe9, 0x20])); // Latin-1, not UTF-8
  const latin1 = await mgie('edit', '--image', input, '--instruction-file', file, '--out', path.join(dir, 'x.png'));
  assert.equal(latin1.code, 1);
  assert.match(latin1.stderr, /emoji\.txt is not UTF-8 text\. Save it as UTF-8\./);
  const missing = await mgie('edit', '--image', input, '--instruction-file', path.join(dir, 'none.txt'), '--out', path.join(dir, 'x.png'));
  assert.match(missing.stderr, /Cannot read the instruction file .*none\.txt \(ENOENT\)/);
  const both = await mgie('edit', '--image', input, '--instruction', 'x', '--instruction-file', file, '--out', path.join(dir, 'x.png'));
  assert.equal(both.code, 2);
  assert.match(both.stderr, /not both/);
});

test('--out writes the format its extension asks for; PNG and WebP keep transparency, JPEG is flattened', async () => {
  const transparent = path.join(dir, 'transparent.png');
  await writeFile(transparent, await samplePhotoAsync(96, 64, { alpha: true }));
  const magic: Record<string, (bytes: Buffer) => boolean> = {
    png: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
    jpg: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
    JPEG: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
    webp: (b) => b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP',
  };
  for (const [extension, isFormat] of Object.entries(magic)) {
    const out = path.join(dir, `night.${extension}`);
    const { code, stderr } = await mgie('edit', '--image', transparent, '--instruction', 'turn the day into night', '--out', out, ...quickEdit);
    assert.equal(code, 0, stderr);
    const bytes = await readFile(out);
    assert.ok(isFormat(bytes), `${extension}: starts with ${bytes.subarray(0, 12).toString('hex')}`);
    const meta = await sharp(bytes).metadata();
    assert.deepEqual([meta.width, meta.height], [96, 64]);
    assert.equal(meta.hasAlpha, !/jpe?g/i.test(extension), `${extension} alpha`);
  }
  const gif = await mgie('edit', '--image', input, '--instruction', 'x', '--out', path.join(dir, 'night.gif'));
  assert.equal(gif.code, 2);
  assert.match(gif.stderr, /mgie does not write "\.gif" files; end it in one of \.png, \.jpg, \.jpeg, \.webp\./);
  const folder = path.join(dir, 'folder.png');
  await mkdir(folder, { recursive: true });
  const intoFolder = await mgie('edit', '--image', input, '--instruction', 'x', '--out', folder);
  assert.equal(intoFolder.code, 1);
  assert.match(intoFolder.stderr, /--out .*folder\.png is a folder; give a file name/);
});

test('MGIE_BUNDLE names the bundle for mgie edit; --bundle wins over it', async () => {
  const missing = path.join(dir, 'env-bundle');
  const args = ['edit', '--image', input, '--instruction', 'add fog', '--out', path.join(dir, 'env.png'), ...quickEdit];
  const fromEnv = await runMgieAsync(args, { env: cleanEnv({ MGIE_BUNDLE: missing }) });
  assert.equal(fromEnv.code, 1);
  assert.match(fromEnv.stderr, /No bundle folder at .*env-bundle/);
  const flagWins = await runMgieAsync([...args, '--bundle', await tinyBundleDirAsync()], { env: cleanEnv({ MGIE_BUNDLE: missing }) });
  assert.equal(flagWins.code, 0, flagWins.stderr);
  assert.doesNotMatch(flagWins.stderr, /not meaningful/, 'a named bundle gets no tiny-bundle notice');
});
