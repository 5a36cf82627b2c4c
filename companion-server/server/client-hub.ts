// The live connections of each client, and what finished while a client was away.
import type { WebSocket } from 'ws';
import { encodeBinaryFrame } from '../protocol/messages.ts';
import type { Outgoing } from './edit-service.ts';

/** How much unsent data (a socket's bufferedAmount) a connection may hold (PROTOCOL.md, "Slow readers"). */
export interface SlowReaderLimits {
  /** Past this a connection gets no progress or previews (a slow reader)... */
  dropProgressBytes: number;
  /** ...and past this it is closed; its results wait for the client to reconnect. */
  closeBytes: number;
}

export class ClientHub {
  private readonly sockets = new Map<string, Set<WebSocket>>();
  private readonly pending = new Map<string, Outgoing[]>();

  constructor(
    private readonly resultsKeptPerClient: number,
    private readonly slowReader: SlowReaderLimits,
  ) {}

  attach(clientId: string, socket: WebSocket): void {
    let set = this.sockets.get(clientId);
    if (!set) this.sockets.set(clientId, (set = new Set()));
    set.add(socket);
  }

  detach(clientId: string, socket: WebSocket): void {
    const set = this.sockets.get(clientId);
    set?.delete(socket);
    if (set?.size === 0) this.sockets.delete(clientId);
  }

  get connectionCount(): number {
    let n = 0;
    for (const set of this.sockets.values()) n += set.size;
    return n;
  }

  /** Sends to every connection of the client; final messages are kept when none is there. */
  send(clientId: string, outgoing: Outgoing): void {
    const set = this.sockets.get(clientId);
    let delivered = false;
    for (const socket of set ?? []) delivered = this.sendTo(socket, outgoing) || delivered;
    if (!delivered && isFinal(outgoing)) {
      const kept = this.pending.get(clientId) ?? [];
      kept.push(outgoing);
      this.pending.set(clientId, kept.slice(-this.resultsKeptPerClient));
    }
  }

  /** Delivers what finished while the client was away (on reconnect). */
  flushPending(clientId: string, socket: WebSocket): void {
    const kept = this.pending.get(clientId);
    this.pending.delete(clientId);
    for (const outgoing of kept ?? []) this.sendTo(socket, outgoing);
  }

  broadcast(outgoing: Outgoing): void {
    for (const set of this.sockets.values()) for (const socket of set) this.sendTo(socket, outgoing);
  }

  allSockets(): WebSocket[] {
    return [...this.sockets.values()].flatMap((set) => [...set]);
  }

  private sendTo(socket: WebSocket, outgoing: Outgoing): boolean {
    if (socket.readyState !== socket.OPEN) return false;
    if (socket.bufferedAmount > this.slowReader.closeBytes) {
      socket.terminate();
      return false;
    }
    if (socket.bufferedAmount > this.slowReader.dropProgressBytes && !isFinal(outgoing)) return true;
    if (outgoing.kind === 'json') socket.send(JSON.stringify(outgoing.message));
    else socket.send(encodeBinaryFrame(outgoing.header, outgoing.payload));
    return true;
  }
}

/** Results, errors and cancellations must reach the client; progress may be dropped. */
function isFinal(outgoing: Outgoing): boolean {
  if (outgoing.kind === 'binary') return !outgoing.droppable;
  return outgoing.message.type === 'error' || outgoing.message.type === 'cancelled';
}
