// --provider on the command line: `auto` is the default, an unknown name is a usage error with the
// list, and a provider that cannot run here is one sentence with its cause, before any model loads.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { cudaProviderLibrary } from '../../companion-server/engine/providers/probe-providers-async.ts';
import { runMgieAsync } from '../helpers/run-mgie.ts';
import { samplePhotoAsync } from '../helpers/sample-images.ts';
import { tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

async function editArgsAsync(t: { after: (fn: () => Promise<void>) => void }): Promise<string[]> {
  await tinyBundleDirAsync();
  const dir = await mkdtemp(path.join(tmpdir(), 'mgie-provider-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'in.png'), await samplePhotoAsync(64, 64));
  return ['edit', '--image', path.join(dir, 'in.png'), '--instruction', 'make it red', '--out', path.join(dir, 'out.png'), '--steps', '2', '--size', '64', '--seed', '1'];
}

test('an unknown provider is a usage error listing the valid names', async (t) => {
  const { code, stderr } = await runMgieAsync([...(await editArgsAsync(t)), '--provider', 'gpu']);
  assert.equal(code, 2);
  assert.match(stderr, /^mgie: --provider must be one of auto, cpu, cuda, coreml, webgpu, dml, got "gpu"\.\n$/);
});

test('mgie edit uses --provider auto by default and reports the provider it ran on', async (t) => {
  const { code, stdout, stderr } = await runMgieAsync([...(await editArgsAsync(t)), '--json']);
  assert.equal(code, 0, stderr);
  assert.match(JSON.parse(stdout).provider, /^(cpu|cuda|webgpu|coreml|dml)$/);
});

for (const [provider, cause, applies] of [
  ['coreml', 'CoreML runs only on macOS', process.platform !== 'darwin'],
  ['cuda', 'CUDA libraries are not installed: run npm run setup:cuda', process.platform === 'linux' && process.arch === 'x64' && !existsSync(cudaProviderLibrary())],
] as const) {
  test(`--provider ${provider} where it cannot run: "${cause}", one line, no onnxruntime log`, { skip: !applies && `${provider} may run here` }, async (t) => {
    const { code, stdout, stderr } = await runMgieAsync([...(await editArgsAsync(t)), '--provider', provider]);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    const lines = stderr.trim().split('\n').filter((line) => !/tiny demo bundle|Generated the tiny bundle/.test(line));
    assert.deepEqual(lines, [`mgie: The ${provider} execution provider cannot run here: ${cause}. Or use --provider auto, which picks one that runs. [MGIE_ERR_PROVIDER_UNAVAILABLE]`]);
    assert.doesNotMatch(stderr, /onnxruntime_src|\[E:onnxruntime|Re-export/);
  });
}
