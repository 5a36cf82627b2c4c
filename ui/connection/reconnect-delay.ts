// How long to wait before the next connection attempt: quick at first (a server restart takes a few
// seconds), then backing off so a server that is down is not hammered, with jitter so several open
// plugins do not reconnect in lockstep.
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;

/** `attempt` counts failed attempts since the last success, from 0. */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** Math.max(0, attempt));
  return Math.round(base * (0.8 + 0.4 * random()));
}
