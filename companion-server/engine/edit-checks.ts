// The checks an edit passes before it runs (parameters, instruction, designer's expressive instruction,
// variations, edit size), which need the manifest, the tokenizer and the limits but no model: the pipeline
// applies them when it runs, and a server whose models live in another thread (engine-thread.ts) applies
// them when a submit arrives, so a bad edit is refused before it waits in line.
import type { BundleManifest } from './bundle/bundle-manifest.ts';
import { loadBundleTokenizerAsync } from './bundle/load-bundle.ts';
import { checkInstruction } from './check-instruction.ts';
import { MAX_VARIATIONS } from './edit-counts.ts';
import { type EditParameterInput, type EditParameters, resolveEditParameters } from './edit-parameters.ts';
import { MgieError } from './errors.ts';
import { type EditSize, editSize } from './image/edit-size.ts';
import { DEFAULT_LIMITS, type ImageLimits } from './image/image-limits.ts';
import { checkExpressiveInstruction, reservedTokensOf } from './prompt/build-expressive-answer.ts';
import type { MgieTokenizer } from './tokenizer.ts';

/** The number of variations asked for: a whole number from 1 to MAX_VARIATIONS (1 when none is given). */
export function checkVariationCount(variations: unknown): number {
  if (variations === undefined) return 1;
  if (typeof variations !== 'number' || !Number.isInteger(variations) || variations < 1 || variations > MAX_VARIATIONS) {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', `variations must be a whole number from 1 to ${MAX_VARIATIONS}, got ${String(variations)}. Ask for fewer and run again for more.`);
  }
  return variations;
}

export class EditChecks {
  private readonly reservedTokens: ReturnType<typeof reservedTokensOf>;

  constructor(
    readonly manifest: BundleManifest,
    tokenizer: MgieTokenizer,
    readonly limits: ImageLimits,
  ) {
    this.reservedTokens = reservedTokensOf(manifest, tokenizer);
  }

  /** The manifest and tokenizer of a bundle, without its models (milliseconds, not seconds). */
  static async loadAsync(bundleDirectory: string, limits: Partial<ImageLimits> = {}): Promise<EditChecks> {
    const { manifest, tokenizer } = await loadBundleTokenizerAsync(bundleDirectory);
    return new EditChecks(manifest, tokenizer, { ...DEFAULT_LIMITS, ...limits });
  }

  resolveParameters(input: EditParameterInput = {}): EditParameters {
    return resolveEditParameters(input, this.manifest, this.limits);
  }

  /**
   * The edit canvas for an image of this size (image/edit-size.ts); throws when size mode 'native' would
   * go over the edit size limit, so that the server can refuse such an edit before it waits in line.
   */
  editSize(width: number, height: number, parameters: EditParameters): EditSize {
    const { sizeMultiple, vaeScaleFactor } = this.manifest.diffusion;
    return editSize(width, height, { mode: parameters.sizeMode, size: parameters.size, sizeMultiple, vaeScaleFactor, maxEditSize: this.limits.maxEditSize });
  }

  /** Checks a designer's expressive instruction like an instruction, special tokens refused; returns it trimmed. */
  checkExpressiveInstruction(text: unknown): string {
    return checkExpressiveInstruction(text, this.limits.maxInstructionLength, this.reservedTokens);
  }

  checkVariations(variations: unknown): number {
    return checkVariationCount(variations);
  }

  /** Checks an instruction (non-empty, within the length limit) and returns it trimmed. */
  checkInstruction(instruction: unknown): string {
    return checkInstruction(instruction, this.limits.maxInstructionLength);
  }
}
