// Each user's open WebSocket connections: capped per user (a designer opening connection after
// connection must not exhaust the server's sockets and memory), and closed at once when the user's
// token is revoked. Both closes carry an application code (PROTOCOL.md, "Close codes") and a reason
// the plugin shows as it is.
import type { WebSocket } from 'ws';
import type { Identity } from './user-directory.ts';

/** The user's token was revoked (`mgie token revoke`): reconnecting with it cannot work. */
export const CLOSE_TOKEN_REVOKED = 4001;
/** Said on the 4001 close and to a submit that raced with the revocation. */
export const TOKEN_REVOKED_REASON = 'Your token was revoked on this server. Ask its admin for a new one.';
/** The user already has `maxConnectionsPerUser` connections open. */
export const CLOSE_TOO_MANY_CONNECTIONS = 4002;

export class UserConnections {
  private readonly byUser = new Map<string, Map<WebSocket, Identity>>();

  constructor(private readonly maxPerUser: number) {}

  /** Counts the connection for its user; false (nothing counted) when the user is at the cap. */
  tryAdd(identity: Identity, socket: WebSocket): boolean {
    let mine = this.byUser.get(identity.name);
    if ((mine?.size ?? 0) >= this.maxPerUser) return false;
    if (!mine) this.byUser.set(identity.name, (mine = new Map()));
    mine.set(socket, identity);
    return true;
  }

  remove(identity: Identity, socket: WebSocket): void {
    const mine = this.byUser.get(identity.name);
    mine?.delete(socket);
    if (mine?.size === 0) this.byUser.delete(identity.name);
  }

  count(name: string): number {
    return this.byUser.get(name)?.size ?? 0;
  }

  /** Closes every connection opened with the identity's token; returns how many. */
  closeRevoked(identity: Identity): number {
    let closed = 0;
    for (const [socket, owner] of this.byUser.get(identity.name) ?? []) {
      if (owner.key !== identity.key) continue;
      this.remove(owner, socket);
      socket.close(CLOSE_TOKEN_REVOKED, TOKEN_REVOKED_REASON);
      closed += 1;
    }
    return closed;
  }
}

/**
 * The key under which a connection's jobs and kept results are filed: a clientId is private to its user,
 * so another user presenting the same clientId gets a separate, empty mailbox. User names and clientIds
 * cannot contain "/", so two pairs never share a key.
 */
export function clientKey(user: string, clientId: string): string {
  return `${user}/${clientId}`;
}

/** The close reason for a refused connection (at most 123 bytes, the WebSocket limit). */
export function tooManyConnectionsReason(max: number): string {
  return `You already have ${max} connections open, the most per user. Close another plugin window.`;
}
