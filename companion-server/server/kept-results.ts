// Final messages (results, errors, cancellations) kept until one of the client's connections has written
// them: what a designer gets back when the plugin reconnects. Bounded whatever clients do: per client,
// in total bytes across clients, and in age, so absent clients cannot hold the server's memory.
import type { Outgoing } from './edit-service.ts';

export interface KeptResultLimits {
  /** Messages kept per client; the oldest go first. */
  perClient: number;
  /** Bytes kept across all clients; past it the oldest messages of any client go first. */
  maxBytes: number;
  /** A message not delivered within this long is dropped (the client is not coming back for it). */
  maxAgeMs: number;
}

interface Kept {
  outgoing: Outgoing;
  bytes: number;
  keptAt: number;
}

export class KeptResults {
  private readonly byClient = new Map<string, Kept[]>();
  private bytes = 0;

  constructor(
    private readonly limits: KeptResultLimits,
    private readonly now: () => number = Date.now,
  ) {}

  get totalBytes(): number {
    return this.bytes;
  }

  keep(clientId: string, outgoing: Outgoing): void {
    const entry = { outgoing, bytes: sizeOf(outgoing), keptAt: this.now() };
    const list = [...(this.byClient.get(clientId) ?? []), entry];
    for (const dropped of list.splice(0, Math.max(0, list.length - this.limits.perClient))) this.bytes -= dropped.bytes;
    this.byClient.set(clientId, list);
    this.bytes += entry.bytes;
    this.enforceLimits();
  }

  /** The client's kept messages, oldest first (expired ones dropped first). */
  list(clientId: string): Outgoing[] {
    this.enforceLimits();
    return (this.byClient.get(clientId) ?? []).map((kept) => kept.outgoing);
  }

  has(clientId: string, outgoing: Outgoing): boolean {
    return this.byClient.get(clientId)?.some((kept) => kept.outgoing === outgoing) ?? false;
  }

  forget(clientId: string, outgoing: Outgoing): void {
    const kept = this.byClient.get(clientId)?.find((entry) => entry.outgoing === outgoing);
    if (kept) this.remove(clientId, kept);
  }

  /** Drops everything kept for the clients whose key matches (a revoked user's): returns the bytes freed. */
  forgetClients(matches: (clientId: string) => boolean): number {
    let freed = 0;
    for (const [clientId, list] of this.byClient) {
      if (!matches(clientId)) continue;
      const bytes = list.reduce((sum, kept) => sum + kept.bytes, 0);
      freed += bytes;
      this.bytes -= bytes;
      this.byClient.delete(clientId);
    }
    return freed;
  }

  private enforceLimits(): void {
    const oldestAllowed = this.now() - this.limits.maxAgeMs;
    for (const [clientId, list] of this.byClient) for (const kept of list.filter((entry) => entry.keptAt < oldestAllowed)) this.remove(clientId, kept);
    while (this.bytes > this.limits.maxBytes) {
      let oldest: [string, Kept] | undefined;
      for (const [clientId, list] of this.byClient) if (!oldest || list[0].keptAt < oldest[1].keptAt) oldest = [clientId, list[0]];
      if (!oldest) break;
      this.remove(...oldest);
    }
  }

  private remove(clientId: string, kept: Kept): void {
    const list = this.byClient.get(clientId)!.filter((entry) => entry !== kept);
    this.bytes -= kept.bytes;
    if (list.length > 0) this.byClient.set(clientId, list);
    else this.byClient.delete(clientId);
  }
}

function sizeOf(outgoing: Outgoing): number {
  return outgoing.kind === 'binary' ? outgoing.payload.byteLength + 512 : JSON.stringify(outgoing.message).length;
}
