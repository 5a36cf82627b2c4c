// How the provider probe reads its child process (probe-providers-child.ts): the last stdout line is
// the JSON answer, stderr is split by the marker the child writes before each provider, and a child
// that died without answering gives every provider it was trying the way it ended.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PROBE_MARKER } from '../../companion-server/engine/providers/private/build-probe-model.ts';
import { probesFromChildOutput, staticReason } from '../../companion-server/engine/providers/probe-providers-async.ts';

test('a provider the child ran is available; one it could not start gets the diagnosis of its own stderr section', () => {
  const stdout = `some native noise\n${JSON.stringify({ webgpu: { ok: true }, cuda: { ok: false, message: 'Failed to load shared library' } })}\n`;
  const stderr = [
    'before any marker',
    `${PROBE_MARKER}cuda`,
    'Failed to load library libonnxruntime_providers_cuda.so with error: libcublasLt.so.12: cannot open shared object file: No such file or directory',
    `${PROBE_MARKER}webgpu`,
    "Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file",
  ].join('\n');
  assert.deepEqual(probesFromChildOutput(['cuda', 'webgpu'], { stdout, stderr }), [
    {
      name: 'cuda',
      available: false,
      reason: 'the CUDA 12 runtime libraries are not installed (libcublasLt.so.12 not found): install CUDA 12 (or its runtime libraries) and add its lib folder to LD_LIBRARY_PATH',
    },
    { name: 'webgpu', available: true, reason: 'starts and runs here' },
  ]);
});

test('the stderr of one provider is not blamed on another', () => {
  const stdout = JSON.stringify({ cuda: { ok: false, message: 'x' }, webgpu: { ok: false, message: 'Failed to get a WebGPU adapter' } });
  const stderr = `${PROBE_MARKER}cuda\nlibcudnn.so.9: cannot open shared object file\n${PROBE_MARKER}webgpu\nnothing useful\n`;
  const [cuda, webgpu] = probesFromChildOutput(['cuda', 'webgpu'], { stdout, stderr });
  assert.match(cuda.reason, /^cuDNN 9 is not installed \(libcudnn\.so\.9 not found\)/);
  assert.equal(webgpu.reason, 'no WebGPU adapter found (no GPU, or no Vulkan/Metal driver)');
  // no message at all: the fallback sentence, with an empty cause
  const [bare] = probesFromChildOutput(['webgpu'], { stdout: JSON.stringify({ webgpu: { ok: false } }), stderr: '' });
  assert.equal(bare.reason, 'onnxruntime could not start the webgpu provider (); run mgie doctor for details');
});

test('a child that died without a JSON answer: each provider says how, or "no answer"', () => {
  for (const stdout of ['', 'Segmentation fault', '{"webgpu": {"ok": tru']) {
    assert.deepEqual(probesFromChildOutput(['webgpu'], { stdout, stderr: '', failure: 'Command failed: signal SIGSEGV' }), [
      { name: 'webgpu', available: false, reason: "starting it stopped the probe process (Command failed: signal SIGSEGV); run with MGIE_DEBUG=1 for onnxruntime's log" },
    ]);
  }
  assert.deepEqual(probesFromChildOutput(['cuda', 'webgpu'], { stdout: '{}', stderr: '' }).map((p) => p.reason), [
    "starting it stopped the probe process (no answer); run with MGIE_DEBUG=1 for onnxruntime's log",
    "starting it stopped the probe process (no answer); run with MGIE_DEBUG=1 for onnxruntime's log",
  ]);
});

test('static reasons: the CPU always runs; a provider this build lacks, or another platform\'s, is ruled out without a try', () => {
  const build = new Set(['cpu', 'webgpu']);
  assert.equal(staticReason('cpu', new Set()), undefined);
  assert.equal(staticReason('cuda', build), `onnxruntime-node has no cuda provider for ${process.platform}/${process.arch}`);
  if (process.platform !== 'darwin') assert.equal(staticReason('coreml', new Set(['coreml'])), 'CoreML runs only on macOS');
  if (process.platform !== 'win32') assert.equal(staticReason('dml', new Set(['dml'])), 'DirectML runs only on Windows');
  assert.equal(staticReason('webgpu', build), undefined);
});
