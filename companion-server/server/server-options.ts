import { DEFAULT_LIMITS, type ImageLimits } from '../engine/image/image-limits.ts';
import type { SlowReaderLimits } from './client-hub.ts';
import type { PairingMode } from './pairing/pairing-policy.ts';
import type { UploadSpoolOptions } from './upload-spool.ts';

/** Everything the companion server can be told; every field has a safe default. */
export interface ServerOptions {
  /** 127.0.0.1 unless told otherwise: web pages and the network should not reach the server by accident. */
  host: string;
  port: number;
  /** The single token every API and WebSocket request may carry; it identifies the built-in user `default`. */
  token: string;
  /** Per-user tokens (`mgie token add`), watched while the server runs; null: only the single token. */
  usersFile: string | null;
  /** WebSocket connections one user may have open at once, across all their clients. */
  maxConnectionsPerUser: number;
  /** Host names accepted besides loopback ones (DNS-rebinding defence), e.g. the team box's name. */
  allowedHosts: string[];
  /** Origins accepted besides `null` (the Figma plugin iframe) and no Origin (scripts). */
  allowedOrigins: string[];
  /** Edits running at once (one per GPU is right for MGIE). */
  concurrency: number;
  /** Waiting jobs per user, across all their connections (the name is the protocol's, from before users). */
  maxQueuedPerClient: number;
  maxQueuedTotal: number;
  jobTimeoutMs: number;
  /** Largest image upload, in bytes. */
  maxImageBytes: number;
  limits: ImageLimits;
  /** Submissions per user: a burst of `capacity`, then `refillPerSecond`. */
  rateLimit: { capacity: number; refillPerSecond: number };
  /** At most one preview per job this often. */
  previewIntervalMs: number;
  /** On shutdown the running edit may finish for this long before it is cancelled. */
  shutdownGraceMs: number;
  /** Finished results kept for a client that reconnects, per client. */
  resultsKeptPerClient: number;
  /** ...in bytes across all clients (the oldest go first), and for at most this long. */
  resultsKeptMaxBytes: number;
  resultsKeptForMs: number;
  /** Unsent data a connection may hold before it loses progress events, then is closed (a client that stopped reading). */
  slowReader: SlowReaderLimits;
  cache: { dir: string; maxBytes: number } | null;
  /** Where waiting jobs' uploads wait: files in a private folder under `dir`, at most maxBytes together (upload-spool.ts). */
  uploadSpool: UploadSpoolOptions;
  /** PEM certificate and key for HTTPS/WSS; null behind a TLS-terminating proxy or on loopback. */
  tls: { cert: Buffer; key: Buffer } | null;
  /** Pairing from the plugin (POST /v1/pair, pairing/pairing-policy.ts): who may, and its limits. */
  pairing: PairingOptions;
  /** Where a pairing code is shown: the server's terminal (stderr), never the HTTP answer. Tests read it here. */
  announcePairing: (text: string) => void;
}

export interface PairingOptions {
  mode: PairingMode;
  /** How long a code is valid. */
  codeTtlMs: number;
  /** Wrong codes a request survives. */
  maxTries: number;
  /** Requests waiting for their code at once, from everyone together. */
  maxPending: number;
  /** Pairing requests per caller address: a burst of `capacity`, then `refillPerSecond`. */
  requestRate: { capacity: number; refillPerSecond: number };
  /** Code confirmations per caller address. */
  confirmRate: { capacity: number; refillPerSecond: number };
}

export const DEFAULT_SERVER_OPTIONS: Omit<ServerOptions, 'token'> = {
  host: '127.0.0.1',
  port: 8765,
  allowedHosts: [],
  allowedOrigins: [],
  usersFile: null,
  maxConnectionsPerUser: 8,
  concurrency: 1,
  maxQueuedPerClient: 10,
  maxQueuedTotal: 100,
  jobTimeoutMs: 10 * 60_000,
  maxImageBytes: 32 * 2 ** 20,
  limits: DEFAULT_LIMITS,
  rateLimit: { capacity: 20, refillPerSecond: 1 },
  previewIntervalMs: 250,
  shutdownGraceMs: 30_000,
  resultsKeptPerClient: 20,
  resultsKeptMaxBytes: 256 * 2 ** 20,
  resultsKeptForMs: 30 * 60_000,
  slowReader: { dropProgressBytes: 1 << 20, closeBytes: 64 << 20 },
  cache: null,
  uploadSpool: { dir: null, maxBytes: 2 * 2 ** 30, inMemoryMaxBytes: 256 * 2 ** 10 },
  tls: null,
  pairing: {
    mode: 'auto',
    codeTtlMs: 5 * 60_000,
    maxTries: 5,
    maxPending: 8,
    requestRate: { capacity: 5, refillPerSecond: 1 / 30 },
    confirmRate: { capacity: 10, refillPerSecond: 1 },
  },
  announcePairing: (text) => process.stderr.write(`${text}\n`),
};

/** The largest WebSocket frame: an image upload plus its JSON header. */
export function maxFrameBytes(options: Pick<ServerOptions, 'maxImageBytes'>): number {
  return options.maxImageBytes + 64 * 1024;
}
