// `npm run bench:scale`: the scale-out deployment on the tiny bundle with real processes (a private
// redis-server, one `mgie serve --queue` front, `mgie worker`s with one thread each). Prints the overhead
// Redis adds per job (end-to-end time of a lone job minus the engine's own stage times) and throughput
// with 1 and then 2 workers. Asserts nothing; exits non-zero when a job fails.
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import WebSocket from 'ws';
import { decodeBinaryFrame, encodeBinaryFrame } from '../../companion-server/protocol/messages.ts';
import { spawn } from 'node:child_process';
import { cleanEnv, MGIE_BIN } from '../helpers/run-mgie.ts';
import { RedisProcess, RunningProcess, startFrontAsync, startWorkerAsync } from '../helpers/scale-out-processes.ts';
import { TEST_TOKEN } from '../helpers/test-server.ts';

const LONE_JOBS = 20;
const BATCH_JOBS = 16;
const OVERHEAD_TARGET_MS = 25;
const LONE = { steps: 2, size: 64 };
const BATCH = { steps: 20, size: 128 };

let seed = 1;

/** One client connection that submits edits and resolves each with its result header and end time. */
class BenchClient {
  private readonly pending = new Map<string, { resolve: (r: { header: any; at: number }) => void; reject: (e: Error) => void }>();
  private readonly accepted = new Map<string, string>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      const at = performance.now();
      if (isBinary) {
        const { header } = decodeBinaryFrame(new Uint8Array(data)) as { header: any };
        if (header.type === 'result') this.pending.get(header.clientJobId)?.resolve({ header, at });
        return;
      }
      const message = JSON.parse(data.toString());
      if (message.type === 'error' && message.clientJobId) this.pending.get(message.clientJobId)?.reject(new Error(`${message.code}: ${message.message}`));
    });
  }

  static async connectAsync(url: string): Promise<BenchClient> {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    return new BenchClient(socket);
  }

  submitAsync(image: Buffer, parameters: object): Promise<{ header: any; at: number }> {
    const clientJobId = `b${seed}`;
    const done = new Promise<{ header: any; at: number }>((resolve, reject) => this.pending.set(clientJobId, { resolve, reject }));
    this.socket.send(encodeBinaryFrame({ type: 'submit', clientJobId, instruction: 'make it look like autumn', parameters: { ...parameters, seed: seed++ } }, image));
    return done;
  }

  close(): void {
    this.socket.terminate();
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Jobs per second for a batch submitted at once, one client each (as designers do; per-client limits stay out of it). */
async function throughputAsync(url: string, image: Buffer): Promise<number> {
  const clients = await Promise.all(Array.from({ length: BATCH_JOBS }, () => BenchClient.connectAsync(url)));
  const started = performance.now();
  await Promise.all(clients.map((client) => client.submitAsync(image, BATCH)));
  const seconds = (performance.now() - started) / 1000;
  for (const client of clients) client.close();
  return BATCH_JOBS / seconds;
}

/** Lone jobs one after another (nobody waits): end to end minus the engine's stage times, the first a warm-up. */
async function loneJobOverheadsAsync(url: string, image: Buffer): Promise<number[]> {
  const overheads: number[] = [];
  for (let i = -1; i < LONE_JOBS; i++) {
    const client = await BenchClient.connectAsync(url);
    const submittedAt = performance.now();
    const { header, at } = await client.submitAsync(image, LONE);
    const engineMs = Object.values(header.timings as Record<string, number>).reduce((sum, ms) => sum + ms, 0);
    client.close();
    if (i >= 0) overheads.push(at - submittedAt - engineMs);
  }
  return overheads;
}

const image = await sharp({ create: { width: 128, height: 96, channels: 3, background: '#808080' } }).png().toBuffer();
// 0. the same measure on the in-process server (`mgie serve` without --queue), in a process of its own
const local = spawn(process.execPath, [MGIE_BIN, 'serve', '--port', '0', '--token', TEST_TOKEN, '--threads', '1', '--no-cache'], { env: cleanEnv({ MGIE_LOG_LEVEL: 'warn', MGIE_CONFIG_DIR: await mkdtemp(path.join(tmpdir(), 'mgie-scale-bench-local-')) }), stdio: ['ignore', 'pipe', 'pipe'] });
const localProcess = new RunningProcess('in-process server', local);
const localUrl = (await localProcess.waitForOutput(/ready at (http:\/\/\S+) /))[1];
const inProcess = await loneJobOverheadsAsync(`${localUrl.replace(/^http/, 'ws')}/v1/ws`, image);
await localProcess.stopAsync('SIGKILL');

const redis = await RedisProcess.startAsync();
const configDir = await mkdtemp(path.join(tmpdir(), 'mgie-scale-bench-'));
const env = { redisUrl: redis.url, configDir };
const processes: RunningProcess[] = [];
try {
  const front = await startFrontAsync(env);
  processes.push(front.process);
  processes.push(await startWorkerAsync(env));
  while ((await fetch(`${front.httpUrl}/readyz`)).status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
  // 1. overhead: lone jobs, one after another (nobody waits), end to end minus the engine's stage times
  const overheads = await loneJobOverheadsAsync(front.wsUrl, image);
  // 2. throughput with one worker, then two
  const one = await throughputAsync(front.wsUrl, image);
  processes.push(await startWorkerAsync(env));
  await new Promise((resolve) => setTimeout(resolve, 1500)); // the second worker's heartbeat and first poll
  const two = await throughputAsync(front.wsUrl, image);

  const median = percentile(overheads, 50);
  console.log(`scale-out bench on the tiny bundle, ${availableParallelism()} CPU cores, workers with --threads 1`);
  console.log(`  overhead per job (end to end minus engine stages, ${LONE_JOBS} lone ${LONE.size} px jobs): in-process median ${percentile(inProcess, 50).toFixed(1)} ms, p90 ${percentile(inProcess, 90).toFixed(1)} ms`);
  console.log(`    with Redis (front + worker): median ${median.toFixed(1)} ms, p90 ${percentile(overheads, 90).toFixed(1)} ms; added by Redis: ${(median - percentile(inProcess, 50)).toFixed(1)} ms (target < ${OVERHEAD_TARGET_MS} ms)`);
  console.log(`  throughput, ${BATCH_JOBS} jobs of ${BATCH.steps} steps at ${BATCH.size} px submitted at once: 1 worker ${one.toFixed(2)} jobs/s, 2 workers ${two.toFixed(2)} jobs/s (x${(two / one).toFixed(2)})`);
} finally {
  for (const process of processes) await process.stopAsync('SIGKILL');
  await redis.destroyAsync();
  await rm(configDir, { recursive: true, force: true });
}
