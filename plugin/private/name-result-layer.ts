// A layer name from the instruction: one line, trimmed, at most 60 characters plus an ellipsis.

export const MAX_NAME_LENGTH = 60;
const FALLBACK_NAME = 'MGIE edit';

export function nameResultLayer(instruction: string): string {
  const oneLine = instruction.replace(/\s+/g, ' ').trim();
  if (oneLine === '') return FALLBACK_NAME;
  // Count code points, not UTF-16 units, so an emoji is never cut in half.
  const chars = Array.from(oneLine);
  return chars.length <= MAX_NAME_LENGTH ? oneLine : `${chars.slice(0, MAX_NAME_LENGTH).join('').trimEnd()}…`;
}
