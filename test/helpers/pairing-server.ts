// A real companion server that can pair: a users file of its own, and pairing codes caught where the
// server's terminal would show them (ServerOptions.announcePairing), read back as a person reads them.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { DEFAULT_SERVER_OPTIONS, type PairingOptions, type ServerOptions } from '../../companion-server/server/server-options.ts';
import { startTestServerAsync, type TestServer } from './test-server.ts';
import { makeTestUsersAsync, type TestUsers } from './test-users.ts';

export interface PairingServer extends TestServer {
  users: TestUsers;
  /** Everything the server printed for pairing, in order. */
  terminal: string[];
}

export async function startPairingServerAsync(
  t: TestContext,
  pairing: Partial<PairingOptions> = {},
  options: { listenHost?: string; overrides?: Partial<ServerOptions>; userNames?: string[] } = {},
): Promise<PairingServer> {
  const users = await makeTestUsersAsync(t, options.userNames ?? []);
  const terminal: string[] = [];
  const server = await startTestServerAsync(
    t,
    { usersFile: users.usersFile, pairing: { ...DEFAULT_SERVER_OPTIONS.pairing, ...pairing }, announcePairing: (text) => terminal.push(text), ...options.overrides },
    { listenHost: options.listenHost },
  );
  return { ...server, users, terminal };
}

/** The latest code on the terminal, as printed: "code 4F7-K2Q" gives "4F7-K2Q". */
export function codeOnTerminal(terminal: readonly string[]): string {
  const line = [...terminal].reverse().find((text) => /code [0-9A-Z]{3}-[0-9A-Z]{3}/.test(text));
  const match = /code ([0-9A-Z]{3}-[0-9A-Z]{3})/.exec(line ?? '');
  assert.ok(match, `a code on the terminal: ${JSON.stringify(terminal)}`);
  return match[1];
}
