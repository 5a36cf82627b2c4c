// The contract of each ONNX file (models/BUNDLE-FORMAT.md, "Files") and its check, on their own:
// names, element types and the sizes the manifest fixes; each mismatch is one error naming the file,
// the tensor and what was expected. (bundle-defects.test.ts checks the same through real models.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BundleManifest } from '../../companion-server/engine/bundle/bundle-manifest.ts';
import { checkModelContract, type ModelContract, modelContracts } from '../../companion-server/engine/bundle/model-contracts.ts';
import type { ValueSpec } from '../../companion-server/engine/onnx-runtime.ts';

const manifest = {
  vision: { imageSize: 224, numPatches: 64 },
  llm: { hiddenSize: 64, numLayers: 2, numKvHeads: 4, headDim: 16, vocabSize: 1011 },
  editHead: { numImgTokens: 8, numQueries: 77, dim: 32 },
  diffusion: { latentChannels: 4 },
} as unknown as BundleManifest;

const v = (name: string, kind: string, shape: Array<number | null>) => ({ name, kind, shape });

test('each model takes and gives the tensors BUNDLE-FORMAT.md lists, with the sizes the manifest fixes', () => {
  assert.deepEqual(modelContracts(manifest), {
    vision: { inputs: [v('pixel_values', 'float', [1, 3, 224, 224])], outputs: [v('image_features', 'float', [1, 64, 64])] },
    embed: { inputs: [v('input_ids', 'int64', [1, null])], outputs: [v('inputs_embeds', 'float', [1, null, 64])] },
    decoder: {
      inputs: [
        v('inputs_embeds', 'float', [1, null, 64]),
        v('attention_mask', 'int64', [1, null]),
        v('position_ids', 'int64', [1, null]),
        v('past_key_values.0.key', 'float', [1, 4, null, 16]),
        v('past_key_values.0.value', 'float', [1, 4, null, 16]),
        v('past_key_values.1.key', 'float', [1, 4, null, 16]),
        v('past_key_values.1.value', 'float', [1, 4, null, 16]),
      ],
      outputs: [
        v('logits', 'float', [1, null, 1011]),
        v('last_hidden_state', 'float', [1, null, 64]),
        v('present.0.key', 'float', [1, 4, null, 16]),
        v('present.0.value', 'float', [1, 4, null, 16]),
        v('present.1.key', 'float', [1, 4, null, 16]),
        v('present.1.value', 'float', [1, 4, null, 16]),
      ],
    },
    editHead: { inputs: [v('img_hidden', 'float', [null, 8, 64])], outputs: [v('prompt_embeds', 'float', [null, 77, 32])] },
    vaeEncoder: { inputs: [v('image', 'float', [1, 3, null, null])], outputs: [v('latent', 'float', [1, 4, null, null])] },
    unet: {
      inputs: [v('sample', 'float', [null, 8, null, null]), v('timestep', 'float32', [null]), v('encoder_hidden_states', 'float', [null, 77, 32])],
      outputs: [v('noise_pred', 'float', [null, 4, null, null])],
    },
    vaeDecoder: { inputs: [v('latent', 'float', [1, 4, null, null])], outputs: [v('image', 'float', [1, 3, null, null])] },
  });
});

const contract: ModelContract = {
  inputs: [
    { name: 'sample', kind: 'float', shape: [null, 8, null, null] },
    { name: 'timestep', kind: 'float32', shape: [null] },
    { name: 'ids', kind: 'int64', shape: [1, null] },
  ],
  outputs: [{ name: 'noise_pred', kind: 'float', shape: [null, 4, null, null] }],
};

function specs(...values: Array<[string, ValueSpec['type'], Array<number | string>]>): Map<string, ValueSpec> {
  return new Map(values.map(([name, type, shape]) => [name, { name, type, shape }]));
}

const goodInputs = () =>
  specs(['sample', 'float32', ['batch', 8, 'height', 'width']], ['timestep', 'float32', ['batch']], ['ids', 'int64', [1, 'sequence']]);
const goodOutputs = () => specs(['noise_pred', 'float32', ['batch', 4, 'height', 'width']]);

function assertContractError(inputs: Map<string, ValueSpec>, outputs: Map<string, ValueSpec>, detail: string): void {
  assert.throws(
    () => checkModelContract('unet.onnx', contract, inputs, outputs),
    (error: any) => {
      assert.equal(error.code, 'MGIE_ERR_BUNDLE_MODEL_IO');
      assert.equal(error.message, `unet.onnx: ${detail}. Re-export this model to match the bundle format (models/BUNDLE-FORMAT.md).`);
      return true;
    },
  );
}

test('a model that matches passes, float tensors as float32 or float16, free sizes symbolic, -1 or any number', () => {
  checkModelContract('unet.onnx', contract, goodInputs(), goodOutputs());
  checkModelContract(
    'unet.onnx',
    contract,
    specs(['sample', 'float16', [2, 8, 64, 64]], ['timestep', 'float32', [-1]], ['ids', 'int64', [1, 0]]),
    specs(['noise_pred', 'float16', [-1, 4, -1, 7]], ['extra_output', 'float32', [1]]),
  );
});

test('a missing input or output is named, with what the model has instead', () => {
  const inputs = goodInputs();
  inputs.delete('timestep');
  assertContractError(inputs, goodOutputs(), 'input "timestep" is missing (the model has: sample, ids)');
  assertContractError(goodInputs(), new Map(), 'output "noise_pred" is missing (the model has: none)');
});

test('a wrong element type is named with the types that would do', () => {
  assertContractError(specs(['sample', 'int64', ['b', 8, 'h', 'w']], ['timestep', 'float32', ['b']], ['ids', 'int64', [1, 's']]), goodOutputs(), 'input "sample" is int64, expected float32 or float16');
  assertContractError(specs(['sample', 'float32', ['b', 8, 'h', 'w']], ['timestep', 'float16', ['b']], ['ids', 'int64', [1, 's']]), goodOutputs(), 'input "timestep" is float16, expected float32');
  assertContractError(specs(['sample', 'float32', ['b', 8, 'h', 'w']], ['timestep', 'float32', ['b']], ['ids', 'int32', [1, 's']]), goodOutputs(), 'input "ids" is int32, expected int64');
  assertContractError(goodInputs(), specs(['noise_pred', 'float64', ['b', 4, 'h', 'w']]), 'output "noise_pred" is float64, expected float32 or float16');
});

test('a wrong rank is named with both shapes, free sizes shown as ?', () => {
  assertContractError(
    specs(['sample', 'float32', ['batch', 8, -1]], ['timestep', 'float32', ['b']], ['ids', 'int64', [1, 's']]),
    goodOutputs(),
    'input "sample" has rank 3 [batch, 8, ?], expected rank 4 [?, 8, ?, ?]',
  );
  assertContractError(goodInputs(), specs(['noise_pred', 'float32', ['b', 4, 'h', 'w', 1]]), 'output "noise_pred" has rank 5 [b, 4, h, w, 1], expected rank 4 [?, 4, ?, ?]');
});

test('a fixed size that differs is named with its axis; 0 is a size too', () => {
  assertContractError(
    specs(['sample', 'float32', ['b', 9, 'h', 'w']], ['timestep', 'float32', ['b']], ['ids', 'int64', [1, 's']]),
    goodOutputs(),
    'input "sample" has size 9 on axis 1, expected 8 [?, 8, ?, ?] (from the manifest)',
  );
  assertContractError(
    specs(['sample', 'float32', ['b', 8, 'h', 'w']], ['timestep', 'float32', ['b']], ['ids', 'int64', [0, 's']]),
    goodOutputs(),
    'input "ids" has size 0 on axis 0, expected 1 [1, ?] (from the manifest)',
  );
  assertContractError(goodInputs(), specs(['noise_pred', 'float32', ['b', 3, 'h', 'w']]), 'output "noise_pred" has size 3 on axis 1, expected 4 [?, 4, ?, ?] (from the manifest)');
});

test('inputs the contract does not list are refused (the pipeline could not feed them); extra outputs are not', () => {
  const inputs = goodInputs();
  inputs.set('guidance', { name: 'guidance', type: 'float32', shape: [1] });
  inputs.set('mask', { name: 'mask', type: 'float32', shape: [1] });
  assertContractError(inputs, goodOutputs(), 'unexpected inputs guidance, mask');
});
