// From what the user asked for (`auto` or one provider) to the providers to try, best first, and
// the reasons the others were not used, for the banner, /v1/info and mgie doctor.
import { MgieError } from '../errors.ts';
import { type ProviderProbe, probeProvidersAsync } from './probe-providers-async.ts';
import { type ConcreteProvider, parseProviderName } from './provider-names.ts';

export interface ProviderNotChosen {
  name: ConcreteProvider;
  reason: string;
}

export interface ProviderChoice {
  requested: string;
  /** Candidates in order; the bundle loader takes the first that loads every model. */
  candidates: ConcreteProvider[];
  notChosen: ProviderNotChosen[];
}

/**
 * `auto`'s preference: a CUDA GPU; on Apple silicon the Neural Engine/GPU through CoreML; DirectML on
 * Windows; any GPU through WebGPU (Vulkan, Metal, D3D12); else the CPU, which always works.
 */
export function autoPreference(platform: NodeJS.Platform = process.platform, arch: string = process.arch): ConcreteProvider[] {
  return [
    'cuda',
    ...(platform === 'darwin' && arch === 'arm64' ? (['coreml'] as const) : []),
    ...(platform === 'win32' ? (['dml'] as const) : []),
    'webgpu',
    'cpu',
  ];
}

export async function chooseExecutionProviderAsync(requested: string, probe: () => Promise<ProviderProbe[]> = probeProvidersAsync): Promise<ProviderChoice> {
  const name = parseProviderName(requested);
  // The CPU needs no probe: it is what every test and benchmark runs, so it stays instant.
  if (name === 'cpu') return { requested: name, candidates: ['cpu'], notChosen: [] };
  const probes = await probe();
  if (name !== 'auto') {
    const found = probes.find((p) => p.name === name)!;
    if (!found.available) throw providerUnavailable(name, found.reason);
    return { requested: name, candidates: [name], notChosen: [] };
  }
  const preference = autoPreference();
  const candidates = preference.filter((p) => probes.find((probe) => probe.name === p)?.available);
  // Every GPU provider that could exist on this platform, with its reason; DirectML only on Windows.
  const notChosen = probes
    .filter((p) => !p.available && p.name !== 'cpu' && (p.name !== 'dml' || process.platform === 'win32'))
    .map(({ name: providerName, reason }) => ({ name: providerName, reason }));
  return { requested: name, candidates, notChosen };
}

export function providerUnavailable(provider: string, reason: string): MgieError {
  return new MgieError('MGIE_ERR_PROVIDER_UNAVAILABLE', `The ${provider} execution provider cannot run here: ${reason}. Or use --provider auto, which picks one that runs.`);
}
