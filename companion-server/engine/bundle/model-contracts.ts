// What each ONNX file of a bundle must take and give (models/BUNDLE-FORMAT.md, "Files"), with the
// sizes the manifest fixes. Checked once at load so a wrong export fails there, not mid-edit.
import { MgieError } from '../errors.ts';
import type { ValueSpec } from '../onnx-runtime.ts';
import type { BundleManifest, ModelKey } from './bundle-manifest.ts';

type Kind = 'float' | 'float32' | 'int64';
/** A fixed size, or null where the size is free (dynamic, or decided per run). */
type ExpectedDim = number | null;
interface ExpectedValue {
  name: string;
  kind: Kind;
  shape: ExpectedDim[];
}
export interface ModelContract {
  inputs: ExpectedValue[];
  outputs: ExpectedValue[];
}

const value = (name: string, kind: Kind, shape: ExpectedDim[]): ExpectedValue => ({ name, kind, shape });

export function modelContracts(manifest: BundleManifest): Record<ModelKey, ModelContract> {
  const { vision, llm, editHead, diffusion } = manifest;
  const D = llm.hiddenSize;
  const { numKvHeads: Hkv, headDim: Dh } = llm;
  const Cl = diffusion.latentChannels;
  const Q = editHead.numQueries;
  const C = editHead.dim;
  const layerNames = (prefix: string): string[] => Array.from({ length: llm.numLayers }, (_, i) => [`${prefix}.${i}.key`, `${prefix}.${i}.value`]).flat();
  return {
    vision: {
      inputs: [value('pixel_values', 'float', [1, 3, vision.imageSize, vision.imageSize])],
      outputs: [value('image_features', 'float', [1, vision.numPatches, D])],
    },
    embed: {
      inputs: [value('input_ids', 'int64', [1, null])],
      outputs: [value('inputs_embeds', 'float', [1, null, D])],
    },
    decoder: {
      inputs: [
        value('inputs_embeds', 'float', [1, null, D]),
        value('attention_mask', 'int64', [1, null]),
        value('position_ids', 'int64', [1, null]),
        ...layerNames('past_key_values').map((name) => value(name, 'float', [1, Hkv, null, Dh])),
      ],
      outputs: [
        value('logits', 'float', [1, null, llm.vocabSize]),
        value('last_hidden_state', 'float', [1, null, D]),
        ...layerNames('present').map((name) => value(name, 'float', [1, Hkv, null, Dh])),
      ],
    },
    editHead: {
      inputs: [value('img_hidden', 'float', [null, editHead.numImgTokens, D])],
      outputs: [value('prompt_embeds', 'float', [null, Q, C])],
    },
    vaeEncoder: {
      inputs: [value('image', 'float', [1, 3, null, null])],
      outputs: [value('latent', 'float', [1, Cl, null, null])],
    },
    unet: {
      // The timestep stays float32: fractional timesteps (linspace spacing) do not survive float16.
      inputs: [value('sample', 'float', [null, 2 * Cl, null, null]), value('timestep', 'float32', [null]), value('encoder_hidden_states', 'float', [null, Q, C])],
      outputs: [value('noise_pred', 'float', [null, Cl, null, null])],
    },
    vaeDecoder: {
      inputs: [value('latent', 'float', [1, Cl, null, null])],
      outputs: [value('image', 'float', [1, 3, null, null])],
    },
  };
}

/** Throws one error naming the file, the tensor and what was expected, for the first mismatch. */
export function checkModelContract(file: string, contract: ModelContract, actualInputs: ReadonlyMap<string, ValueSpec>, actualOutputs: ReadonlyMap<string, ValueSpec>): void {
  const fail = (message: string): never => {
    throw new MgieError('MGIE_ERR_BUNDLE_MODEL_IO', `${file}: ${message}. Re-export this model to match the bundle format (models/BUNDLE-FORMAT.md).`);
  };
  for (const [direction, expected, actual] of [
    ['input', contract.inputs, actualInputs],
    ['output', contract.outputs, actualOutputs],
  ] as const) {
    for (const want of expected) {
      const have = actual.get(want.name);
      if (!have) fail(`${direction} "${want.name}" is missing (the model has: ${[...actual.keys()].join(', ') || 'none'})`);
      const typeOk = want.kind === 'float' ? have!.type === 'float32' || have!.type === 'float16' : have!.type === want.kind;
      if (!typeOk) fail(`${direction} "${want.name}" is ${have!.type}, expected ${want.kind === 'float' ? 'float32 or float16' : want.kind}`);
      if (have!.shape.length !== want.shape.length) fail(`${direction} "${want.name}" has rank ${have!.shape.length} ${describeShape(have!.shape)}, expected rank ${want.shape.length} ${describeShape(want.shape)}`);
      want.shape.forEach((size, axis) => {
        const actualSize = have!.shape[axis];
        if (size !== null && typeof actualSize === 'number' && actualSize >= 0 && actualSize !== size) {
          fail(`${direction} "${want.name}" has size ${actualSize} on axis ${axis}, expected ${size} ${describeShape(want.shape)} (from the manifest)`);
        }
      });
    }
    if (direction === 'input') {
      const extra = [...actual.keys()].filter((name) => !expected.some((e) => e.name === name));
      if (extra.length > 0) fail(`unexpected inputs ${extra.join(', ')}`);
    }
  }
}

function describeShape(shape: ReadonlyArray<number | string | null>): string {
  return `[${shape.map((d) => (d === null || d === -1 ? '?' : d)).join(', ')}]`;
}
