// Browser-safe (the plugin UI checks the instruction limit before sending, with the same count).

/**
 * The length of a text as a person counts it, for the instruction limit: Unicode code points, so an
 * emoji or a rare CJK character is one, not the two UTF-16 units String.length counts. Not grapheme
 * clusters: one cluster can carry any number of combining marks, and the limit exists to bound the work.
 */
export function countCharacters(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
