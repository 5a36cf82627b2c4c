// Pure checks the server applies to every HTTP request and WebSocket upgrade. A page in the user's
// browser can reach a localhost server, so: the Host header defends against DNS rebinding, the Origin
// header against cross-site WebSocket hijacking, and the token is what actually identifies a client.
import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant-time token comparison. Hashing both sides first gives equal-length buffers, so neither the
 * content nor the length of the expected token leaks through timing.
 */
export function tokensMatch(given: string | undefined, expected: string): boolean {
  if (!given || !expected) return false;
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * The client's token: `Authorization: Bearer X`, else the `token` query parameter (browsers cannot
 * set headers on a WebSocket, so the plugin passes it in the URL).
 */
export function tokenFromRequest(
  headers: Record<string, string | string[] | undefined>,
  url: string,
): string | undefined {
  const key = Object.keys(headers).find((name) => name.toLowerCase() === 'authorization');
  const raw = key === undefined ? undefined : headers[key];
  const authorization = Array.isArray(raw) ? raw[0] : raw;
  const match = authorization?.match(/^\s*Bearer\s+(\S+)\s*$/i);
  if (match) return match[1];
  try {
    return new URL(url, 'http://localhost').searchParams.get('token') || undefined;
  } catch {
    return undefined;
  }
}

/** Lower-cased host name without port, brackets or trailing dot; undefined when malformed. */
function hostName(value: string): string | undefined {
  let host = value.trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end < 0 || !/^(:\d+)?$/.test(host.slice(end + 1))) return undefined;
    host = host.slice(1, end);
  } else if (host.split(':').length === 2) {
    const [name, port] = host.split(':');
    if (!/^\d+$/.test(port)) return undefined;
    host = name;
  } // more than one colon and no brackets: a bare IPv6 address, no port
  if (host.endsWith('.')) host = host.slice(0, -1);
  return host || undefined;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '0:0:0:0:0:0:0:1') return true;
  const v4 = host.replace(/^::ffff:/, '').match(/^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
  return v4 !== null && v4.slice(1).every((octet) => Number(octet) <= 255);
}

/** True for a Host header (or bound address) that names this computer's loopback interface. */
export function isLoopbackHost(hostHeader: string | undefined): boolean {
  const host = hostHeader === undefined ? undefined : hostName(hostHeader);
  return host !== undefined && isLoopback(host);
}

/**
 * DNS-rebinding defence: a rebound page sends its own name (evil.com) as Host even though the packets
 * reach 127.0.0.1, so only loopback names and names the user configured (e.g. a team GPU box) pass.
 */
export function isAllowedHost(hostHeader: string | undefined, allowedHosts: readonly string[]): boolean {
  if (!hostHeader) return false;
  const host = hostName(hostHeader);
  if (host === undefined) return false;
  return isLoopback(host) || allowedHosts.some((allowed) => hostName(allowed) === host);
}

/** scheme://host[:port], lower-cased, default port and path dropped; undefined when unparsable. */
function normalizeOrigin(value: string): string | undefined {
  try {
    const url = new URL(value.trim());
    // URL.origin is "null" for non-special schemes (app://...); rebuild it ourselves then.
    return url.origin !== 'null' ? url.origin : `${url.protocol}//${url.host}`.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * Cross-site WebSocket hijacking defence (browsers send Origin but WebSockets ignore same-origin).
 * - No Origin: not a browser page (curl, scripts, the CLI); the token still has to match.
 * - `null`: what the Figma plugin iframe sends, but so does any sandboxed iframe or file:// page
 *   anywhere on the web. It identifies nothing, so it is allowed only because the token is required.
 * - Anything else: exact match with a configured origin.
 */
export function isAllowedOrigin(originHeader: string | undefined, allowedOrigins: readonly string[]): boolean {
  if (originHeader === undefined) return true;
  if (originHeader.trim() === 'null') return true;
  const origin = normalizeOrigin(originHeader);
  return origin !== undefined && allowedOrigins.some((allowed) => normalizeOrigin(allowed) === origin);
}

export interface RateLimiterOptions {
  /** Burst size: how many takes a fresh key gets at once. */
  capacity: number;
  refillPerSecond: number;
  /** Milliseconds clock, for tests. */
  now?: () => number;
  /** Most keys remembered; the least recently used beyond this are forgotten. Default 10 000. */
  maxKeys?: number;
}

/** Token bucket per key (client address, token, ...), so one client cannot flood the queue. */
export class RateLimiter {
  private readonly capacity: number;
  private readonly refillPerMs: number;
  private readonly now: () => number;
  private readonly maxKeys: number;
  // Map iteration order is insertion order; re-inserting on each take keeps it least-recent first.
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: RateLimiterOptions) {
    if (!(options.capacity >= 1)) throw new Error('RateLimiter capacity must be at least 1.');
    if (!(options.refillPerSecond > 0)) throw new Error('RateLimiter refillPerSecond must be positive.');
    this.capacity = options.capacity;
    this.refillPerMs = options.refillPerSecond / 1000;
    this.now = options.now ?? Date.now;
    this.maxKeys = Math.max(1, options.maxKeys ?? 10_000);
  }

  /** Spends one token for `key`; false when the key is out of tokens. */
  take(key: string): boolean {
    const now = this.now();
    const bucket = this.buckets.get(key);
    let tokens = this.capacity;
    if (bucket) {
      tokens = Math.min(this.capacity, bucket.tokens + Math.max(0, now - bucket.at) * this.refillPerMs);
      this.buckets.delete(key);
    }
    const allowed = tokens >= 1;
    this.buckets.set(key, { tokens: allowed ? tokens - 1 : tokens, at: now });
    this.forgetIdle(now);
    return allowed;
  }

  /** Number of keys remembered (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private forgetIdle(now: number): void {
    // A key idle long enough to be full again behaves exactly like an unknown key: drop it. Oldest
    // first, stopping at the first one still refilling, so this is amortised O(1).
    const fullAfterMs = this.capacity / this.refillPerMs;
    for (const [key, bucket] of this.buckets) {
      const idleFull = now - bucket.at >= fullAfterMs;
      if (!idleFull && this.buckets.size <= this.maxKeys) break;
      this.buckets.delete(key); // over maxKeys: the least recently used key loses its history
    }
  }
}
