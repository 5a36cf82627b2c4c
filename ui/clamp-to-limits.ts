// The parameters as the server will take them: steps and size within what its hello advertises
// (ServerLimits), so that a preset or a remembered value above a smaller server's limits edits at the
// limit instead of being refused.
import type { ServerLimits, WireEditParameters } from '../companion-server/protocol/messages.ts';

/** Edit sizes are multiples of 64 (exported UNets need it; see the bundle format). */
export const SIZE_MULTIPLE = 64;

export interface ClampedParameters {
  parameters: WireEditParameters;
  /** What was lowered, for the designer ("steps 500 → 8"); empty when nothing was. */
  lowered: string[];
}

export function clampToLimits(parameters: WireEditParameters, limits: ServerLimits): ClampedParameters {
  const clamped: WireEditParameters = { ...parameters };
  const lowered: string[] = [];
  if (clamped.steps !== undefined && clamped.steps > limits.maxSteps) {
    lowered.push(`steps ${clamped.steps} → ${limits.maxSteps}`);
    clamped.steps = limits.maxSteps;
  }
  // The largest multiple of 64 the server takes (its limit need not be one).
  const maxSize = Math.max(SIZE_MULTIPLE, limits.maxEditSize - (limits.maxEditSize % SIZE_MULTIPLE));
  if (clamped.size !== undefined && clamped.size > maxSize) {
    lowered.push(`size ${clamped.size} → ${maxSize} px`);
    clamped.size = maxSize;
  }
  return { parameters: clamped, lowered };
}
