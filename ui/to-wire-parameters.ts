// The edit parameters sent to the server for the chosen preset (plugin/types.ts ParameterSettings).
import type { WireEditParameters } from '../companion-server/protocol/messages.ts';
import { type ParameterSettings, REFERENCE_PARAMETERS } from '../plugin/types.ts';

/** What the server is sent for each preset; the server fills in what is left out. */
export function toWireParameters(parameters: ParameterSettings): WireEditParameters {
  switch (parameters.preset) {
    case 'default':
      return {};
    case 'reference': {
      const { steps, guidanceScale, imageGuidanceScale, size, sizeMode, seed } = REFERENCE_PARAMETERS;
      return { steps, guidanceScale, imageGuidanceScale, size, sizeMode, seed, scheduler: 'euler-ancestral' };
    }
    case 'custom': {
      const { steps, guidanceScale, imageGuidanceScale, size, sizeMode, seedMode, seed } = parameters;
      return { steps, guidanceScale, imageGuidanceScale, size, sizeMode, ...(seedMode === 'fixed' ? { seed } : {}) };
    }
  }
}
