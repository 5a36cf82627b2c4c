import type { BundleManifest } from '../bundle/bundle-manifest.ts';
import type { TokenIds } from '../bundle/load-bundle.ts';
import { checkInstruction } from '../check-instruction.ts';
import { MgieError } from '../errors.ts';
import type { MgieTokenizer } from '../tokenizer.ts';

/**
 * Checks a designer's expressive instruction as an instruction is checked (non-empty, well-formed, within the
 * length limit, trimmed as Python trims) and refuses special tokens: "[IMG0]" or "</s>" in the text would move
 * the visual-token positions. Needs no model, so the CLI and server can check it before loading one.
 */
export function checkExpressiveInstruction(text: unknown, maxLength: number, reservedTokens: readonly string[]): string {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', 'The expressive instruction is empty. Write what the edit should do, or leave it out to let MGIE imagine it.');
  }
  const checked = checkInstruction(text, maxLength);
  for (const token of reservedTokens) {
    if (checked.includes(token)) {
      throw new MgieError('MGIE_ERR_BAD_PARAMETER', `The expressive instruction contains the reserved token "${token}". Remove it and try again.`);
    }
  }
  return checked;
}

/**
 * The answer MGIE would have given with this expressive instruction: the text's tokens (no BOS; the
 * tokenizer's leading-space marker, as the first generated token after "ASSISTANT:" carries it), then
 * [IMG0]..[IMG(K-1)] and EOS, as the model is trained to end its answer (mgie-reference.md §3).
 */
export function buildExpressiveAnswerIds(text: string, manifest: BundleManifest, tokenizer: MgieTokenizer, tokenIds: TokenIds): number[] {
  const ids = tokenizer.encode(text, { addBos: false });
  const special = new Set([tokenIds.bos, tokenIds.eos, tokenIds.imPatch, ...tokenIds.img]);
  for (const token of tokenizer.addedTokens) {
    const id = tokenizer.tokenToId(token);
    if (id !== undefined) special.add(id);
  }
  const formed = ids.find((id) => special.has(id));
  if (formed !== undefined) {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', `The expressive instruction forms the reserved token "${tokenizer.idToToken(formed)}". Reword it and try again.`);
  }
  if (ids.length === 0) throw new MgieError('MGIE_ERR_BAD_PARAMETER', 'The expressive instruction has no tokens. Write what the edit should do.');
  return [...ids, ...tokenIds.img.slice(0, manifest.editHead.numImgTokens), tokenIds.eos];
}

/** The tokens an expressive instruction may not contain: the manifest's special tokens and every added token. */
export function reservedTokensOf(manifest: BundleManifest, tokenizer: MgieTokenizer): string[] {
  const { tokens } = manifest;
  return [...new Set([tokens.bos, tokens.eos, tokens.imPatch, tokens.imStart, tokens.imEnd, ...tokens.img, ...tokenizer.addedTokens])];
}
