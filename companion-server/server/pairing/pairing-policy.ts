// Who may pair. Pairing hands out tokens to whoever can read the server's terminal, so it is on by
// default only where that is the designer at their own computer: a server bound to loopback and reached
// by a loopback name, not through a proxy (the documented nginx setup passes the public name as Host).
// A team box pairs only when its admin says so (--allow-pairing): then the admin reads the code to the
// designer, which is the admin's approval.
import { isLoopbackHost } from '../request-guards.ts';

/** 'auto': local daemons only; 'on': also a team box (--allow-pairing); 'off': never (--no-pairing). */
export type PairingMode = 'auto' | 'on' | 'off';

export const PAIRING_MODES: readonly PairingMode[] = ['auto', 'on', 'off'];

const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip'];

export interface PairingRequestContext {
  /** The address the server listens on (server.address().address). */
  boundAddress: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  /** users.json, where paired users go; null when the server has no per-user tokens. */
  usersFile: string | null;
}

/** Why this request may not pair, in words for the designer, or undefined when it may. */
export function pairingRefusal(mode: PairingMode, context: PairingRequestContext): string | undefined {
  if (mode === 'off') return 'Pairing is turned off on this server (it was started with --no-pairing). Ask its admin for a token of your own (mgie token add NAME) and paste it instead.';
  if (context.usersFile === null) return 'This server has no users file, so it cannot give out tokens by pairing. Paste its token instead.';
  if (mode === 'on') return undefined;
  const local = isLoopbackHost(context.boundAddress) && isLoopbackHost(firstOf(context.headers.host)) && FORWARDING_HEADERS.every((name) => context.headers[name] === undefined);
  if (local) return undefined;
  return "Pairing is off on a team server unless its admin starts it with --allow-pairing. Ask the admin for a token of your own (mgie token add NAME) and paste it, or ask them to allow pairing and read you the code.";
}

function firstOf(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
