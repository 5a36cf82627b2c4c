// A scale-out deployment as an admin runs it, for tests and the bench: a real redis-server on a free
// port, real `mgie serve --queue` fronts and `mgie worker` processes on the tiny bundle.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MGIE_BIN, cleanEnv } from './run-mgie.ts';
import { TEST_TOKEN } from './test-server.ts';

/** Why the scale-out tests cannot run here, or null (CI installs redis-server: .ci/run). */
export function redisMissingReason(): string | null {
  try {
    execFileSync(process.env.MGIE_REDIS_SERVER ?? 'redis-server', ['--version'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'redis-server is not installed (apt-get install redis-server; .ci/run installs it)';
  }
}

export async function freePortAsync(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A child process whose output is collected, with a wait for a line that says it is ready. */
export class RunningProcess {
  output = '';
  exitCode: number | null | undefined;
  readonly exited: Promise<void>;

  constructor(readonly name: string, readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk) => (this.output += chunk));
    child.stderr?.on('data', (chunk) => (this.output += chunk));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      this.exitCode = code ?? (signal ? -1 : null);
      resolve();
    }));
  }

  async waitForOutput(pattern: RegExp, timeoutMs = 60_000, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.output.slice(from));
      if (match) return match;
      if (this.exitCode !== undefined) throw new Error(`${this.name} exited (${this.exitCode}) before printing ${pattern}:\n${this.output}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  get alive(): boolean {
    return this.exitCode === undefined;
  }

  async stopAsync(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.alive) return;
    this.child.kill(signal);
    await this.exited;
  }
}

export class RedisProcess {
  private process: RunningProcess | undefined;

  private constructor(readonly port: number, readonly dir: string) {}

  /** A private redis-server; with `persist`, an append-only file in its folder survives a restart. */
  static async startAsync(options: { persist?: boolean } = {}): Promise<RedisProcess> {
    const dir = await mkdtemp(path.join(tmpdir(), 'mgie-redis-'));
    const redis = new RedisProcess(await freePortAsync(), dir);
    redis.persist = options.persist ?? false;
    await redis.restartAsync();
    return redis;
  }

  private persist = false;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async restartAsync(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', this.persist ? 'yes' : 'no', '--loglevel', 'warning'];
    const child = spawn(process.env.MGIE_REDIS_SERVER ?? 'redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = new RunningProcess('redis-server', child);
    // Ready once it accepts a connection.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await new Promise<boolean>((resolve) => {
        const socket = connect(this.port, '127.0.0.1', () => {
          socket.end();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      if (ok) return;
      if (!this.process.alive || Date.now() > deadline) throw new Error(`redis-server did not start on port ${this.port}:\n${this.process.output}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** SIGTERM: with persistence, Redis writes its data before it exits. */
  async stopAsync(): Promise<void> {
    await this.process?.stopAsync('SIGTERM');
  }

  async destroyAsync(): Promise<void> {
    await this.process?.stopAsync('SIGKILL');
    await rm(this.dir, { recursive: true, force: true });
  }
}

export interface ScaleOutEnv {
  redisUrl: string;
  configDir: string;
  /** Short lock and stalled-check times, so a killed worker's job comes back within seconds. */
  lockMs?: number;
  prefix?: string;
}

function scaleOutEnv(env: ScaleOutEnv): NodeJS.ProcessEnv {
  return cleanEnv({ MGIE_CONFIG_DIR: env.configDir, MGIE_LOG_LEVEL: 'info', MGIE_QUEUE_LOCK_MS: String(env.lockMs ?? 2000), ...(env.prefix ? { MGIE_QUEUE_PREFIX: env.prefix } : {}) });
}

export interface Front {
  process: RunningProcess;
  port: number;
  httpUrl: string;
  wsUrl: string;
}

/** `mgie serve --queue`, on a given port (so a restarted front comes back where its clients expect it). */
export async function startFrontAsync(env: ScaleOutEnv, port?: number): Promise<Front> {
  const args = ['serve', '--queue', env.redisUrl, '--port', String(port ?? (await freePortAsync())), '--token', TEST_TOKEN];
  const child = spawn(process.execPath, [MGIE_BIN, ...args], { env: scaleOutEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const running = new RunningProcess('front', child);
  const match = await running.waitForOutput(/ready at (http:\/\/\S+) /);
  const httpUrl = match[1];
  return { process: running, port: Number(new URL(httpUrl).port), httpUrl, wsUrl: `${httpUrl.replace(/^http/, 'ws')}/v1/ws` };
}

export async function startWorkerAsync(env: ScaleOutEnv, extraArgs: string[] = []): Promise<RunningProcess> {
  const child = spawn(process.execPath, [MGIE_BIN, 'worker', '--queue', env.redisUrl, '--threads', '1', ...extraArgs], { env: scaleOutEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const running = new RunningProcess('worker', child);
  await running.waitForOutput(/MGIE worker \S+ taking edits/);
  return running;
}
