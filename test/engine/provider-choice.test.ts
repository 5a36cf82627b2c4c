// Choosing the execution provider and wording why one cannot run, on their own (no model loads; the
// probes are given): what each request yields, and every diagnosis at its trigger.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMgieError } from '../../companion-server/engine/errors.ts';
import { chooseExecutionProviderAsync, providerUnavailable } from '../../companion-server/engine/providers/choose-execution-provider-async.ts';
import { diagnoseProviderFailure } from '../../companion-server/engine/providers/diagnose-provider-failure.ts';
import type { ProviderProbe } from '../../companion-server/engine/providers/probe-providers-async.ts';
import { CONCRETE_PROVIDERS, parseProviderName } from '../../companion-server/engine/providers/provider-names.ts';

const probesSaying = (available: string[]): (() => Promise<ProviderProbe[]>) => async () =>
  CONCRETE_PROVIDERS.map((name) => ({
    name,
    available: name === 'cpu' || available.includes(name),
    reason: name === 'cpu' || available.includes(name) ? 'starts and runs here' : `no ${name} (test)`,
  }));

test('one provider asked for by name, and running: it alone is the candidate, nothing listed as not chosen', async () => {
  assert.deepEqual(await chooseExecutionProviderAsync(' WebGPU ', probesSaying(['webgpu'])), { requested: 'webgpu', candidates: ['webgpu'], notChosen: [] });
  assert.deepEqual(await chooseExecutionProviderAsync('cuda', probesSaying(['cuda', 'webgpu'])), { requested: 'cuda', candidates: ['cuda'], notChosen: [] });
  assert.deepEqual(await chooseExecutionProviderAsync('cpu', probesSaying([])), { requested: 'cpu', candidates: ['cpu'], notChosen: [] });
});

test('one provider asked for by name, not running: MGIE_ERR_PROVIDER_UNAVAILABLE with its reason and the way out', async () => {
  await assert.rejects(
    chooseExecutionProviderAsync('webgpu', probesSaying(['cuda'])),
    (error: Error) => isMgieError(error, 'MGIE_ERR_PROVIDER_UNAVAILABLE') && error.message === 'The webgpu execution provider cannot run here: no webgpu (test). Or use --provider auto, which picks one that runs.',
  );
  assert.equal(providerUnavailable('dml', 'why').statusCode, 500);
});

test('auto: every running provider in preference order, CPU last; the GPU providers that do not run, with their reasons', async () => {
  const choice = await chooseExecutionProviderAsync('auto', probesSaying(['webgpu', 'cuda']));
  assert.equal(choice.requested, 'auto');
  assert.deepEqual(choice.candidates, ['cuda', 'webgpu', 'cpu']);
  const expected = CONCRETE_PROVIDERS.filter((name) => !['cpu', 'cuda', 'webgpu'].includes(name) && (name !== 'dml' || process.platform === 'win32')).map((name) => ({
    name,
    reason: `no ${name} (test)`,
  }));
  assert.deepEqual(choice.notChosen, expected);
  if (process.platform !== 'win32') assert.ok(!choice.notChosen.some((p) => p.name === 'dml'), 'DirectML is not offered off Windows');
});

test('unknown provider names are refused with the whole list', () => {
  assert.throws(
    () => parseProviderName('tensorrt'),
    (error: Error) => isMgieError(error, 'MGIE_ERR_BAD_PARAMETER') && error.message === 'Unknown execution provider "tensorrt": use one of auto, cpu, cuda, coreml, webgpu, dml.',
  );
});

test('CUDA diagnoses: the driver library, out of memory, and a missing library named in the message or on stderr', () => {
  assert.equal(
    diagnoseProviderFailure('cuda', { message: 'x', stderr: 'libcuda.so.1: cannot open shared object file: No such file or directory' }),
    'no NVIDIA driver found (libcuda.so.1 not found): install the NVIDIA driver',
  );
  assert.equal(diagnoseProviderFailure('cuda', { message: 'libonnxruntime_providers_shared.so: cannot open shared object file' }), 'CUDA libraries are not installed: run npm run setup:cuda');
  assert.equal(
    diagnoseProviderFailure('cuda', { message: 'libcudnn_ops.so.9: cannot open shared object file' }),
    'cuDNN 9 is not installed (libcudnn_ops.so.9 not found): install cuDNN 9 for CUDA 12, or add its lib folder to LD_LIBRARY_PATH',
  );
  assert.equal(diagnoseProviderFailure('cuda', { message: 'CUDA error cudaErrorMemoryAllocation: out of memory' }), 'the GPU is out of memory: close other programs using it, or use a smaller bundle');
  assert.equal(diagnoseProviderFailure('cuda', { message: 'CUDA_ERROR_NO_DEVICE' }), 'no NVIDIA GPU found: CUDA sees no device');
  assert.equal(diagnoseProviderFailure('cuda', { message: 'cudaErrorInsufficientDriver' }), 'the NVIDIA driver is too old for CUDA 12: update the driver');
});

test('CoreML: a build without it says so; other failures fall back to onnxruntime\'s first line, its prefix dropped', () => {
  assert.equal(diagnoseProviderFailure('coreml', { message: 'Backend not found' }), 'this onnxruntime-node build has no CoreML provider');
  assert.equal(
    diagnoseProviderFailure('coreml', { message: '[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : model too big  \nsecond line' }),
    'onnxruntime could not start the coreml provider (model too big); run mgie doctor for details',
  );
  assert.equal(diagnoseProviderFailure('dml', { message: 'plain failure' }), 'onnxruntime could not start the dml provider (plain failure); run mgie doctor for details');
  // only CUDA looks for missing libraries
  assert.equal(
    diagnoseProviderFailure('dml', { message: 'x', stderr: 'libcuda.so.1: cannot open shared object file' }),
    'onnxruntime could not start the dml provider (x); run mgie doctor for details',
  );
  // a Vulkan warning without an adapter failure is not the diagnosis
  assert.equal(
    diagnoseProviderFailure('webgpu', { message: 'device lost', stderr: 'libvulkan.so.1: cannot open shared object file' }),
    'onnxruntime could not start the webgpu provider (device lost); run mgie doctor for details',
  );
});
