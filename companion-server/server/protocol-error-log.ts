// Logs what clients break in the WebSocket protocol itself (a frame over the size limit, a malformed
// frame) briefly and rarely: any token holder can send such frames in a loop, and a line with a stack
// trace for each would let them flood the log. One line per kind per interval, with how many were not logged.
import type { FastifyBaseLogger } from 'fastify';

export class ProtocolErrorLog {
  private readonly lastLogged = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly log: FastifyBaseLogger,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  note(kind: string, message: string): void {
    const entry = this.lastLogged.get(kind);
    const at = this.now();
    if (entry && at - entry.at < this.intervalMs) {
      entry.suppressed += 1;
      return;
    }
    this.log.warn({ kind, ...(entry?.suppressed ? { suppressed: entry.suppressed } : {}) }, `websocket protocol error from a client: ${message}`);
    this.lastLogged.set(kind, { at, suppressed: 0 });
  }
}
