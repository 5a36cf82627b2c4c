// The live connections of each client, and what finished while a client was away.
import type { WebSocket } from 'ws';
import { encodeBinaryFrameHead } from '../protocol/messages.ts';
import type { Outgoing } from './edit-service.ts';
import { type KeptResultLimits, KeptResults } from './kept-results.ts';
import { clientKey } from './user-connections.ts';

/** How much unsent data (a socket's bufferedAmount) a connection may hold (PROTOCOL.md, "Slow readers"). */
export interface SlowReaderLimits {
  /** Past this a connection gets no progress or previews (a slow reader)... */
  dropProgressBytes: number;
  /** ...and past this it is closed; its results wait for the client to reconnect. */
  closeBytes: number;
}

export class ClientHub {
  private readonly sockets = new Map<string, Set<WebSocket>>();
  private readonly kept: KeptResults;

  constructor(
    keptLimits: KeptResultLimits,
    private readonly slowReader: SlowReaderLimits,
  ) {
    this.kept = new KeptResults(keptLimits);
  }

  /** Bytes of final messages kept for clients (a memory figure for /metrics and tests). */
  get keptBytes(): number {
    return this.kept.totalBytes;
  }

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

  /** Whether the client has a connection to this server (a scale-out front delivers only to its own clients). */
  isConnected(clientId: string): boolean {
    return this.sockets.has(clientId);
  }

  /** Drops the results kept for all of a user's clients (their token was revoked: nobody may fetch them). */
  forgetKeptOfUser(user: string): number {
    return this.kept.forgetClients((clientId) => clientId.startsWith(clientKey(user, '')));
  }

  clientIds(): string[] {
    return [...this.sockets.keys()];
  }

  get connectionCount(): number {
    let n = 0;
    for (const set of this.sockets.values()) n += set.size;
    return n;
  }

  /**
   * Sends to every connection of the client. A final message (result, error, cancellation) is kept until
   * one connection has written it to the network, so a connection closed with it still queued (a slow
   * reader cut off, a dropped network) loses nothing: it comes with the client's next connection.
   */
  send(clientId: string, outgoing: Outgoing): void {
    const sockets = this.sockets.get(clientId) ?? [];
    if (!isFinal(outgoing)) {
      for (const socket of sockets) if (this.isWritable(socket) && socket.bufferedAmount <= this.slowReader.dropProgressBytes) this.write(socket, outgoing);
      return;
    }
    this.kept.keep(clientId, outgoing);
    for (const socket of sockets) this.sendFinal(clientId, socket, outgoing, () => {});
  }

  /**
   * Delivers what was kept for the client (on reconnect), one message at a time: the next goes out once
   * the previous is written, so a reconnecting client with many large results never looks like a slow
   * reader (seven 15 MB results sent at once passed the 64 MiB cut-off and were lost).
   */
  flushPending(clientId: string, socket: WebSocket): void {
    const queue = this.kept.list(clientId);
    const next = (): void => {
      let outgoing = queue.shift();
      while (outgoing && !this.kept.has(clientId, outgoing)) outgoing = queue.shift(); // written or dropped meanwhile
      if (outgoing) this.sendFinal(clientId, socket, outgoing, (written) => written && next());
    };
    next();
  }

  broadcast(outgoing: Outgoing): void {
    for (const set of this.sockets.values()) for (const socket of set) if (this.isWritable(socket)) this.write(socket, outgoing);
  }

  allSockets(): WebSocket[] {
    return [...this.sockets.values()].flatMap((set) => [...set]);
  }

  /** Writes a final message; it stops being kept once written. `done(false)`: not written (connection gone). */
  private sendFinal(clientId: string, socket: WebSocket, outgoing: Outgoing, done: (written: boolean) => void): void {
    if (!this.isWritable(socket)) return done(false);
    this.write(socket, outgoing, (error) => {
      if (!error) this.kept.forget(clientId, outgoing);
      done(!error);
    });
  }

  /** Open, and not a slow reader: past closeBytes of unsent data the connection is closed (PROTOCOL.md). */
  private isWritable(socket: WebSocket): boolean {
    if (socket.readyState !== socket.OPEN) return false;
    if (socket.bufferedAmount <= this.slowReader.closeBytes) return true;
    socket.terminate();
    return false;
  }

  private write(socket: WebSocket, outgoing: Outgoing, callback?: (error?: Error) => void): void {
    if (outgoing.kind === 'json') return socket.send(JSON.stringify(outgoing.message), callback);
    // One message in two fragments, head then payload, so the payload (a result PNG, up to tens of MB)
    // goes out from its own buffer instead of being copied into a new frame for each connection: no
    // copy to make, and unsent data shares the bytes that are kept for the client anyway.
    socket.send(encodeBinaryFrameHead(outgoing.header), { binary: true, fin: false });
    socket.send(outgoing.payload, { binary: true, fin: true }, callback);
  }
}

/** Results, errors and cancellations must reach the client; progress may be dropped. */
function isFinal(outgoing: Outgoing): boolean {
  if (outgoing.kind === 'binary') return !outgoing.droppable;
  return outgoing.message.type === 'error' || outgoing.message.type === 'cancelled';
}
