// The one-time code a pairing request prints on the server's terminal. Short enough to read aloud and
// type, from letters and digits that cannot be mistaken for each other (no 0/O, 1/I/L, U/V), and
// compared in constant time. 30^6 is about 729 million codes; with 5 tries per request, a bounded
// number of requests and a rate limit, guessing is hopeless.
import { randomInt } from 'node:crypto';
import { tokensMatch } from '../request-guards.ts';

export const PAIRING_CODE_ALPHABET = '23456789ABCDEFGHJKMNPQRSTVWXYZ';
export const PAIRING_CODE_LENGTH = 6;

/** A fresh code, e.g. "4F7K2Q" (shown as "4F7-K2Q"). */
export function generatePairingCode(): string {
  let code = '';
  for (let i = 0; i < PAIRING_CODE_LENGTH; i++) code += PAIRING_CODE_ALPHABET[randomInt(PAIRING_CODE_ALPHABET.length)];
  return code;
}

/** "4F7K2Q" -> "4F7-K2Q": two halves read more easily off a screen. */
export function formatPairingCode(code: string): string {
  return `${code.slice(0, 3)}-${code.slice(3)}`;
}

/** What the designer typed, as a code: upper case, without spaces or dashes ("4f7 k2q" -> "4F7K2Q"). */
export function normalizePairingCode(typed: string): string {
  return typed.toUpperCase().replace(/[\s-]+/g, '');
}

/** Constant-time: the answer's timing does not tell how much of the code was right. */
export function pairingCodeMatches(typed: string, code: string): boolean {
  return tokensMatch(normalizePairingCode(typed), code);
}
