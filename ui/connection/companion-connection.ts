// The plugin's one WebSocket to the companion server: connects, tells the UI what state it is in (and,
// when it fails, why, via probeServerAsync), reconnects with backoff, and re-attaches to the same
// clientId so jobs that ran while the connection was down are delivered afterwards.
import {
  type ClientMessage,
  decodeBinaryFrame,
  encodeSubmitFrame,
  PROTOCOL_VERSION,
  type ServerBinaryHeader,
  type ServerMessage,
  type SubmitHeader,
} from '../../companion-server/protocol/messages.ts';
import { type FetchLike, probeServerAsync } from './probe-server-async.ts';
import { reconnectDelayMs } from './reconnect-delay.ts';
import type { ServerAddress } from './server-address.ts';

/** Application close codes (PROTOCOL.md, "Close codes"): reconnecting would only be closed again. */
const CLOSE_TOKEN_REVOKED = 4001;
const CLOSE_TOO_MANY_CONNECTIONS = 4002;

export type Hello = Extract<ServerMessage, { type: 'hello' }>;

export type ConnectionStatus =
  | { state: 'connecting'; attempt: number }
  | { state: 'connected'; hello: Hello }
  /** Retrying by itself at `retryAt` (ms since epoch). */
  | { state: 'unreachable'; retryAt: number; attempt: number }
  /** These wait for the designer (new token, server settings): retrying cannot help. */
  | { state: 'token-rejected' }
  | { state: 'forbidden'; message: string }
  | { state: 'incompatible'; message: string };

/** The part of the browser WebSocket used here; `ws` in Node tests fits it too. */
export interface WebSocketLike {
  binaryType: string;
  onopen: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export interface CompanionConnectionOptions {
  address: ServerAddress;
  token: string;
  onStatus(status: ConnectionStatus): void;
  onMessage(message: ServerMessage): void;
  onBinary(header: ServerBinaryHeader, payload: Uint8Array): void;
  createSocket?: (url: string) => WebSocketLike;
  fetch?: FetchLike;
  /** Backoff, for tests. */
  delayMs?: (attempt: number) => number;
}

export class CompanionConnection {
  private socket: WebSocketLike | null = null;
  private socketOpen = false;
  private clientId: string | undefined;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = true;
  private statusValue: ConnectionStatus = { state: 'connecting', attempt: 0 };

  constructor(private readonly options: CompanionConnectionOptions) {}

  get status(): ConnectionStatus {
    return this.statusValue;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  /** Closes for good (settings changed, UI closing); no more callbacks. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, 'plugin closed');
  }

  /** "Retry now" while unreachable or after the token was rejected. */
  retryNow(): void {
    if (this.stopped || this.socket !== null) return;
    clearTimeout(this.retryTimer);
    this.connect();
  }

  /** False when not connected: nothing was sent. A region mask (same size as the image) follows the image in the frame. */
  submit(header: Omit<SubmitHeader, 'type' | 'maskBytes'>, image: Uint8Array, mask?: Uint8Array): boolean {
    return this.sendRaw(encodeSubmitFrame({ type: 'submit', ...header }, image, mask));
  }

  cancel(jobId: string): boolean {
    return this.send({ type: 'cancel', jobId });
  }

  send(message: ClientMessage): boolean {
    return this.sendRaw(JSON.stringify(message));
  }

  private sendRaw(data: string | Uint8Array): boolean {
    if (this.socket === null || !this.socketOpen || this.statusValue.state !== 'connected') return false;
    this.socket.send(data);
    return true;
  }

  private setStatus(status: ConnectionStatus): void {
    this.statusValue = status;
    if (!this.stopped) this.options.onStatus(status);
  }

  private connect(): void {
    this.setStatus({ state: 'connecting', attempt: this.attempt });
    const query = new URLSearchParams({ token: this.options.token });
    if (this.clientId) query.set('clientId', this.clientId);
    const createSocket = this.options.createSocket ?? ((url: string) => new WebSocket(url) as unknown as WebSocketLike);
    let socket: WebSocketLike;
    try {
      socket = createSocket(`${this.options.address.wsUrl}?${query}`);
    } catch {
      // The browser throws synchronously for a URL it refuses (e.g. blocked by the manifest's networkAccess).
      void this.diagnoseAsync();
      return;
    }
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    this.socketOpen = false;
    let greeted = false;
    socket.onopen = () => {
      this.socketOpen = true;
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      if (typeof event.data === 'string') {
        let message: ServerMessage;
        try {
          message = JSON.parse(event.data) as ServerMessage;
        } catch {
          return; // not ours to crash on: the server only sends JSON text
        }
        if (message.type === 'hello') {
          greeted = true;
          this.onHello(message);
          return;
        }
        this.options.onMessage(message);
      } else if (event.data instanceof ArrayBuffer) {
        try {
          const { header, payload } = decodeBinaryFrame(new Uint8Array(event.data));
          this.options.onBinary(header as ServerBinaryHeader, payload);
        } catch {
          // a malformed frame: skip it, the job will still end with a result or an error
        }
      }
    };
    socket.onerror = () => {};
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.socketOpen = false;
      if (this.stopped) return;
      if (event?.code === CLOSE_TOKEN_REVOKED) this.setStatus({ state: 'token-rejected' });
      else if (event?.code === CLOSE_TOO_MANY_CONNECTIONS) {
        this.setStatus({ state: 'forbidden', message: `${event.reason || 'Too many connections open with your token.'} Then press Retry.` });
      } else if (greeted) {
        // It worked until now (server restart, sleep, network change): try again at once.
        this.attempt = 0;
        this.scheduleRetry(0);
      } else void this.diagnoseAsync();
    };
  }

  private onHello(hello: Hello): void {
    if (hello.protocol !== PROTOCOL_VERSION) {
      // Reconnecting cannot help: report, then stop.
      this.setStatus({ state: 'incompatible', message: `The server speaks protocol ${hello.protocol}; this plugin speaks ${PROTOCOL_VERSION}. Update the one that is older.` });
      this.stop();
      return;
    }
    this.clientId = hello.clientId;
    this.attempt = 0;
    this.setStatus({ state: 'connected', hello });
  }

  private async diagnoseAsync(): Promise<void> {
    const probe = await probeServerAsync(this.options.address, this.options.token, { fetch: this.options.fetch });
    if (this.stopped || this.socket !== null) return;
    if (probe.kind === 'token-rejected') this.setStatus({ state: 'token-rejected' });
    else if (probe.kind === 'forbidden') this.setStatus({ state: 'forbidden', message: probe.message });
    else {
      const delay = (this.options.delayMs ?? reconnectDelayMs)(this.attempt);
      this.attempt += 1;
      this.scheduleRetry(delay);
      this.setStatus({ state: 'unreachable', retryAt: Date.now() + delay, attempt: this.attempt });
    }
  }

  private scheduleRetry(delay: number): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (!this.stopped && this.socket === null) this.connect();
    }, delay);
  }
}
