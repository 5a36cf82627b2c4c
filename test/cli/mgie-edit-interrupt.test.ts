// Ctrl+C (and SIGTERM) during `mgie edit` on a terminal: the progress bar hides the cursor, so the
// command must show it again and exit 130 / 143. A real terminal: util-linux `script` gives the
// command a pseudo-terminal, and Ctrl+C is typed into it, so the terminal itself sends SIGINT.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cleanEnv, MGIE_BIN } from '../helpers/run-mgie.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const skip = process.platform !== 'linux' || spawnSync('script', ['--version']).status !== 0 ? 'needs Linux and util-linux script (a pseudo-terminal)' : false;

let dir: string;
let input: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mgie-interrupt-'));
  input = path.join(dir, 'in.png');
  await writeFile(input, await samplePhotoAsync(64, 48));
});
after(() => rm(dir, { recursive: true, force: true }));

const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/** Starts a long edit on a pseudo-terminal, interrupts it once the progress bar is up, returns what the terminal saw. */
async function interruptAsync(interrupt: (script: ReturnType<typeof spawn>) => void, out: string): Promise<{ code: number | null; screen: string }> {
  // 200 steps at 512: many model runs, so the edit is still running when the interrupt arrives.
  const args = ['edit', '--image', input, '--instruction', 'add snow', '--out', out, '--steps', '200', '--size', '512', '--bundle', await tinyBundleDirAsync()];
  const command = `exec ${[process.execPath, MGIE_BIN, ...args].map(quote).join(' ')}`;
  const script = spawn('script', ['-qefc', command, '/dev/null'], { env: cleanEnv({ TERM: 'xterm' }), stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let interrupted = false;
  const exited = new Promise<number | null>((resolve) => script.once('exit', (code) => resolve(code)));
  const onOutput = (chunk: Buffer) => {
    screen += chunk.toString('latin1');
    if (!interrupted && screen.includes(HIDE_CURSOR)) {
      interrupted = true;
      interrupt(script);
    }
  };
  script.stdout!.on('data', onOutput);
  script.stderr!.on('data', onOutput);
  const timer = setTimeout(() => script.kill('SIGKILL'), 120_000);
  const code = await exited;
  clearTimeout(timer);
  script.stdin!.end();
  assert.ok(interrupted, `the progress bar never showed:\n${screen}`);
  return { code, screen };
}

function assertRestored(screen: string): void {
  assert.ok(screen.lastIndexOf(SHOW_CURSOR) > screen.lastIndexOf(HIDE_CURSOR), `the cursor was left hidden:\n${JSON.stringify(screen.slice(-300))}`);
}

test('Ctrl+C during mgie edit shows the cursor again, writes nothing and exits 130', { skip }, async () => {
  const out = path.join(dir, 'sigint.png');
  const { code, screen } = await interruptAsync((script) => script.stdin!.write('\x03'), out);
  assert.equal(code, 130, screen);
  assertRestored(screen);
  assert.match(screen, /mgie: interrupted \(SIGINT\)\./);
  await assert.rejects(access(out), 'no output file');
});

test('SIGTERM during mgie edit shows the cursor again and exits 143', { skip }, async () => {
  const out = path.join(dir, 'sigterm.png');
  const { code, screen } = await interruptAsync((script) => {
    // `exec` made mgie script's only child.
    readFile(`/proc/${script.pid}/task/${script.pid}/children`, 'utf8').then((children) => process.kill(Number(children.trim().split(/\s+/)[0]), 'SIGTERM'));
  }, out);
  assert.equal(code, 143, screen);
  assertRestored(screen);
  assert.match(screen, /mgie: interrupted \(SIGTERM\)\./);
});
