// Edges of the bundle loader: files in subfolders of the bundle, the causes kept on JSON errors, the
// provider a lone candidate really runs on, the load time it reports, and sessions released for good.
import assert from 'node:assert/strict';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { inspectBundleAsync } from '../../companion-server/engine/bundle/inspect-bundle-async.ts';
import { loadBundleAsync, loadBundleTokenizerAsync } from '../../companion-server/engine/bundle/load-bundle.ts';
import { float32Tensor, runProbeModelAsync } from '../../companion-server/engine/onnx-runtime.ts';
import { buildProbeModel } from '../../companion-server/engine/providers/private/build-probe-model.ts';
import type { ProviderProbe } from '../../companion-server/engine/providers/probe-providers-async.ts';
import { CONCRETE_PROVIDERS } from '../../companion-server/engine/providers/provider-names.ts';
import { copyTinyBundleAsync, editManifestAsync, tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

test('a model file in a subfolder of the bundle is inside it', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await mkdir(path.join(dir, 'models'));
  await rename(path.join(dir, 'vision.onnx'), path.join(dir, 'models', 'vision.onnx'));
  await editManifestAsync(dir, (m) => {
    m.files.vision = 'models/vision.onnx';
    m.sha256['models/vision.onnx'] = m.sha256['vision.onnx'];
    delete m.sha256['vision.onnx'];
  });
  const inspection = await inspectBundleAsync(dir);
  assert.equal(inspection.checkedFiles, 9);
});

test('a manifest or tokenizer.json that is not JSON keeps the parser\'s error as the cause', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await writeFile(path.join(dir, 'mgie-bundle.json'), '{ "format": ');
  await assert.rejects(loadBundleTokenizerAsync(dir), (error: any) => error.code === 'MGIE_ERR_BUNDLE_MANIFEST' && error.cause instanceof SyntaxError);

  const other = await copyTinyBundleAsync(t);
  await writeFile(path.join(other, 'tokenizer.json'), '{ not json');
  await editManifestAsync(other, (m) => delete m.sha256['tokenizer.json']);
  await assert.rejects(loadBundleTokenizerAsync(other), (error: any) => {
    assert.equal(error.code, 'MGIE_ERR_BUNDLE_TOKENIZER');
    assert.match(error.message, /tokenizer\.json is not valid JSON \(.+\)\. Re-export the bundle\.$/);
    assert.ok(error.cause instanceof SyntaxError);
    return true;
  });
});

test('a lone provider is really the one the sessions are created on: where it cannot run a model, the load fails', async () => {
  const probes = async (): Promise<ProviderProbe[]> => CONCRETE_PROVIDERS.map((name) => ({ name, available: true, reason: 'test' }));
  const webgpuRuns = await runProbeModelAsync(buildProbeModel(), 'webgpu').then(
    () => true,
    () => false,
  );
  const loading = loadBundleAsync(await tinyBundleDirAsync(), { executionProvider: 'webgpu', probeProviders: probes });
  if (webgpuRuns) {
    const bundle = await loading;
    assert.equal(bundle.executionProvider, 'webgpu');
    await bundle.releaseAsync();
  } else {
    await assert.rejects(loading, (error: any) => error.code === 'MGIE_ERR_PROVIDER_UNAVAILABLE');
  }
});

test('the load time is the time the load took; after releaseAsync the sessions run no more', async () => {
  const started = performance.now();
  const bundle = await loadBundleAsync(await tinyBundleDirAsync());
  const wall = performance.now() - started;
  assert.ok(bundle.loadMilliseconds > 0 && bundle.loadMilliseconds <= wall, `${bundle.loadMilliseconds} of ${wall} ms`);
  const { numImgTokens } = bundle.manifest.editHead;
  const D = bundle.manifest.llm.hiddenSize;
  const feeds = () => ({ img_hidden: float32Tensor(new Float32Array(numImgTokens * D), [1, numImgTokens, D]) });
  await bundle.sessions.editHead.runAsync(feeds());
  await bundle.releaseAsync();
  await assert.rejects(bundle.sessions.editHead.runAsync(feeds()));
});
