import { MgieError } from '../errors.ts';
import type { BundleManifest } from '../bundle/bundle-manifest.ts';
import type { TokenIds } from '../bundle/load-bundle.ts';
import type { MgieTokenizer } from '../tokenizer.ts';

export interface PromptIds {
  ids: number[];
  /** Index of the first image placeholder; numPatches of them follow in a row. */
  imagePatchStart: number;
}

/**
 * The Vicuna v1.1 prompt of mgie-reference.md §2, tokenised with BOS, with numPatches image
 * placeholders between imStart and imEnd. The template comes from the manifest.
 */
export function buildPromptIds(instruction: string, manifest: BundleManifest, tokenizer: MgieTokenizer, tokenIds: TokenIds): PromptIds {
  const { tokens, vision, prompt } = manifest;
  // An instruction must not smuggle in special tokens: they would shift the image or IMG positions.
  for (const token of [tokens.bos, tokens.eos, tokens.imPatch, tokens.imStart, tokens.imEnd, ...tokens.img]) {
    if (instruction.includes(token)) {
      throw new MgieError('MGIE_ERR_BAD_PARAMETER', `The instruction contains the reserved token "${token}". Remove it and try again.`);
    }
  }
  const image = tokens.imStart + tokens.imPatch.repeat(vision.numPatches) + tokens.imEnd;
  const text = prompt.template.replace('{instruction}', () => instruction).replace('{image}', () => image);
  const ids = tokenizer.encode(text, { addBos: true });
  const imagePatchStart = ids.indexOf(tokenIds.imPatch);
  const patchCount = ids.filter((id) => id === tokenIds.imPatch).length;
  if (imagePatchStart < 0 || patchCount !== vision.numPatches || ids[imagePatchStart + patchCount - 1] !== tokenIds.imPatch) {
    throw new MgieError('MGIE_ERR_BUNDLE_TOKENIZER', `The tokenizer did not keep ${vision.numPatches} "${tokens.imPatch}" tokens in a row in the prompt (found ${patchCount}). Check that "${tokens.imPatch}" is an added special token.`);
  }
  return { ids, imagePatchStart };
}
