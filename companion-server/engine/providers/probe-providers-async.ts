// Which execution providers run on this machine, and why the others do not, in a user's words.
// Cheap facts (platform, the build's provider list, the CUDA libraries on disk) are checked here;
// whether a GPU provider really starts is tried in a child process (private/probe-providers-child.ts).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listBuildProviders, onnxRuntimeBinaryDir } from '../onnx-runtime.ts';
import { diagnoseProviderFailure } from './diagnose-provider-failure.ts';
import { PROBE_MARKER } from './private/build-probe-model.ts';
import { CONCRETE_PROVIDERS, type ConcreteProvider } from './provider-names.ts';

export interface ProviderProbe {
  name: ConcreteProvider;
  available: boolean;
  /** Why it cannot run here (one sentence with the next action), or what it runs on. */
  reason: string;
}

const CHILD = fileURLToPath(new URL('./private/probe-providers-child.ts', import.meta.url));
const CHILD_TIMEOUT_MS = 60_000;

/** The CUDA provider's library, which `npm run setup:cuda` installs (onnxruntime-node does not ship it). */
export function cudaProviderLibrary(): string {
  return path.join(onnxRuntimeBinaryDir(), process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so');
}

/** Facts that rule a provider out without starting anything; undefined when it must be tried. Exported for tests. */
export function staticReason(name: ConcreteProvider, buildProviders: ReadonlySet<string>): string | undefined {
  const platform = `${process.platform}/${process.arch}`;
  if (name === 'cpu') return undefined;
  if (name === 'coreml' && process.platform !== 'darwin') return 'CoreML runs only on macOS';
  if (name === 'dml' && process.platform !== 'win32') return 'DirectML runs only on Windows';
  if (!buildProviders.has(name)) return `onnxruntime-node has no ${name} provider for ${platform}`;
  if (name === 'cuda' && !existsSync(cudaProviderLibrary())) return 'CUDA libraries are not installed: run npm run setup:cuda';
  return undefined;
}

let cached: Promise<ProviderProbe[]> | undefined;

/** Probes every provider once per process (about a second); later calls reuse the answer. */
export function probeProvidersAsync(): Promise<ProviderProbe[]> {
  cached ??= probeAllAsync();
  return cached;
}

async function probeAllAsync(): Promise<ProviderProbe[]> {
  const buildProviders = new Set(listBuildProviders().map((p) => p.name));
  const probes = new Map<ConcreteProvider, ProviderProbe>();
  const toTry: ConcreteProvider[] = [];
  for (const name of CONCRETE_PROVIDERS) {
    const reason = staticReason(name, buildProviders);
    if (reason !== undefined) probes.set(name, { name, available: false, reason });
    else if (name === 'cpu') probes.set(name, { name, available: true, reason: 'always available' });
    else toTry.push(name);
  }
  for (const probe of await tryInChildAsync(toTry)) probes.set(probe.name, probe);
  return CONCRETE_PROVIDERS.map((name) => probes.get(name)!);
}

async function tryInChildAsync(names: ConcreteProvider[]): Promise<ProviderProbe[]> {
  if (names.length === 0) return [];
  const { stdout, stderr, failure } = await new Promise<{ stdout: string; stderr: string; failure?: string }>((resolve) => {
    execFile(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), CHILD, ...names],
      // MGIE_DEBUG keeps onnxruntime's log on, so its stderr holds the causes (a library dlopen could not find).
      { timeout: CHILD_TIMEOUT_MS, maxBuffer: 4 << 20, env: { ...process.env, MGIE_DEBUG: '1' } },
      (error, out, err) => resolve({ stdout: out, stderr: err, failure: error ? (error.killed ? `timed out after ${CHILD_TIMEOUT_MS / 1000} s` : error.message.split('\n')[0]) : undefined }),
    );
  });
  return probesFromChildOutput(names, { stdout, stderr, failure });
}

/** The probes for `names` from what the child printed: its JSON line, its stderr by provider, how it ended. Exported for tests. */
export function probesFromChildOutput(names: ConcreteProvider[], { stdout, stderr, failure }: { stdout: string; stderr: string; failure?: string }): ProviderProbe[] {
  let results: Record<string, { ok: boolean; message?: string }> = {};
  try {
    results = JSON.parse(stdout.trim().split('\n').pop() ?? '{}');
  } catch {
    // The child died before answering (a crashing driver): every provider it was trying gets that cause.
  }
  const stderrOf = splitByProvider(stderr);
  return names.map((name) => {
    const result = results[name];
    if (result?.ok) return { name, available: true, reason: 'starts and runs here' };
    if (result === undefined) {
      return { name, available: false, reason: `starting it stopped the probe process (${failure ?? 'no answer'}); run with MGIE_DEBUG=1 for onnxruntime's log` };
    }
    return { name, available: false, reason: diagnoseProviderFailure(name, { message: result.message ?? '', stderr: stderrOf.get(name) }) };
  });
}

function splitByProvider(stderr: string): Map<string, string> {
  const sections = new Map<string, string>();
  let current = '';
  for (const line of stderr.split('\n')) {
    if (line.startsWith(PROBE_MARKER)) current = line.slice(PROBE_MARKER.length).trim();
    else sections.set(current, `${sections.get(current) ?? ''}${line}\n`);
  }
  return sections;
}
