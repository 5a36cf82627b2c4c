// parseBundleManifest on its own: every field of models/BUNDLE-FORMAT.md's manifest is checked, at
// its boundaries, and a defect names the field and what it must be. (bundle-defects.test.ts checks
// the same through loadBundleAsync on real bundle folders; this file is fast enough to run per edit.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBundleManifest } from '../../companion-server/engine/bundle/bundle-manifest.ts';

function validManifest(): any {
  return {
    format: 'mgie-onnx-bundle',
    formatVersion: 1,
    name: 'mgie-test',
    files: {
      vision: 'vision.onnx',
      embed: 'embed.onnx',
      decoder: 'decoder.onnx',
      editHead: 'edit_head.onnx',
      vaeEncoder: 'vae_encoder.onnx',
      unet: 'unet.onnx',
      vaeDecoder: 'vae_decoder.onnx',
      tokenizer: 'tokenizer.json',
    },
    sha256: { 'vision.onnx': '96cd50a7bce51f5b49736426593aef5314c27d50b92d8aa70aaf92ef9d273fbd' },
    vision: { imageSize: 224, numPatches: 64, mean: [0.48, 0.46, 0.41], std: [0.27, 0.26, 0.28] },
    llm: { hiddenSize: 64, numLayers: 2, numKvHeads: 4, headDim: 16, vocabSize: 1011 },
    tokens: { bos: '<s>', eos: '</s>', imPatch: '<im_patch>', imStart: '<im_start>', imEnd: '<im_end>', img: ['[IMG0]', '[IMG1]'] },
    prompt: { template: "USER: what will this image be like if '{instruction}'\n{image} ASSISTANT:" },
    generation: { maxNewTokens: 96, noRepeatNgramSize: 3 },
    editHead: { numImgTokens: 2, numQueries: 77, dim: 32 },
    diffusion: {
      latentChannels: 4,
      vaeScaleFactor: 8,
      scalingFactor: 0.18215,
      sizeMultiple: 64,
      scheduler: { type: 'euler-ancestral', numTrainTimesteps: 1000, betaStart: 0.00085, betaEnd: 0.012 },
      defaults: { steps: 100, guidanceScale: 7.5, imageGuidanceScale: 1.5, size: 512 },
    },
  };
}

/** Sets a dotted path ("a.b[2]" style keys joined by dots) of a fresh valid manifest. */
function withField(path: string, value: unknown): any {
  const manifest = validManifest();
  const keys = path.split('.');
  let target = manifest;
  for (const key of keys.slice(0, -1)) target = target[key];
  const last = keys.at(-1)!;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return manifest;
}

function assertManifestError(manifest: unknown, field: string, expected: string): void {
  assert.throws(
    () => parseBundleManifest(manifest, 'bundle/mgie-bundle.json'),
    (error: any) => {
      assert.equal(error.code, 'MGIE_ERR_BUNDLE_MANIFEST', error.message);
      assert.equal(error.message, `bundle/mgie-bundle.json: "${field}" must be ${expected}. Fix the manifest or re-export the bundle.`);
      return true;
    },
  );
}

test('a valid manifest is returned as is, optional fields absent or present', () => {
  const manifest = validManifest();
  assert.equal(parseBundleManifest(manifest, 'where'), manifest);
  const minimal = withField('sha256', undefined);
  assert.equal(parseBundleManifest(minimal, 'where'), minimal);
  const withConfig = withField('tokenizerConfig', 'tokenizer_config.json');
  assert.equal(parseBundleManifest(withConfig, 'where'), withConfig);
});

test('the root must be an object: not null, an array or a string', () => {
  for (const root of [null, [], 'mgie-onnx-bundle', 7]) assertManifestError(root, '(root)', 'an object');
});

test('format must be exactly "mgie-onnx-bundle"', () => {
  for (const format of [undefined, '', 'MGIE-ONNX-BUNDLE', 'mgie-onnx-bundle ']) {
    assertManifestError(withField('format', format), 'format', '"mgie-onnx-bundle"');
  }
});

test('formatVersion: 1 is read, a newer one is MGIE_ERR_BUNDLE_VERSION, anything else a manifest error', () => {
  for (const version of [2, 17]) {
    assert.throws(
      () => parseBundleManifest(withField('formatVersion', version), 'bundle/mgie-bundle.json'),
      (error: any) =>
        error.code === 'MGIE_ERR_BUNDLE_VERSION' &&
        error.message === `bundle/mgie-bundle.json: the bundle is format version ${version}, this runtime reads version 1. Update mgie-for-figma, or export the bundle with a matching exporter.`,
    );
  }
  for (const version of [0, -1, 1.5, '1', undefined]) assertManifestError(withField('formatVersion', version), 'formatVersion', 'a positive integer');
});

test('every model file and the tokenizer must be named by a non-empty string', () => {
  assertManifestError(withField('files', undefined), 'files', 'an object');
  assertManifestError(withField('files', ['vision.onnx']), 'files', 'an object');
  for (const key of ['vision', 'embed', 'decoder', 'editHead', 'vaeEncoder', 'unet', 'vaeDecoder', 'tokenizer']) {
    for (const value of [undefined, '', 3]) assertManifestError(withField(`files.${key}`, value), `files.${key}`, 'a non-empty string');
  }
});

test('sha256: an object of 64-digit hex digests, either case; other lengths and characters are refused', () => {
  const upper = withField('sha256', { 'a.onnx': 'AB'.repeat(32) });
  assert.doesNotThrow(() => parseBundleManifest(upper, 'where'));
  assertManifestError(withField('sha256', 'abc'), 'sha256', 'an object');
  for (const digest of ['a'.repeat(63), 'a'.repeat(65), `${'a'.repeat(63)}g`, ` ${'a'.repeat(64)}`, `${'a'.repeat(64)}\n`, 64]) {
    assertManifestError(withField('sha256', { 'x.onnx': digest }), 'sha256.x.onnx', 'a 64-digit hex SHA-256');
  }
});

test('vision: positive integer sizes, mean and std three finite numbers, std positive', () => {
  assertManifestError(withField('vision', 'clip'), 'vision', 'an object');
  for (const key of ['imageSize', 'numPatches']) {
    for (const value of [0, -224, 2.5, '224', undefined]) assertManifestError(withField(`vision.${key}`, value), `vision.${key}`, 'a positive integer');
  }
  for (const key of ['mean', 'std']) {
    for (const value of [[0.5, 0.5], [0.5, 0.5, 0.5, 0.5], [0.5, '0.5', 0.5], [0.5, Number.NaN, 0.5], [0.5, Number.POSITIVE_INFINITY, 0.5], { 0: 0.5, 1: 0.5, 2: 0.5, length: 3 }, undefined]) {
      assertManifestError(withField(`vision.${key}`, value), `vision.${key}`, 'an array of 3 numbers');
    }
  }
  assert.doesNotThrow(() => parseBundleManifest(withField('vision.mean', [-1, 0, 1]), 'where'));
  for (const std of [[0.5, 0, 0.5], [0.5, 0.5, -0.1]]) assertManifestError(withField('vision.std', std), 'vision.std', 'three positive numbers');
  assert.doesNotThrow(() => parseBundleManifest(withField('vision.std', [1e-9, 1, 2]), 'where'));
});

test('llm: every size a positive integer', () => {
  assertManifestError(withField('llm', null), 'llm', 'an object');
  for (const key of ['hiddenSize', 'numLayers', 'numKvHeads', 'headDim', 'vocabSize']) {
    for (const value of [0, -1, 1.5, '64', undefined]) assertManifestError(withField(`llm.${key}`, value), `llm.${key}`, 'a positive integer');
  }
  assert.doesNotThrow(() => parseBundleManifest(withField('llm.numLayers', 1), 'where'));
});

test('tokens: non-empty strings, and img a non-empty array of them, as many as editHead.numImgTokens', () => {
  assertManifestError(withField('tokens', undefined), 'tokens', 'an object');
  for (const key of ['bos', 'eos', 'imPatch', 'imStart', 'imEnd']) {
    for (const value of [undefined, '', 1]) assertManifestError(withField(`tokens.${key}`, value), `tokens.${key}`, 'a non-empty string');
  }
  for (const img of [undefined, [], '[IMG0][IMG1]']) assertManifestError(withField('tokens.img', img), 'tokens.img', 'a non-empty array of token strings');
  assertManifestError(withField('tokens.img', ['[IMG0]', '']), 'tokens.img[1]', 'a non-empty string');
  assertManifestError(withField('tokens.img', [7, '[IMG1]']), 'tokens.img[0]', 'a non-empty string');
  assertManifestError(withField('tokens.img', ['[IMG0]', '[IMG1]', '[IMG2]']), 'tokens.img', '2 tokens (editHead.numImgTokens)');
  assertManifestError(withField('tokens.img', ['[IMG0]']), 'tokens.img', '2 tokens (editHead.numImgTokens)');
});

test('prompt.template: a non-empty string with both {instruction} and {image}', () => {
  assertManifestError(withField('prompt', undefined), 'prompt', 'an object');
  assertManifestError(withField('prompt.template', ''), 'prompt.template', 'a non-empty string');
  assertManifestError(withField('prompt.template', 'USER: {image} ASSISTANT:'), 'prompt.template', 'a template containing {instruction}');
  assertManifestError(withField('prompt.template', 'USER: {instruction} ASSISTANT:'), 'prompt.template', 'a template containing {image}');
  assert.doesNotThrow(() => parseBundleManifest(withField('prompt.template', '{image}{instruction}'), 'where'));
});

test('generation: maxNewTokens a positive integer, noRepeatNgramSize an integer >= 0 (0 turns it off)', () => {
  assertManifestError(withField('generation', undefined), 'generation', 'an object');
  for (const value of [0, -5, 9.5, undefined]) assertManifestError(withField('generation.maxNewTokens', value), 'generation.maxNewTokens', 'a positive integer');
  assert.doesNotThrow(() => parseBundleManifest(withField('generation.noRepeatNgramSize', 0), 'where'));
  for (const value of [-1, 2.5, '3', undefined]) {
    assertManifestError(withField('generation.noRepeatNgramSize', value), 'generation.noRepeatNgramSize', 'an integer >= 0');
  }
});

test('editHead: positive integer sizes', () => {
  assertManifestError(withField('editHead', undefined), 'editHead', 'an object');
  for (const key of ['numImgTokens', 'numQueries', 'dim']) {
    for (const value of [0, -1, 0.5, undefined]) assertManifestError(withField(`editHead.${key}`, value), `editHead.${key}`, 'a positive integer');
  }
});

test('diffusion: sizes, the scheduler and the defaults, with sizeMultiple a multiple of the VAE factor and size of sizeMultiple', () => {
  assertManifestError(withField('diffusion', undefined), 'diffusion', 'an object');
  for (const key of ['latentChannels', 'vaeScaleFactor', 'sizeMultiple']) {
    for (const value of [0, -8, 1.5, undefined]) assertManifestError(withField(`diffusion.${key}`, value), `diffusion.${key}`, 'a positive integer');
  }
  for (const value of [0, -0.1, Number.POSITIVE_INFINITY, Number.NaN, '0.18', undefined]) {
    assertManifestError(withField('diffusion.scalingFactor', value), 'diffusion.scalingFactor', 'a positive number');
  }
  assertManifestError(withField('diffusion.sizeMultiple', 60), 'diffusion.sizeMultiple', 'a multiple of diffusion.vaeScaleFactor (8)');
  assert.doesNotThrow(() => parseBundleManifest(withField('diffusion.sizeMultiple', 8), 'where'));

  assertManifestError(withField('diffusion.scheduler', undefined), 'diffusion.scheduler', 'an object');
  assertManifestError(withField('diffusion.scheduler.type', ''), 'diffusion.scheduler.type', 'a non-empty string');
  for (const value of [0, 999.5, undefined]) {
    assertManifestError(withField('diffusion.scheduler.numTrainTimesteps', value), 'diffusion.scheduler.numTrainTimesteps', 'a positive integer');
  }
  for (const key of ['betaStart', 'betaEnd']) {
    for (const value of [0, -0.001, undefined]) assertManifestError(withField(`diffusion.scheduler.${key}`, value), `diffusion.scheduler.${key}`, 'a positive number');
  }

  assertManifestError(withField('diffusion.defaults', undefined), 'diffusion.defaults', 'an object');
  for (const value of [0, 10.5, undefined]) assertManifestError(withField('diffusion.defaults.steps', value), 'diffusion.defaults.steps', 'a positive integer');
  for (const key of ['guidanceScale', 'imageGuidanceScale']) {
    for (const value of [0, -1, undefined]) assertManifestError(withField(`diffusion.defaults.${key}`, value), `diffusion.defaults.${key}`, 'a positive number');
  }
  for (const value of [0, 256.5, undefined]) assertManifestError(withField('diffusion.defaults.size', value), 'diffusion.defaults.size', 'a positive integer');
  assertManifestError(withField('diffusion.defaults.size', 480), 'diffusion.defaults.size', 'a multiple of diffusion.sizeMultiple (64)');
  assert.doesNotThrow(() => parseBundleManifest(withField('diffusion.defaults.size', 64), 'where'));
});

test('tokenizerConfig, when present, is a non-empty string', () => {
  for (const value of ['', 5, null]) assertManifestError(withField('tokenizerConfig', value), 'tokenizerConfig', 'a non-empty string');
});
