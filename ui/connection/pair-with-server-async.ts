// The plugin's side of pairing (companion-server/server/pairing/pairing-routes.ts): ask to pair with the
// designer's name, then trade the code shown on the server's terminal for a token of their own. Bodies
// go as text/plain: a CORS "simple" request, which the iframe's `null` origin sends without a preflight.
import type { ServerAddress } from './server-address.ts';

export type PairingRequestResult =
  | { kind: 'code-shown'; pairingId: string; expiresInSeconds: number; codeLength: number }
  | { kind: 'unreachable' }
  /** Refused: pairing off on this server, a Host/Origin refusal, too many requests, or a bad name; `message` says what to do. */
  | { kind: 'refused'; code: string; message: string };

export type PairingConfirmResult =
  | { kind: 'paired'; token: string; user: string }
  | { kind: 'wrong-code'; message: string; triesLeft: number }
  /** Expired, already used, or cancelled after too many wrong codes: only a new pairing helps. */
  | { kind: 'expired'; message: string }
  | { kind: 'unreachable' }
  | { kind: 'refused'; code: string; message: string };

/** The subset of fetch used here, so tests can pass Node's. */
export type PostLike = (url: string, init: { method: 'POST'; headers: Record<string, string>; body: string; signal: AbortSignal; cache: 'no-store' }) => Promise<{ status: number; json(): Promise<unknown> }>;

interface Options {
  fetch?: PostLike;
  timeoutMs?: number;
}

export async function requestPairingAsync(address: ServerAddress, name: string, options: Options = {}): Promise<PairingRequestResult> {
  const answer = await postAsync(`${address.httpBase}/v1/pair`, { name }, options);
  if (answer === undefined) return { kind: 'unreachable' };
  const body = answer.body as { pairingId?: unknown; expiresInSeconds?: unknown; codeLength?: unknown };
  if (answer.status === 202 && typeof body.pairingId === 'string') {
    return { kind: 'code-shown', pairingId: body.pairingId, expiresInSeconds: Number(body.expiresInSeconds) || 300, codeLength: Number(body.codeLength) || 6 };
  }
  return refusedOf(answer);
}

export async function confirmPairingAsync(address: ServerAddress, pairingId: string, code: string, options: Options = {}): Promise<PairingConfirmResult> {
  const answer = await postAsync(`${address.httpBase}/v1/pair/confirm`, { pairingId, code }, options);
  if (answer === undefined) return { kind: 'unreachable' };
  const body = answer.body as { token?: unknown; user?: unknown; triesLeft?: unknown };
  if (answer.status === 200 && typeof body.token === 'string') return { kind: 'paired', token: body.token, user: String(body.user ?? '') };
  const refused = refusedOf(answer);
  if (refused.code === 'MGIE_ERR_PAIRING_CODE_WRONG') return { kind: 'wrong-code', message: refused.message, triesLeft: Number(body.triesLeft) || 0 };
  if (refused.code === 'MGIE_ERR_PAIRING_EXPIRED') return { kind: 'expired', message: refused.message };
  return refused;
}

async function postAsync(url: string, body: object, options: Options): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  const fetchImpl: PostLike = options.fetch ?? ((target, init) => fetch(target, init));
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs ?? 10_000);
  try {
    const response = await fetchImpl(url, { method: 'POST', headers: { 'content-type': 'text/plain;charset=UTF-8' }, body: JSON.stringify(body), signal: controller.signal, cache: 'no-store' });
    const parsed = await response.json().catch(() => null);
    return { status: response.status, body: parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {} };
  } catch {
    // Refused connection, timeout, or an answer without CORS headers (not our server): the browser does not tell them apart.
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

function refusedOf(answer: { status: number; body: Record<string, unknown> }): { kind: 'refused'; code: string; message: string } {
  const code = typeof answer.body.code === 'string' ? answer.body.code : `HTTP_${answer.status}`;
  // A server older than pairing asks for a token (its guard comes before any route) or knows no such path.
  if (code === 'MGIE_ERR_UNAUTHORIZED' || answer.status === 404) return { kind: 'refused', code, message: 'This server is older than pairing. Paste a token instead, or update the server.' };
  const message = typeof answer.body.message === 'string' ? answer.body.message : `The server answered HTTP ${answer.status}.`;
  return { kind: 'refused', code, message };
}
