// Why a connection failed. A browser hides the HTTP status of a refused WebSocket upgrade (a wrong token
// looks exactly like a server that is down), so the UI asks GET /v1/info, which the server answers with
// CORS headers for the plugin's `null` origin. The token goes in the query: a custom header would need a
// CORS preflight.
import type { ServerInfo } from '../../companion-server/protocol/messages.ts';
import type { ServerAddress } from './server-address.ts';

export type ProbeResult =
  | { kind: 'ok'; info: ServerInfo }
  | { kind: 'unreachable' }
  | { kind: 'token-rejected' }
  /** The server refused this host name or origin; `message` is the server's, which says what to set. */
  | { kind: 'forbidden'; message: string }
  | { kind: 'failed'; message: string };

/** The subset of fetch used here, so tests can pass Node's. */
export type FetchLike = (url: string, init: { signal: AbortSignal; cache: 'no-store' }) => Promise<{ status: number; json(): Promise<unknown> }>;

export async function probeServerAsync(address: ServerAddress, token: string, options: { fetch?: FetchLike; timeoutMs?: number } = {}): Promise<ProbeResult> {
  const fetchImpl: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 5000);
  try {
    const response = await fetchImpl(`${address.httpBase}/v1/info?token=${encodeURIComponent(token)}`, { signal: controller.signal, cache: 'no-store' });
    const body = (await response.json().catch(() => null)) as { message?: unknown } | null;
    if (response.status === 200 && body !== null) return { kind: 'ok', info: body as ServerInfo };
    if (response.status === 401) return { kind: 'token-rejected' };
    const message = typeof body?.message === 'string' ? body.message : `The server answered HTTP ${response.status}.`;
    if (response.status === 403) return { kind: 'forbidden', message };
    return { kind: 'failed', message };
  } catch {
    // A network error, a refused connection, a timeout or a response without CORS headers (not our
    // server): the browser does not tell them apart.
    return { kind: 'unreachable' };
  } finally {
    clearTimeout(timer);
  }
}
