// A real companion server on a free port with the tiny bundle, and a real WebSocket client.
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import WebSocket from 'ws';
import { MgiePipeline } from '../../companion-server/engine/mgie-pipeline.ts';
import { decodeBinaryFrame, encodeBinaryFrame, type SubmitHeader } from '../../companion-server/protocol/messages.ts';
import { buildApp, type MgieApp } from '../../companion-server/server/build-app.ts';
import type { EditEngine } from '../../companion-server/server/edit-engine.ts';
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from '../../companion-server/server/server-options.ts';
import { tinyBundleDirAsync } from './tiny-bundle.ts';

export const TEST_TOKEN = 'test-token-0123456789abcdef';

let sharedPipeline: Promise<MgiePipeline> | undefined;
/** One pipeline for all servers of a test file (sessions are created once per bundle). */
export function tinyPipelineAsync(): Promise<MgiePipeline> {
  sharedPipeline ??= tinyBundleDirAsync().then((dir) => MgiePipeline.loadAsync(dir));
  return sharedPipeline;
}

export interface TestServer {
  server: MgieApp;
  port: number;
  httpUrl: string;
  wsUrl: string;
}

/** `listenHost`: where the server listens (default 127.0.0.1); 0.0.0.0 plays a team box, still reached at 127.0.0.1. */
export async function startTestServerAsync(t: TestContext, overrides: Partial<ServerOptions> = {}, options: { attach?: boolean; engine?: EditEngine; listenHost?: string } = {}): Promise<TestServer> {
  const server = buildApp({ ...DEFAULT_SERVER_OPTIONS, port: 0, token: TEST_TOKEN, shutdownGraceMs: 2000, ...overrides });
  // `engine`: e.g. the models in their own thread, as `mgie serve` runs them; else the shared in-thread pipeline.
  if (options.engine) server.attachEngine(options.engine);
  else if (options.attach !== false) server.attachPipeline(await tinyPipelineAsync());
  await server.app.listen({ host: options.listenHost ?? '127.0.0.1', port: overrides.port ?? 0 });
  t.after(() => server.closeAsync().catch(() => undefined));
  const { port } = server.app.server.address() as AddressInfo;
  return { server, port, httpUrl: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/v1/ws` };
}

export type Received = { kind: 'json'; message: any } | { kind: 'binary'; header: any; payload: Uint8Array };

/** A protocol client that records everything it receives, in order. */
export class TestClient {
  readonly received: Received[] = [];
  private waiters: Array<() => void> = [];
  closeCode: number | undefined;
  closeReason: string | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        const { header, payload } = decodeBinaryFrame(new Uint8Array(data));
        this.received.push({ kind: 'binary', header, payload: payload.slice() });
      } else this.received.push({ kind: 'json', message: JSON.parse(data.toString()) });
      this.notify();
    });
    socket.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.notify();
    });
  }

  static connectAsync(t: TestContext, url: string, options: { clientId?: string; token?: string | null; headers?: Record<string, string> } = {}): Promise<TestClient> {
    const query = options.clientId ? `?clientId=${options.clientId}` : '';
    const token = options.token === undefined ? TEST_TOKEN : options.token;
    const socket = new WebSocket(url + query, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...options.headers } });
    const client = new TestClient(socket);
    t.after(() => socket.terminate());
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(client));
      socket.once('unexpected-response', (req, res) => {
        req.destroy(); // ws leaves the refused request open otherwise
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { statusCode: res.statusCode }));
      });
      socket.once('error', reject);
    });
  }

  submit(header: Omit<SubmitHeader, 'type'>, image: Uint8Array): void {
    this.socket.send(encodeBinaryFrame({ type: 'submit', ...header }, image));
  }

  sendJson(message: unknown): void {
    this.socket.send(JSON.stringify(message));
  }

  /** Waits for the first received item (from `from` on) that matches; fails after `timeoutMs`. */
  async waitFor(match: (item: Received) => boolean, timeoutMs = 20_000, from = 0): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.slice(from).find(match);
      if (found) return found;
      if (this.closeCode !== undefined) throw new Error(`socket closed (${this.closeCode}) while waiting; received: ${this.describe()}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting; received: ${this.describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  waitForJson(type: string, where: (m: any) => boolean = () => true, timeoutMs?: number): Promise<any> {
    return this.waitFor((r) => r.kind === 'json' && r.message.type === type && where(r.message), timeoutMs).then((r) => (r as { message: any }).message);
  }

  waitForResult(jobId: string, timeoutMs?: number): Promise<{ header: any; payload: Uint8Array }> {
    return this.waitFor((r) => r.kind === 'binary' && r.header.type === 'result' && r.header.jobId === jobId, timeoutMs) as Promise<any>;
  }

  jsonOfType(type: string): any[] {
    return this.received.filter((r) => r.kind === 'json' && r.message.type === type).map((r) => (r as { message: any }).message);
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private describe(): string {
    return this.received.map((r) => (r.kind === 'json' ? r.message.type + (r.message.code ? `:${r.message.code}` : '') : `binary:${r.header.type}`)).join(',');
  }
}
