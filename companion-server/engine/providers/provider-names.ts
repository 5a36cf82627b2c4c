// The execution providers a user may ask for. `auto` picks the best one that runs here
// (choose-execution-provider-async.ts); the others name one onnxruntime-node provider.
import { MgieError } from '../errors.ts';

export const CONCRETE_PROVIDERS = ['cpu', 'cuda', 'coreml', 'webgpu', 'dml'] as const;
export type ConcreteProvider = (typeof CONCRETE_PROVIDERS)[number];

export const PROVIDER_NAMES = ['auto', ...CONCRETE_PROVIDERS] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export function isProviderName(name: string): name is ProviderName {
  return (PROVIDER_NAMES as readonly string[]).includes(name);
}

/** The name as given, checked; an unknown name is refused with the list of valid ones. */
export function parseProviderName(name: string): ProviderName {
  const normalized = name.trim().toLowerCase();
  if (!isProviderName(normalized)) {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', `Unknown execution provider "${name}": use one of ${PROVIDER_NAMES.join(', ')}.`);
  }
  return normalized;
}
