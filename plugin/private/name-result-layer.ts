// A layer name from the instruction: one line, trimmed, at most 60 characters plus an ellipsis, then what
// tells results of one job apart ("· variation 2", "· step 2 of 3").
import type { Provenance } from '../types.ts';

export const MAX_NAME_LENGTH = 60;
const FALLBACK_NAME = 'MGIE edit';

export function nameResultLayer(instruction: string, suffix = ''): string {
  const oneLine = instruction.replace(/\s+/g, ' ').trim();
  if (oneLine === '') return `${FALLBACK_NAME}${suffix}`;
  // Count code points, not UTF-16 units, so an emoji is never cut in half.
  const chars = Array.from(oneLine);
  const name = chars.length <= MAX_NAME_LENGTH ? oneLine : `${chars.slice(0, MAX_NAME_LENGTH).join('').trimEnd()}…`;
  return `${name}${suffix}`;
}

/** A chain step is named after its own instruction; a variation says which one it is. */
export function nameResultLayerOf(provenance: Provenance): string {
  const { chain, chainStep, variation, variations } = provenance;
  let instruction = provenance.instruction;
  let suffix = '';
  if (chain !== undefined && chainStep !== undefined && chain.length > 1) {
    instruction = chain[chainStep - 1] ?? instruction;
    suffix += ` · step ${chainStep} of ${chain.length}`;
  }
  if (variation !== undefined && variations !== undefined && variations > 1) suffix += ` · variation ${variation}`;
  return nameResultLayer(instruction, suffix);
}
