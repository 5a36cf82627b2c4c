// POST /v1/pair and /v1/pair/confirm: a designer gets a token of their own without a terminal path.
// 1. the plugin sends the designer's name; the server prints a one-time code on its terminal (never in
//    the answer) and answers with a pairing id;
// 2. the plugin sends the id and the code the designer typed; a right code adds the designer to
//    users.json (as `mgie token add` does) and answers with their token, once.
// Both paths need no token (that is what they hand out); the Host and Origin guards apply as everywhere.
import path from 'node:path';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MgieError } from '../../engine/errors.ts';
import { RateLimiter } from '../request-guards.ts';
import type { ServerOptions } from '../server-options.ts';
import type { UserDirectory } from '../user-directory.ts';
import { addPairedUserAsync } from '../user-tokens.ts';
import { formatPairingCode, PAIRING_CODE_LENGTH } from './pairing-code.ts';
import { pairingRefusal } from './pairing-policy.ts';
import { PairingRequests } from './pairing-requests.ts';

export const PAIR_PATH = '/v1/pair';
export const PAIR_CONFIRM_PATH = '/v1/pair/confirm';
/** Open (no token), and readable by the plugin's `null` origin. */
export const PAIRING_PATHS: ReadonlySet<string> = new Set([PAIR_PATH, PAIR_CONFIRM_PATH]);

export const MAX_DISPLAY_NAME_LENGTH = 64;
/** The bodies are a few dozen bytes; the app's body limit is an image's. */
const BODY_LIMIT = 4096;

export interface PairingRouteContext {
  options: Pick<ServerOptions, 'pairing' | 'usersFile' | 'announcePairing'>;
  users: UserDirectory;
  log: FastifyBaseLogger;
}

export function registerPairingRoutes(app: FastifyInstance, { options, users, log }: PairingRouteContext): void {
  const { pairing } = options;
  const requests = new PairingRequests({ ttlMs: pairing.codeTtlMs, maxTries: pairing.maxTries, maxPending: pairing.maxPending });
  // Callers have no token yet, so limits are per address (on a local daemon: everyone at once).
  const requestLimiter = new RateLimiter(pairing.requestRate);
  const confirmLimiter = new RateLimiter(pairing.confirmRate);
  const minutes = Math.round(pairing.codeTtlMs / 60_000);

  const refuse = (reply: FastifyReply, error: MgieError, extra: object = {}): FastifyReply => reply.code(error.statusCode).send({ code: error.code, message: error.message, ...extra });
  const refusal = (request: FastifyRequest): MgieError | undefined => {
    const reason = pairingRefusal(pairing.mode, { boundAddress: addressOf(app), headers: request.headers, usersFile: options.usersFile });
    return reason === undefined ? undefined : new MgieError('MGIE_ERR_PAIRING_DISABLED', reason);
  };

  app.post(PAIR_PATH, { bodyLimit: BODY_LIMIT }, async (request, reply) => {
    const refused = refusal(request);
    if (refused) return refuse(reply, refused);
    if (!requestLimiter.take(request.ip)) return refuse(reply, new MgieError('MGIE_ERR_RATE_LIMITED', 'Too many pairing requests from this computer; wait a minute, then pair again.'));
    const displayName = printable(stringField(request.body, 'name') ?? '');
    if (displayName === '' || [...displayName].length > MAX_DISPLAY_NAME_LENGTH) {
      return refuse(reply, new MgieError('MGIE_ERR_BAD_PARAMETER', `Type your name (1 to ${MAX_DISPLAY_NAME_LENGTH} characters): the server shows it next to the code, and your user is named after it.`));
    }
    const started = requests.start(displayName); // MgieError BUSY when too many wait
    const origin = printable(String(request.headers.origin ?? 'none'));
    options.announcePairing(
      [
        '',
        `Pairing request from "${displayName}" (${request.ip}, Origin ${origin}): code ${formatPairingCode(started.code)} — type it in the plugin.`,
        `  It works once, for ${minutes} minutes. If nobody you know asked to pair, ignore it: it expires by itself.`,
        '',
      ].join('\n'),
    );
    log.info({ from: request.ip, pairingId: started.pairingId }, 'pairing requested; its code is on the terminal');
    return reply.code(202).send({
      pairingId: started.pairingId,
      expiresInSeconds: Math.round(pairing.codeTtlMs / 1000),
      codeLength: PAIRING_CODE_LENGTH,
      message: "Type the code shown in the server's terminal.",
    });
  });

  app.post(PAIR_CONFIRM_PATH, { bodyLimit: BODY_LIMIT }, async (request, reply) => {
    const refused = refusal(request);
    if (refused) return refuse(reply, refused);
    if (!confirmLimiter.take(request.ip)) return refuse(reply, new MgieError('MGIE_ERR_RATE_LIMITED', 'Too many codes tried from this computer; wait a few seconds and try again.'));
    const pairingId = stringField(request.body, 'pairingId');
    const code = stringField(request.body, 'code');
    if (pairingId === undefined || code === undefined || pairingId.length > 64 || code.length > 32) {
      return refuse(reply, new MgieError('MGIE_ERR_BAD_PARAMETER', 'Send {"pairingId": "...", "code": "..."}: the id from POST /v1/pair and the code shown in the server\'s terminal.'));
    }
    const outcome = requests.confirm(pairingId, code);
    if (!outcome.ok) {
      if (outcome.reason === 'wrong-code') {
        const tries = `${outcome.triesLeft} ${outcome.triesLeft === 1 ? 'try' : 'tries'} left`;
        return refuse(reply, new MgieError('MGIE_ERR_PAIRING_CODE_WRONG', `That is not the code the server shows. Check it in the server's terminal and try again (${tries}).`), { triesLeft: outcome.triesLeft });
      }
      log.info({ from: request.ip, pairingId, reason: outcome.reason }, 'pairing request ended without a token');
      return refuse(
        reply,
        new MgieError(
          'MGIE_ERR_PAIRING_EXPIRED',
          outcome.reason === 'too-many-tries'
            ? 'Too many wrong codes: this pairing request is cancelled. Pair again to get a new code.'
            : `This pairing request has expired (a code lasts ${minutes} minutes) or was already used. Pair again to get a new code.`,
        ),
      );
    }
    const { user, token } = await addPairedUserAsync(path.dirname(options.usersFile!), outcome.displayName);
    await users.reloadAsync(); // the token works on the very next request, not after the file watch fires
    options.announcePairing(`Paired: "${outcome.displayName}" is now user ${user.name} (see mgie token list; mgie token revoke ${user.name} takes it back).`);
    log.info({ from: request.ip, user: user.name }, 'paired: a new user token');
    return reply.send({ token, user: user.name });
  });
}

/** The address the server listens on, or undefined before listen. */
function addressOf(app: FastifyInstance): string | undefined {
  const address = app.server.address();
  return address !== null && typeof address === 'object' ? address.address : undefined;
}

/**
 * A field of the JSON body. The plugin sends it as text/plain (a "simple" request: a JSON content type
 * would make the browser send a CORS preflight first); scripts may send application/json.
 */
function stringField(body: unknown, name: string): string | undefined {
  let value: unknown = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const field = (value as Record<string, unknown> | null)?.[name];
  return typeof field === 'string' ? field : undefined;
}

/** Without control characters: a name printed on the admin's terminal must not carry escape sequences. */
function printable(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\u2028\u2029]+/gu, ' ').replace(/\s+/g, ' ').trim();
}
