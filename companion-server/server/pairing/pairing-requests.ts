// Pairing requests waiting for their code: each has a one-time code that only the server's terminal
// shows, expires, allows a few wrong tries, and there are never more than a few at once (a page that
// floods /v1/pair cannot fill memory or the admin's terminal).
import { randomBytes } from 'node:crypto';
import { MgieError } from '../../engine/errors.ts';
import { generatePairingCode, pairingCodeMatches } from './pairing-code.ts';

export interface PairingRequestsOptions {
  /** How long a code is valid. */
  ttlMs: number;
  /** Wrong codes a request survives; the next wrong one cancels it. */
  maxTries: number;
  /** Requests waiting at once, from all callers together. */
  maxPending: number;
  /** Milliseconds clock, for tests. */
  now?: () => number;
}

export interface StartedPairing {
  /** Names the request in the confirm call; it is not a secret (the code is). */
  pairingId: string;
  /** Shown on the server's terminal only, never sent to the caller. */
  code: string;
  expiresAt: number;
}

export type PairingConfirmation =
  | { ok: true; displayName: string }
  | { ok: false; reason: 'wrong-code'; triesLeft: number }
  | { ok: false; reason: 'too-many-tries' | 'expired' };

interface Pending {
  code: string;
  displayName: string;
  expiresAt: number;
  triesLeft: number;
}

export class PairingRequests {
  private readonly pending = new Map<string, Pending>();
  private readonly now: () => number;

  constructor(private readonly options: PairingRequestsOptions) {
    this.now = options.now ?? Date.now;
  }

  start(displayName: string): StartedPairing {
    this.forgetExpired();
    if (this.pending.size >= this.options.maxPending) {
      throw new MgieError('MGIE_ERR_BUSY', `${this.pending.size} pairing requests are already waiting for their code. Finish one of them, or wait ${Math.ceil(this.options.ttlMs / 60_000)} minutes until they expire, then pair again.`);
    }
    const pairingId = randomBytes(16).toString('base64url');
    const code = generatePairingCode();
    const expiresAt = this.now() + this.options.ttlMs;
    this.pending.set(pairingId, { code, displayName, expiresAt, triesLeft: this.options.maxTries });
    return { pairingId, code, expiresAt };
  }

  /** Checks the typed code; a right one ends the request (a code works once). */
  confirm(pairingId: string, typedCode: string): PairingConfirmation {
    this.forgetExpired();
    const request = this.pending.get(pairingId);
    if (!request) return { ok: false, reason: 'expired' };
    if (pairingCodeMatches(typedCode, request.code)) {
      this.pending.delete(pairingId);
      return { ok: true, displayName: request.displayName };
    }
    request.triesLeft -= 1;
    if (request.triesLeft > 0) return { ok: false, reason: 'wrong-code', triesLeft: request.triesLeft };
    this.pending.delete(pairingId);
    return { ok: false, reason: 'too-many-tries' };
  }

  /** Requests waiting now (expired ones not counted). */
  get size(): number {
    this.forgetExpired();
    return this.pending.size;
  }

  private forgetExpired(): void {
    const now = this.now();
    for (const [id, request] of this.pending) if (request.expiresAt <= now) this.pending.delete(id);
  }
}
