// `npm run bench:memory [-- --clients N --uploads N]`: a real `mgie serve` process on the tiny bundle;
// one client runs an edit of a 32 MB image while N clients each upload N more 32 MB images, which wait.
// Prints the server's peak RSS against the documented bound, model + budget (README, "Memory"), where
// "model" is its RSS once ready. Asserts nothing, but exits non-zero when the peak passes the bound, an
// upload is refused for another reason than a full queue or spool, or the spool folder outlives the server.
import { spawn } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import WebSocket from 'ws';
import { encodeBinaryFrame, type ServerMessage, WEBSOCKET_PATH } from '../../companion-server/protocol/messages.ts';
import { memoryBudget } from '../../companion-server/server/memory-budget.ts';
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from '../../companion-server/server/server-options.ts';
import { MGIE_BIN, cleanEnv } from '../helpers/run-mgie.ts';
import { tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

const MiB = 2 ** 20;
const { values } = parseArgs({ options: { clients: { type: 'string', default: '6' }, uploads: { type: 'string', default: '3' } } });
const CLIENTS = Number(values.clients);
const UPLOADS_PER_CLIENT = Number(values.uploads);
const mb = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MB`;

function vmKiB(pid: number, key: 'VmRSS' | 'VmHWM', text: string): number {
  const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
  if (!match) throw new Error(`no ${key} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

async function memoryOfAsync(pid: number): Promise<{ rss: number; peak: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  return { rss: vmKiB(pid, 'VmRSS', text), peak: vmKiB(pid, 'VmHWM', text) };
}

/** A valid PNG just under the upload limit: noise stored uncompressed (about 10.6 megapixels). */
async function bigPngAsync(limit: number): Promise<Buffer> {
  const side = Math.floor(Math.sqrt((limit - 512 * 1024) / 3));
  const pixels = randomFillSync(Buffer.alloc(side * side * 3));
  return sharp(pixels, { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
}

interface BenchClient {
  socket: WebSocket;
  messages: ServerMessage[];
  /** Binary frames received (results; previews are not asked for). */
  results: number;
}

function connectAsync(url: string, token: string, clientId: string): Promise<BenchClient> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${url}?clientId=${clientId}`, { headers: { authorization: `Bearer ${token}` } });
    const client: BenchClient = { socket, messages: [], results: 0 };
    socket.on('message', (data, isBinary) => {
      if (isBinary) client.results += 1;
      else client.messages.push(JSON.parse(data.toString()) as ServerMessage);
    });
    socket.once('open', () => resolve(client));
    socket.once('error', reject);
  });
}

async function waitForAsync(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function mainAsync(): Promise<boolean> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'mgie-memory-bench-'));
  const token = randomBytes(16).toString('hex');
  const bundle = await tinyBundleDirAsync();
  const child = spawn(process.execPath, [MGIE_BIN, 'serve', '--bundle', bundle, '--port', '0', '--no-cache', '--spool-dir', work], {
    env: cleanEnv({ MGIE_TOKEN: token, MGIE_CONFIG_DIR: work, MGIE_LOG_LEVEL: 'warn' }),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await waitForAsync(() => /ready at http:\/\/[^:]+:(\d+)/.test(output), 120_000, 'the server to be ready');
    const port = Number(/ready at http:\/\/[^:]+:(\d+)/.exec(output)![1]);
    const url = `ws://127.0.0.1:${port}${WEBSOCKET_PATH}`;
    const pid = child.pid!;
    const model = (await memoryOfAsync(pid)).rss;

    const big = await bigPngAsync(DEFAULT_SERVER_OPTIONS.maxImageBytes);
    const { width } = await sharp(big).metadata();
    console.log(`\nmgie serve (pid ${pid}) on the tiny bundle: RSS once ready ${mb(model)} (the model part)`);
    console.log(`uploads: ${mb(big.length)} PNG (${width}x${width}, ${((width! * width!) / 1e6).toFixed(1)} MP); 1 running edit of one, ${CLIENTS} clients x ${UPLOADS_PER_CLIENT} waiting`);

    let sampledPeak = model;
    const sampler = setInterval(() => {
      memoryOfAsync(pid).then(({ rss }) => (sampledPeak = Math.max(sampledPeak, rss)), () => undefined);
    }, 50);

    // The running edit: one of the big images, long enough (200 steps) for every upload to arrive meanwhile.
    const runner = await connectAsync(url, token, `runner-${randomBytes(4).toString('hex')}`);
    runner.socket.send(encodeBinaryFrame({ type: 'submit', clientJobId: 'run', instruction: 'add snow', parameters: { steps: 200, size: 512, seed: 1 } }, big));
    await waitForAsync(() => runner.messages.some((m) => m.type === 'started'), 60_000, 'the running edit to start');

    const sendingAt = Date.now();
    const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => connectAsync(url, token, `uploader-${i}-${randomBytes(4).toString('hex')}`)));
    for (const client of clients) {
      for (let j = 0; j < UPLOADS_PER_CLIENT; j++) {
        client.socket.send(encodeBinaryFrame({ type: 'submit', clientJobId: `u${j}`, instruction: 'add snow', parameters: { steps: 2, size: 64 } }, big));
      }
    }
    const answered = (c: { messages: ServerMessage[] }): number => c.messages.filter((m) => m.type === 'accepted' || (m.type === 'error' && 'clientJobId' in m)).length;
    await waitForAsync(() => clients.every((c) => answered(c) >= UPLOADS_PER_CLIENT), 600_000, 'every upload to be accepted or refused');
    const seconds = (Date.now() - sendingAt) / 1000;
    const accepted = clients.flatMap((c) => c.messages.filter((m) => m.type === 'accepted'));
    const refused = clients.flatMap((c) => c.messages.filter((m): m is Extract<ServerMessage, { type: 'error' }> => m.type === 'error'));
    const folder = (await readdir(work)).find((name) => name.startsWith(`mgie-uploads-${pid}-`));
    const spooled = folder ? await Promise.all((await readdir(path.join(work, folder))).map((name) => stat(path.join(work, folder, name)).then((s) => s.size))) : [];
    const runnerStillRunning = runner.results === 0 && !runner.messages.some((m) => m.type === 'error' || m.type === 'cancelled');
    const started = clients.reduce((n, c) => n + c.messages.filter((m) => m.type === 'started').length, 0);
    const memory = await memoryOfAsync(pid);
    clearInterval(sampler);

    const options: ServerOptions = { ...DEFAULT_SERVER_OPTIONS, token };
    const connections = CLIENTS + 1;
    const budget = memoryBudget(options, connections);
    const bound = model + budget.reduce((sum, item) => sum + item.bytes, 0);
    const peak = Math.max(memory.peak, sampledPeak);
    console.log(`  ${accepted.length} uploads accepted, ${refused.length} refused (${[...new Set(refused.map((m) => m.code))].join(', ') || 'none'}) in ${seconds.toFixed(1)} s; the first edit ${runnerStillRunning ? 'still running' : 'ended'}, ${started} uploaded edits started`);
    console.log(`  spool folder: ${spooled.length} files, ${mb(spooled.reduce((a, b) => a + b, 0))} on disk`);
    console.log(`  server RSS: now ${mb(memory.rss)}, peak ${mb(peak)} = model ${mb(model)} + ${mb(peak - model)}; without the spool the waiting uploads alone would be ${mb(accepted.length * big.length)}`);
    console.log(`  documented bound for ${connections} connections: model ${mb(model)} + budget ${mb(bound - model)} = ${mb(bound)}`);
    for (const item of budget) console.log(`    ${item.name.padEnd(26)} ${mb(item.bytes).padStart(8)}  ${item.formula}`);
    const unexpected = refused.filter((m) => m.code !== 'MGIE_ERR_BUSY');
    for (const m of unexpected) console.log(`  unexpected refusal: ${m.code}: ${m.message}`);

    for (const client of [runner, ...clients]) client.socket.terminate();
    child.kill('SIGTERM');
    const code = await exited;
    const leftover = folder ? await stat(path.join(work, folder)).then(() => true, () => false) : false;
    console.log(`  server exited with ${code}; spool folder ${leftover ? 'LEFT BEHIND' : 'removed'}`);
    const ok = peak <= bound && unexpected.length === 0 && !leftover && code === 0;
    console.log(ok ? '  peak within the bound' : '  FAILED: see above');
    return ok;
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(work, { recursive: true, force: true });
  }
}

mainAsync().then(
  (ok) => (process.exitCode = ok ? 0 : 1),
  (error) => {
    console.error(`memory bench failed: ${(error as Error).stack ?? error}`);
    process.exitCode = 1;
  },
);
