// The bundle loader's paths that need no model run: inspecting a bundle (what mgie doctor shows),
// loading the manifest and tokenizer alone, and how the loader words a broken tokenizer config, a bad
// scheduler, a digest that only prints like one, skipped checksums and a provider that cannot load.
import assert from 'node:assert/strict';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { inspectBundleAsync } from '../../companion-server/engine/bundle/inspect-bundle-async.ts';
import { folderBytesAsync, loadBundleAsync, loadBundleTokenizerAsync } from '../../companion-server/engine/bundle/load-bundle.ts';
import type { ProviderProbe } from '../../companion-server/engine/providers/probe-providers-async.ts';
import { CONCRETE_PROVIDERS } from '../../companion-server/engine/providers/provider-names.ts';
import { copyTinyBundleAsync, editManifestAsync, tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

test('inspectBundleAsync: manifest, the nine files, every checksum checked, the folder size and the precision', async () => {
  const dir = await tinyBundleDirAsync();
  const manifest = JSON.parse(await readFile(path.join(dir, 'mgie-bundle.json'), 'utf8'));
  const inspection = await inspectBundleAsync(dir);
  assert.equal(inspection.manifest.name, 'mgie-tiny');
  assert.equal(inspection.fileCount, 9);
  assert.equal(inspection.checkedFiles, Object.keys(manifest.sha256).length);
  assert.ok(inspection.checkedFiles > 0);
  assert.equal(inspection.totalBytes, await folderBytesAsync(dir));
  assert.equal(inspection.precision, 'float32');
});

test('inspectBundleAsync: a renamed tokenizer config is looked for under its manifest name; no sha256 and no export are fine', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await rename(path.join(dir, 'tokenizer_config.json'), path.join(dir, 'config-of-tokenizer.json'));
  await editManifestAsync(dir, (m) => {
    m.tokenizerConfig = 'config-of-tokenizer.json';
    delete m.sha256;
    delete m.export;
  });
  const inspection = await inspectBundleAsync(dir);
  assert.equal(inspection.checkedFiles, 0);
  assert.equal(inspection.precision, undefined);
  assert.equal(inspection.fileCount, 9);
  await rename(path.join(dir, 'config-of-tokenizer.json'), path.join(dir, 'tokenizer_config.json'));
  await assert.rejects(inspectBundleAsync(dir), (error: any) => error.code === 'MGIE_ERR_BUNDLE_MISSING_FILE' && /config-of-tokenizer\.json/.test(error.message));
});

test('loadBundleTokenizerAsync: the manifest, the tokenizer and every token id, without loading a model', async () => {
  const dir = await tinyBundleDirAsync();
  const { manifest, tokenizer, tokenIds } = await loadBundleTokenizerAsync(dir);
  assert.equal(manifest.name, 'mgie-tiny');
  assert.equal(tokenIds.img.length, 8);
  assert.equal(tokenIds.bos, tokenizer.bosId);
  assert.equal(tokenizer.tokenToId(manifest.tokens.imPatch), tokenIds.imPatch);
  assert.equal(tokenizer.tokenToId(manifest.tokens.img[7]), tokenIds.img[7]);
});

test('a tokenizer config whose bos_token is not a token: MGIE_ERR_BUNDLE_TOKENIZER naming tokenizer.json, with the cause', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  const configFile = path.join(dir, 'tokenizer_config.json');
  const config = JSON.parse(await readFile(configFile, 'utf8'));
  await writeFile(configFile, JSON.stringify({ ...config, bos_token: '<nope>' }));
  await editManifestAsync(dir, (m) => delete m.sha256['tokenizer_config.json']);
  await assert.rejects(loadBundleTokenizerAsync(dir), (error: any) => {
    assert.equal(error.code, 'MGIE_ERR_BUNDLE_TOKENIZER');
    assert.equal(
      error.message,
      `${path.join(dir, 'tokenizer.json')}: The tokenizer_config.json is invalid: its bos_token ("<nope>") is not a token of tokenizer.json. Re-export the tokenizer with Hugging Face tokenizers.`,
    );
    assert.equal(error.cause?.code, 'MGIE_ERR_BUNDLE_TOKENIZER');
    return true;
  });
});

test('a scheduler the engine cannot build fails at load as a manifest error, with the scheduler\'s error as cause', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await editManifestAsync(dir, (m) => (m.diffusion.scheduler.betaSchedule = 'cosine'));
  await assert.rejects(loadBundleAsync(dir), (error: any) => {
    assert.equal(error.code, 'MGIE_ERR_BUNDLE_MANIFEST');
    assert.match(error.message, /diffusion\.scheduler is not usable: betaSchedule must be one of linear, scaled_linear, got "cosine"\./);
    assert.ok(error.cause instanceof Error);
    return true;
  });
});

test('a sha256 entry that is not a string is refused even when it prints as 64 hex digits', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await editManifestAsync(dir, (m) => (m.sha256['vision.onnx'] = [m.sha256['vision.onnx']]));
  await assert.rejects(loadBundleTokenizerAsync(dir), (error: any) => error.code === 'MGIE_ERR_BUNDLE_MANIFEST' && /"sha256\.vision\.onnx" must be a 64-digit hex SHA-256/.test(error.message));
});

test('verifyChecksums: false skips the digests (a wrong one loads); by default a wrong one is refused', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await editManifestAsync(dir, (m) => (m.sha256['vision.onnx'] = '0'.repeat(64)));
  await assert.rejects(loadBundleAsync(dir), (error: any) => error.code === 'MGIE_ERR_BUNDLE_CHECKSUM');
  const bundle = await loadBundleAsync(dir, { verifyChecksums: false });
  await bundle.releaseAsync();
});

test('a provider asked for by name that the probe says runs, but cannot load the bundle: MGIE_ERR_PROVIDER_UNAVAILABLE, not a crash', async () => {
  const probes = async (): Promise<ProviderProbe[]> => CONCRETE_PROVIDERS.map((name) => ({ name, available: name === 'cpu' || name === 'webgpu', reason: 'test' }));
  let bundle;
  try {
    bundle = await loadBundleAsync(await tinyBundleDirAsync(), { executionProvider: 'webgpu', probeProviders: probes });
  } catch (error: any) {
    assert.equal(error.code, 'MGIE_ERR_PROVIDER_UNAVAILABLE', error.message);
    assert.match(error.message, /^vision\.onnx: the webgpu provider could not load it: /);
    return;
  }
  // a machine where WebGPU runs: it is the one chosen
  assert.equal(bundle.executionProvider, 'webgpu');
  await bundle.releaseAsync();
});
