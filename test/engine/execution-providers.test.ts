// Execution providers: `auto` picks one that runs, a provider that cannot run says why in one sentence
// with the next action, and an unknown name is refused with the list. Real onnxruntime-node throughout.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { loadBundleAsync } from '../../companion-server/engine/bundle/load-bundle.ts';
import { isMgieError } from '../../companion-server/engine/errors.ts';
import { autoPreference, chooseExecutionProviderAsync } from '../../companion-server/engine/providers/choose-execution-provider-async.ts';
import { diagnoseProviderFailure } from '../../companion-server/engine/providers/diagnose-provider-failure.ts';
import { cudaProviderLibrary, type ProviderProbe, probeProvidersAsync } from '../../companion-server/engine/providers/probe-providers-async.ts';
import { parseProviderName, PROVIDER_NAMES } from '../../companion-server/engine/providers/provider-names.ts';
import { tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

const probesSaying = (available: string[]): (() => Promise<ProviderProbe[]>) => async () =>
  (['cpu', 'cuda', 'coreml', 'webgpu', 'dml'] as const).map((name) => ({
    name,
    available: name === 'cpu' || available.includes(name),
    reason: available.includes(name) ? 'starts and runs here' : `${name} is not here (test)`,
  }));

test('an unknown provider name is refused with the list of valid ones; names are case-insensitive', () => {
  assert.throws(() => parseProviderName('cudnn'), (error: Error) => isMgieError(error, 'MGIE_ERR_BAD_PARAMETER') && error.message.includes('"cudnn"') && PROVIDER_NAMES.every((name) => error.message.includes(name)));
  assert.equal(parseProviderName(' CUDA '), 'cuda');
  assert.equal(parseProviderName('auto'), 'auto');
});

test('what onnxruntime printed becomes the cause and the next action', () => {
  const cases: Array<[string, string, string | undefined, RegExp]> = [
    ['cuda', 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library', 'Failed to load library libonnxruntime_providers_cuda.so with error: libonnxruntime_providers_cuda.so: cannot open shared object file: No such file or directory', /^CUDA libraries are not installed: run npm run setup:cuda$/],
    ['cuda', 'OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library', 'Failed to load library libonnxruntime_providers_cuda.so with error: libcublasLt.so.12: cannot open shared object file: No such file or directory', /CUDA 12 runtime libraries are not installed \(libcublasLt\.so\.12 not found\)/],
    ['cuda', 'x', 'libcudnn.so.9: cannot open shared object file', /cuDNN 9 is not installed/],
    ['cuda', 'CUDA failure 100: no CUDA-capable device is detected ; GPU=0', undefined, /^no NVIDIA GPU found/],
    ['cuda', 'CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version', undefined, /driver is too old/],
    ['webgpu', 'webgpu_context.cc:136 ... Failed to get a WebGPU adapter: No supported adapters', "Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file", /apt-get install libvulkan1/],
    ['webgpu', 'webgpu_context.cc:136 ... Failed to get a WebGPU adapter: No supported adapters', '', /^no WebGPU adapter found \(no GPU, or no Vulkan\/Metal driver\)$/],
    ['webgpu', '[ONNXRuntimeError] : 1 : FAIL : something new', undefined, /^onnxruntime could not start the webgpu provider \(something new\); run mgie doctor/],
  ];
  for (const [provider, message, stderr, expected] of cases) {
    const sentence = diagnoseProviderFailure(provider, { message, stderr });
    assert.match(sentence, expected, `${provider}: ${message}`);
    assert.doesNotMatch(sentence, /re-export/i, 'a provider problem is not a bundle problem');
  }
});

test('this machine: the CPU runs, the others say why not (the probe runs in a child process)', async () => {
  const probes = await probeProvidersAsync();
  assert.deepEqual(probes.map((p) => p.name), ['cpu', 'cuda', 'coreml', 'webgpu', 'dml']);
  assert.equal(probes[0].available, true);
  for (const probe of probes.filter((p) => !p.available)) {
    assert.ok(probe.reason.length > 10, `${probe.name} has a reason`);
    assert.doesNotMatch(probe.reason, /onnxruntime_src|\[E:onnxruntime/, 'no raw onnxruntime log in a reason');
  }
  const by = Object.fromEntries(probes.map((p) => [p.name, p]));
  if (process.platform !== 'darwin') assert.equal(by.coreml.reason, 'CoreML runs only on macOS');
  if (process.platform !== 'win32') assert.equal(by.dml.reason, 'DirectML runs only on Windows');
  if (process.platform === 'linux' && process.arch === 'x64' && !existsSync(cudaProviderLibrary())) {
    assert.deepEqual(by.cuda, { name: 'cuda', available: false, reason: 'CUDA libraries are not installed: run npm run setup:cuda' });
  }
});

test('auto: the first provider that runs, in the order CUDA, (CoreML on Apple silicon, DirectML on Windows), WebGPU, CPU', async () => {
  assert.deepEqual(autoPreference('linux', 'x64'), ['cuda', 'webgpu', 'cpu']);
  assert.deepEqual(autoPreference('darwin', 'arm64'), ['cuda', 'coreml', 'webgpu', 'cpu']);
  assert.deepEqual(autoPreference('win32', 'x64'), ['cuda', 'dml', 'webgpu', 'cpu']);
  const withWebGpu = await chooseExecutionProviderAsync('auto', probesSaying(['webgpu']));
  assert.deepEqual(withWebGpu.candidates, ['webgpu', 'cpu']);
  assert.ok(withWebGpu.notChosen.some((p) => p.name === 'cuda' && p.reason === 'cuda is not here (test)'));
  const nothing = await chooseExecutionProviderAsync('auto', probesSaying([]));
  assert.deepEqual(nothing.candidates, ['cpu']);
});

test('asking for a provider that cannot run gives its cause, before any model is loaded; the CPU is never probed', async () => {
  await assert.rejects(chooseExecutionProviderAsync('cuda', probesSaying([])), (error: Error) =>
    isMgieError(error, 'MGIE_ERR_PROVIDER_UNAVAILABLE') && error.message.includes('cuda is not here (test)') && error.message.includes('--provider auto'));
  const choice = await chooseExecutionProviderAsync('cpu', () => assert.fail('the CPU needs no probe'));
  assert.deepEqual(choice.candidates, ['cpu']);
});

test('auto on the tiny bundle: a provider that starts but cannot load the bundle is passed over, with its reason', async () => {
  // The probe is told WebGPU runs; on a machine without an adapter onnxruntime then really fails to
  // load the models with it, which is what a GPU provider lacking an operator or memory does.
  const bundle = await loadBundleAsync(await tinyBundleDirAsync(), { executionProvider: 'auto', probeProviders: probesSaying(['webgpu']) });
  try {
    const chosen = bundle.providers.chosen;
    assert.equal(bundle.executionProvider, chosen);
    assert.equal(bundle.providers.requested, 'auto');
    assert.ok(chosen === 'cpu' || chosen === 'webgpu');
    if (chosen === 'cpu') {
      const webgpu = bundle.providers.notChosen.find((p) => p.name === 'webgpu');
      assert.match(webgpu?.reason ?? '', /^could not run this bundle \(vision\.onnx: the webgpu provider could not load it: no WebGPU adapter found/);
    }
    assert.ok(bundle.providers.notChosen.some((p) => p.name === 'cuda'), 'cuda is listed with its reason');
  } finally {
    await bundle.releaseAsync();
  }
});

test('the bundle loader refuses a provider that cannot run with one sentence, and loads on the CPU by default', async () => {
  const dir = await tinyBundleDirAsync();
  if (process.platform !== 'darwin') {
    await assert.rejects(loadBundleAsync(dir, { executionProvider: 'coreml' }), (error: Error) =>
      isMgieError(error, 'MGIE_ERR_PROVIDER_UNAVAILABLE') && error.message === 'The coreml execution provider cannot run here: CoreML runs only on macOS. Or use --provider auto, which picks one that runs.');
  }
  const bundle = await loadBundleAsync(dir);
  assert.deepEqual(bundle.providers, { requested: 'cpu', chosen: 'cpu', notChosen: [] });
  await bundle.releaseAsync();
});
