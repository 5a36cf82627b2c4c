// One test per kind of bundle defect: each must fail at load with one error that names the file,
// the tensor or token, and what was expected.
import assert from 'node:assert/strict';
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { loadBundleAsync } from '../../companion-server/engine/bundle/load-bundle.ts';
import { GraphBuilder } from '../../models/onnx-builder/graph-builder.ts';
import { copyTinyBundleAsync, editManifestAsync, tinyBundleDirAsync } from '../helpers/tiny-bundle.ts';

async function assertLoadFails(dir: string, code: string, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(loadBundleAsync(dir), (error: any) => {
    assert.equal(error.code, code, error.message);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

test('the tiny bundle loads, with every token resolved', async () => {
  const bundle = await loadBundleAsync(await tinyBundleDirAsync());
  try {
    assert.equal(bundle.manifest.formatVersion, 1);
    assert.equal(bundle.tokenIds.img.length, 8);
    assert.equal(new Set([...bundle.tokenIds.img, bundle.tokenIds.imPatch, bundle.tokenIds.bos, bundle.tokenIds.eos]).size, 11);
    assert.ok(bundle.totalBytes > 0);
  } finally {
    await bundle.releaseAsync();
  }
});

test('a folder that does not exist', async () => {
  await assertLoadFails('/nonexistent/mgie-bundle', 'MGIE_ERR_BUNDLE_NOT_FOUND', /No bundle folder/);
});

test('a folder without a manifest', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await rm(path.join(dir, 'mgie-bundle.json'));
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_NOT_FOUND', /no mgie-bundle\.json/);
});

test('a manifest that is not JSON', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await writeFile(path.join(dir, 'mgie-bundle.json'), '{ "format": ');
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_MANIFEST', /not valid JSON/);
});

test('another format', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await editManifestAsync(dir, (m) => (m.format = 'something-else'));
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_MANIFEST', /"format" must be "mgie-onnx-bundle"/);
});

test('a newer format version is refused with a message saying so', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await editManifestAsync(dir, (m) => (m.formatVersion = 2));
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_VERSION', /format version 2/, /reads version 1/);
});

test('a manifest field of the wrong type', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await editManifestAsync(dir, (m) => (m.llm.numLayers = '2'));
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_MANIFEST', /"llm\.numLayers" must be a positive integer/);
});

test('llm.weights: an unknown format, or a quantized one without a usable block size', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await editManifestAsync(dir, (m) => (m.llm.weights = { format: 'q4_0' }));
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_MANIFEST', /"llm\.weights\.format" must be one of fp32, fp16, int8, int4/);
  await editManifestAsync(dir, (m) => (m.llm.weights = { format: 'int4', blockSize: 24, scheme: 'asymmetric', op: 'MatMulNBits' }));
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_MANIFEST', /"llm\.weights\.blockSize" must be a power of two, at least 16/);
});

test('a missing model file', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await rm(path.join(dir, 'unet.onnx'));
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_MISSING_FILE', /missing unet\.onnx/);
});

test('a file name that leaves the bundle folder', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await editManifestAsync(dir, (m) => (m.files.vision = '../vision.onnx'));
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_MANIFEST', /outside the bundle folder/);
});

test('a damaged file fails its checksum', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await appendFile(path.join(dir, 'decoder.onnx'), Buffer.from([0]));
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_CHECKSUM', /decoder\.onnx does not match its sha256/);
});

test('a model that is not ONNX', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await writeFile(path.join(dir, 'embed.onnx'), 'not a model');
  await editManifestAsync(dir, (m) => delete m.sha256['embed.onnx']);
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_MODEL_IO', /embed\.onnx: onnxruntime could not load/);
});

test('a size the manifest fixes differs from the model', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await editManifestAsync(dir, (m) => (m.editHead.dim += 1));
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_MODEL_IO', /edit_head\.onnx: output "prompt_embeds" has size \d+ on axis 2, expected \d+/);
});

test('a layer count that does not match the decoder', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await editManifestAsync(dir, (m) => (m.llm.numLayers += 1));
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_MODEL_IO', /decoder\.onnx: input "past_key_values\.\d+\.key" is missing/);
});

/** Replaces a model by one with the given IO, so name/rank/type defects can be made on purpose. */
async function replaceModelAsync(dir: string, file: string, build: (g: GraphBuilder) => void): Promise<void> {
  const g = new GraphBuilder('defect');
  build(g);
  await writeFile(path.join(dir, file), g.toModelBytes());
  await editManifestAsync(dir, (m) => delete m.sha256[file]);
}

test('a wrongly named output', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  const manifest = JSON.parse(await readFile(path.join(dir, 'mgie-bundle.json'), 'utf8'));
  const D = manifest.llm.hiddenSize;
  await replaceModelAsync(dir, 'embed.onnx', (g) => {
    const ids = g.input('input_ids', 'int64', [1, 'T']);
    const table = g.weight('table', new Float32Array(manifest.llm.vocabSize * D), [manifest.llm.vocabSize, D]);
    g.output(g.op('Gather', [table, ids]), 'embeddings', 'float32', [1, 'T', D]);
  });
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_MODEL_IO', /embed\.onnx: output "inputs_embeds" is missing \(the model has: embeddings\)/);
});

test('a wrong rank', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await replaceModelAsync(dir, 'vae_decoder.onnx', (g) => {
    const latent = g.input('latent', 'float32', [4, 'h', 'w']);
    g.output(g.op('Identity', [latent]), 'image', 'float32', [4, 'h', 'w']);
  });
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_MODEL_IO', /vae_decoder\.onnx: input "latent" has rank 3/, /expected rank 4/);
});

test('a wrong element type', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  const manifest = JSON.parse(await readFile(path.join(dir, 'mgie-bundle.json'), 'utf8'));
  const D = manifest.llm.hiddenSize;
  await replaceModelAsync(dir, 'embed.onnx', (g) => {
    const ids = g.input('input_ids', 'float32', [1, 'T']);
    const cast = g.op('Cast', [ids], { to: 7 });
    const table = g.weight('table', new Float32Array(manifest.llm.vocabSize * D), [manifest.llm.vocabSize, D]);
    g.output(g.op('Gather', [table, cast]), 'inputs_embeds', 'float32', [1, 'T', D]);
  });
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_MODEL_IO', /embed\.onnx: input "input_ids" is float32, expected int64/);
});

test('a tokenizer without one of the IMG tokens', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await editManifestAsync(dir, (m) => {
    m.tokens.img[7] = '[IMG99]';
  });
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_TOKENIZER', /no token "\[IMG99\]" \(manifest tokens\.img\[7\]\)/);
});

test('a tokenizer.json that is not JSON', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await writeFile(path.join(dir, 'tokenizer.json'), '{');
  await editManifestAsync(dir, (m) => delete m.sha256['tokenizer.json']);
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_TOKENIZER', /tokenizer\.json is not valid JSON/);
});

test('a token id outside the decoder vocabulary', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  // Pretend the decoder has a smaller vocabulary than the tokenizer's added tokens need.
  await editManifestAsync(dir, (m) => (m.llm.vocabSize -= 5));
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_TOKENIZER', /outside the decoder's vocabulary/);
});

test('an unknown scheduler type is refused at load, listing the allowed ones', async (t) => {
  const dir = await copyTinyBundleAsync(t);
  await editManifestAsync(dir, (m) => (m.diffusion.scheduler.type = 'heun'));
  await assertLoadFails(dir, 'MGIE_ERR_BUNDLE_MANIFEST', /diffusion\.scheduler/, /euler-ancestral/);
});
