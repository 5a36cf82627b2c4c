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
  // Text that the tokenizer turns into an added token is refused. The reference's slow tokenizer would make
  // the token itself: <im_patch>, <im_start>, <im_end>, [IMGk], <s> or </s> would shift the image or IMG
  // positions. For <unk> (id 0, which shifts nothing) its ids are not known either: the slow tokenizer strips
  // the spaces around an added token given as plain text but not around one loaded as an AddedToken with
  // lstrip/rstrip false, which is how the special tokens LLaVA-7B v1 saved may load; and <unk> never means
  // anything in an edit instruction.
  const reserved = [...new Set([tokens.bos, tokens.eos, tokens.imPatch, tokens.imStart, tokens.imEnd, ...tokens.img, ...tokenizer.addedTokens])];
  for (const token of reserved) {
    if (instruction.includes(token)) {
      throw new MgieError('MGIE_ERR_BAD_PARAMETER', `The instruction contains the reserved token "${token}". Remove it and try again.`);
    }
  }
  const image = tokens.imStart + tokens.imPatch.repeat(vision.numPatches) + tokens.imEnd;
  // Both slots in one pass: an instruction holding "{image}" or "{instruction}" stays text, as in the reference,
  // which formats the instruction into its string ("...if '%s'" % ins) and appends the image after it.
  const fill = (text: string): string => prompt.template.replace(/\{instruction\}|\{image\}/g, (slot) => (slot === '{instruction}' ? text : image));
  const ids = tokenizer.encode(fill(instruction), { addBos: true });
  // The added tokens in the prompt must be the template's own. A template may put a slot next to text such
  // as "<", which "s>" at the instruction's start would complete into a second BOS.
  const templateIds = tokenizer.encode(fill(''), { addBos: true });
  const formed = reserved.find((token) => {
    const id = tokenizer.tokenToId(token);
    const count = (list: readonly number[]): number => list.filter((x) => x === id).length;
    return id !== undefined && count(ids) !== count(templateIds);
  });
  if (formed !== undefined) {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', `The instruction forms the reserved token "${formed}" with the prompt template around it. Reword its start or end and try again.`);
  }
  const imagePatchStart = ids.indexOf(tokenIds.imPatch);
  const patchCount = ids.filter((id) => id === tokenIds.imPatch).length;
  if (imagePatchStart < 0 || patchCount !== vision.numPatches || ids[imagePatchStart + patchCount - 1] !== tokenIds.imPatch) {
    throw new MgieError('MGIE_ERR_BUNDLE_TOKENIZER', `The tokenizer did not keep ${vision.numPatches} "${tokens.imPatch}" tokens in a row in the prompt (found ${patchCount}). Check that "${tokens.imPatch}" is an added special token.`);
  }
  return { ids, imagePatchStart };
}
