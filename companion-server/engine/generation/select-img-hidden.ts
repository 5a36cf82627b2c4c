import type { HiddenStates } from './hidden-states.ts';

/**
 * Where the hidden states that predicted [IMG0]..[IMG(K-1)] start (mgie-reference.md §4):
 * p = min(index of the first [IMG0] in the sequence - 1 if present else len(hid) - (K+1), len(hid) - (K+1)).
 * The reference's constant 9 is K+1 for K = 8. A sequence too short for K rows (never the case with
 * a real prompt) starts at 0 instead of wrapping around as a negative Python index would.
 */
export function imgHiddenStart(sequence: readonly number[], hiddenLength: number, firstImgTokenId: number, numImgTokens: number): number {
  const fallback = hiddenLength - (numImgTokens + 1);
  const index = sequence.indexOf(firstImgTokenId);
  const p = Math.min(index >= 0 ? index - 1 : fallback, fallback);
  return Math.max(0, p);
}

/** The K hidden states handed to the edit head, as one [K * hiddenSize] array. */
export function selectImgHidden(sequence: readonly number[], hiddenStates: HiddenStates, firstImgTokenId: number, numImgTokens: number): { start: number; rows: Float32Array } {
  if (hiddenStates.length < numImgTokens) {
    throw new Error(`only ${hiddenStates.length} hidden states, fewer than the ${numImgTokens} IMG tokens`);
  }
  const start = imgHiddenStart(sequence, hiddenStates.length, firstImgTokenId, numImgTokens);
  return { start, rows: hiddenStates.rows(start, numImgTokens) };
}
