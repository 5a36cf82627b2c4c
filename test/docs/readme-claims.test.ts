// What the READMEs tell a new user, tried as they would try it: the quick check copied from README.md
// into a shell against a real `mgie serve`, the `--json` fields against a real `mgie edit --json`, the
// files the curl examples send, and the plugin rebuild that a server on another port needs.
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { decodeInputImageAsync } from '../../companion-server/engine/image/decode-input-image.ts';
import { DEFAULT_LIMITS } from '../../companion-server/engine/image/image-limits.ts';
import { startTestServerAsync, TEST_TOKEN } from '../helpers/test-server.ts';
import { tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(repo, 'companion-server/cli/mgie.js');
let dir: string;

before(async () => {
  await tinyBundleDirAsync();
  dir = await mkdtemp(path.join(tmpdir(), 'mgie-docs-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const readDoc = (file: string): Promise<string> => readFile(path.join(repo, file), 'utf8');

function has(command: string): boolean {
  try {
    execFileSync(command, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The process environment without the variables that move the token file or replace it. */
function cleanEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, MGIE_LOG_LEVEL: 'warn' };
  for (const name of ['XDG_CONFIG_HOME', 'XDG_CACHE_HOME', 'MGIE_CONFIG_DIR', 'MGIE_TOKEN', 'MGIE_PORT', 'MGIE_HOST']) delete env[name];
  return env;
}

const quickCheckSkip = process.platform !== 'linux' ? 'the README gives the Linux token path' : !has('curl') ? 'curl is not installed' : !has('bash') ? 'bash is not installed' : false;

test('README quick check: the token line and the curl command, pasted into a shell, get an edited PNG from npm start', { skip: quickCheckSkip }, async (t) => {
  const readme = await readDoc('README.md');
  const block = /A quick check[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'README.md has a quick-check sh block');
  assert.match(block, /^TOKEN=\$\(cat ~\/\.config\/mgie-for-figma\/token\)/m);
  assert.ok(block.includes('http://127.0.0.1:8765/v1/edits'), 'the example targets the default address');

  // a fresh user: nothing in ~/.config yet; what `npm start` runs, on a free port instead of 8765
  const home = path.join(dir, 'home');
  await mkdir(home, { recursive: true });
  const server = spawn(process.execPath, [bin, 'serve', '--port', '0', '--no-cache'], { cwd: repo, env: cleanEnv(home) });
  t.after(() => server.kill('SIGKILL'));
  let banner = '';
  server.stdout.on('data', (chunk) => (banner += chunk));
  const deadline = Date.now() + 60_000;
  while (!/ready at (http:\/\/\S+) /.test(banner) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  const url = /ready at (http:\/\/\S+) /.exec(banner)?.[1];
  assert.ok(url, `the server printed its banner:\n${banner}`);
  const tokenFile = path.join(home, '.config/mgie-for-figma/token');
  assert.ok(banner.includes(`token:    in ${tokenFile}`), 'the banner names the file the README reads');

  // the README's lines as written, in a copy of the repository's examples/ (so edited.png lands there)
  const work = path.join(dir, 'clone');
  await mkdir(path.join(work, 'examples'), { recursive: true });
  await copyFile(path.join(repo, 'examples/landscape.png'), path.join(work, 'examples/landscape.png'));
  const script = block.replaceAll('http://127.0.0.1:8765', url);
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile('bash', ['-e', '-c', script], { cwd: work, env: cleanEnv(home), timeout: 60_000 }, (error, out, err) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout: out, stderr: err }));
  });
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^HTTP\/1\.1 200 OK/);
  assert.match(stdout, /^x-mgie-seed: 13331/m);
  assert.match(stdout, /^x-mgie-expressive-instruction: /m);
  const meta = await sharp(await readFile(path.join(work, 'edited.png'))).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 640, 480]);
});

test('every file a curl example sends exists in the repository, and the sample picture is a small PNG', async () => {
  for (const doc of ['README.md', 'companion-server/PROTOCOL.md', 'companion-server/README.md']) {
    for (const [, file] of (await readDoc(doc)).matchAll(/--data-binary @(\S+)/g)) {
      assert.ok(existsSync(path.join(repo, file)), `${doc} sends @${file}, which a fresh clone does not have`);
    }
  }
  const sample = await readFile(path.join(repo, 'examples/landscape.png'));
  assert.ok(sample.length <= 100 * 1024, `examples/landscape.png is ${sample.length} bytes`);
  assert.equal((await sharp(sample).metadata()).format, 'png');
});

test('README: --json lists exactly the fields `mgie edit --json` prints, and every timing stage', async () => {
  const readme = await readDoc('README.md');
  const bullet = /^- On a terminal it shows a progress bar[\s\S]*?(?=\n- )/m.exec(readme)?.[0];
  assert.ok(bullet, 'README.md has the --json bullet');
  const documented = new Set([...bullet.matchAll(/`([^`]+)`/g)].map((m) => m[1]));

  const out = path.join(dir, 'json.png');
  const stdout = execFileSync(process.execPath, [bin, 'edit', '--image', path.join(repo, 'examples/landscape.png'), '--instruction', 'add fog', '--out', out, '--steps', '1', '--size', '64', '--json'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const summary = JSON.parse(stdout) as Record<string, unknown> & { timings: Record<string, number> };
  const printed = new Set(['--json', ...Object.keys(summary), ...Object.keys(summary.timings)]);
  assert.deepEqual([...documented].sort(), [...printed].sort());
});

test('README and companion-server/README.md: a server on another port needs a plugin built with that address', async () => {
  const pkg = JSON.parse(await readDoc('package.json'));
  const builtIn: string[] = pkg['figma-plugin'].networkAccess.allowedDomains;
  assert.deepEqual(builtIn.sort(), ['http://127.0.0.1:8765', 'http://localhost:8765', 'ws://127.0.0.1:8765', 'ws://localhost:8765']);
  for (const doc of ['README.md', 'companion-server/README.md']) {
    assert.ok((await readDoc(doc)).includes('MGIE_TEAM_SERVER=http://localhost:9000 npm run build'), `${doc} says how to build the plugin for --port 9000`);
  }
  const { default: addTeamServers } = await import(pathToFileURL(path.join(repo, 'build-figma-plugin.manifest.js')).href);
  const saved = process.env.MGIE_TEAM_SERVER;
  process.env.MGIE_TEAM_SERVER = 'http://localhost:9000';
  try {
    const manifest = addTeamServers({ networkAccess: { allowedDomains: builtIn } });
    assert.ok(manifest.networkAccess.allowedDomains.includes('http://localhost:9000'));
    assert.ok(manifest.networkAccess.allowedDomains.includes('ws://localhost:9000'));
  } finally {
    if (saved === undefined) delete process.env.MGIE_TEAM_SERVER;
    else process.env.MGIE_TEAM_SERVER = saved;
  }
});

/** The sample picture in every format the docs list, as a user would have it. */
async function sampleInEveryFormatAsync(): Promise<Record<string, Buffer>> {
  const png = await readFile(path.join(repo, 'examples/landscape.png'));
  const files: Record<string, Buffer> = { png, svg: await readFile(path.join(repo, 'examples/landscape.svg')) };
  for (const format of ['jpeg', 'webp', 'gif', 'tiff', 'avif'] as const) files[format] = await sharp(png).toFormat(format).toBuffer();
  return files;
}

test('input formats: the docs list every format sharp decodes here, and each one decodes', async () => {
  const readable = Object.entries(sharp.format).filter(([id, info]) => id !== 'raw' && info.input.buffer);
  assert.deepEqual(readable.map(([id]) => id).sort(), ['gif', 'heif', 'jpeg', 'png', 'svg', 'tiff', 'webp']);
  assert.deepEqual(sharp.format.heif.input.fileSuffix, ['.avif'], 'heif here means AVIF only (no HEIC)');
  assert.ok((await readDoc('companion-server/README.md')).includes('**PNG, JPEG, WebP, GIF, TIFF, AVIF and SVG**'));
  assert.ok((await readDoc('companion-server/PROTOCOL.md')).includes('PNG, JPEG, WebP, GIF, TIFF, AVIF or SVG'));
  for (const [format, bytes] of Object.entries(await sampleInEveryFormatAsync())) {
    const image = await decodeInputImageAsync(bytes, DEFAULT_LIMITS);
    assert.deepEqual([image.width, image.height], [640, 480], format);
  }
});

test('POST /v1/edits takes PNG, JPEG and WebP by type and any format as octet-stream; other types get 415', async (t) => {
  const { httpUrl } = await startTestServerAsync(t);
  const files = await sampleInEveryFormatAsync();
  const post = (body: Buffer, type: string) =>
    fetch(`${httpUrl}/v1/edits?instruction=add%20fog&steps=1&size=64&seed=1`, { method: 'POST', body: new Uint8Array(body), headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': type } });
  for (const [format, type] of [['png', 'image/png'], ['jpeg', 'image/jpeg'], ['webp', 'image/webp'], ['gif', 'application/octet-stream'], ['tiff', 'application/octet-stream'], ['avif', 'application/octet-stream'], ['svg', 'application/octet-stream']]) {
    const response = await post(files[format], type);
    assert.equal(response.status, 200, `${format} as ${type}: ${await response.clone().text()}`);
    assert.equal(response.headers.get('content-type'), 'image/png');
    const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    assert.deepEqual([meta.width, meta.height], [640, 480], format);
  }
  for (const type of ['image/gif', 'image/svg+xml', 'application/x-www-form-urlencoded']) {
    const response = await post(files.png, type);
    assert.equal(response.status, 415, type);
    assert.equal((await response.json()).code, 'MGIE_ERR_BAD_MESSAGE');
  }
});
