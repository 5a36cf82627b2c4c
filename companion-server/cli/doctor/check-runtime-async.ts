// Node, onnxruntime-node, the providers that run here, and the GPUs the system sees.
import { onnxRuntimeVersion } from '../../engine/onnx-runtime.ts';
import { chooseExecutionProviderAsync } from '../../engine/providers/choose-execution-provider-async.ts';
import { probeProvidersAsync } from '../../engine/providers/probe-providers-async.ts';
import { check, type DoctorCheck } from './doctor-check.ts';
import { describeGpusAsync } from './describe-gpus-async.ts';

export const MIN_NODE_MAJOR = 22;

export function checkNode(version: string = process.versions.node): DoctorCheck {
  const major = Number(version.split('.')[0]);
  return major >= MIN_NODE_MAJOR
    ? check('ok', 'node', `Node ${version} (${MIN_NODE_MAJOR} or newer needed)`)
    : check('fail', 'node', `Node ${version} is too old: install Node ${MIN_NODE_MAJOR} or newer (https://nodejs.org, or nvm install ${MIN_NODE_MAJOR})`);
}

/** `requested`: the provider mgie serve/edit would be given (auto unless --provider says otherwise). */
export async function checkProvidersAsync(requested: string): Promise<DoctorCheck[]> {
  const probes = await probeProvidersAsync();
  const checks = [check('ok', 'onnxruntime', `onnxruntime-node ${onnxRuntimeVersion}`)];
  for (const probe of probes) {
    if (probe.name === 'dml' && process.platform !== 'win32') continue;
    checks.push(check(probe.available ? 'ok' : 'info', `provider ${probe.name}`, probe.available ? probe.reason : `not available: ${probe.reason}`));
  }
  try {
    const choice = await chooseExecutionProviderAsync(requested, async () => probes);
    const used = choice.candidates[0];
    const why = requested === 'auto' ? `--provider auto (the default) will use ${used}` : `--provider ${requested} runs here`;
    checks.push(check('ok', 'provider', used === 'cpu' && requested === 'auto' ? `${why}: no GPU provider runs here, see the lines above` : why));
  } catch (error) {
    checks.push(check('fail', 'provider', (error as Error).message));
  }
  return checks;
}

export async function checkGpusAsync(): Promise<DoctorCheck> {
  const gpus = await describeGpusAsync();
  return gpus.length === 0
    ? check('info', 'GPUs', 'none seen by the system (edits run on the CPU, slowly with a real bundle)')
    : check('info', 'GPUs', gpus.map((gpu) => gpu.name).join('; '));
}
