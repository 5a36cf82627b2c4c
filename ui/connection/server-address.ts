// Turns what the designer typed as the server's address into the HTTP base and WebSocket URL.
import { WEBSOCKET_PATH } from '../../companion-server/protocol/messages.ts';

export interface ServerAddress {
  /** e.g. http://localhost:8765 or https://gpu-box.example.com/mgie (no trailing slash). */
  httpBase: string;
  /** e.g. ws://localhost:8765/v1/ws */
  wsUrl: string;
}

/**
 * Accepts "localhost:8765", "http://localhost:8765", "https://box/mgie" (behind a reverse proxy) and
 * the ws:// / wss:// forms of the same. Returns a message for the designer when it cannot.
 */
export function parseServerAddress(input: string): ServerAddress | { error: string } {
  const trimmed = input.trim();
  if (trimmed === '') return { error: 'Enter the server address, for example http://localhost:8765.' };
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `http://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return { error: `"${trimmed}" is not an address. Write it like http://localhost:8765.` };
  }
  const secure = url.protocol === 'https:' || url.protocol === 'wss:';
  if (!secure && url.protocol !== 'http:' && url.protocol !== 'ws:') {
    return { error: `The address must start with http:// or https:// (not ${url.protocol}//).` };
  }
  if (url.username || url.password) return { error: 'Put the token in the Token field, not in the address.' };
  const path = url.pathname.replace(/\/+$/, '');
  return {
    httpBase: `${secure ? 'https' : 'http'}://${url.host}${path}`,
    wsUrl: `${secure ? 'wss' : 'ws'}://${url.host}${path}${WEBSOCKET_PATH}`,
  };
}
