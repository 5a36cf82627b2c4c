// The designer features a submit may ask for beyond one plain edit (issue 13): the designer's own
// expressive instruction, a mask, variations, a chain. Checked here before the job waits in line, with the
// same rules the engine applies when it runs, so a bad submit fails at once and costs no turn.
import { checkInstruction } from '../engine/check-instruction.ts';
import { checkVariationCount } from '../engine/edit-checks.ts';
import { MgieError, withErrorPrefix } from '../engine/errors.ts';
import { checkExpressiveInstruction } from '../engine/prompt/build-expressive-answer.ts';
import { checkEditMaskHeaderAsync } from '../engine/image/edit-mask.ts';
import type { ImageLimits } from '../engine/image/image-limits.ts';
import type { SubmitHeader } from '../protocol/messages.ts';
import type { HeldUpload, UploadSpool } from './upload-spool.ts';

/** What a job asks for beyond instruction and parameters; the mask's bytes travel separately (HeldUpload). */
export interface SubmitExtras {
  expressiveInstruction?: string;
  /** Only when the submit asked for variations (even 1): its results then say which variation they are. */
  variations?: number;
  /** The instructions after the first, each editing the previous step's result. */
  chain?: string[];
  /** Whether the submit carried a mask. */
  masked: boolean;
}

/** The engine's checks (MgiePipeline), by name, so this module needs no model loaded to be read. */
export interface SubmitChecks {
  checkInstruction(instruction: unknown): string;
  checkExpressiveInstruction(text: unknown): string;
  checkVariations(variations: unknown): number;
}

/**
 * Checks what the submit asks for beyond a plain edit, and the mask against the image (its header only:
 * format, size limits, the image's proportions). Throws MgieError naming the problem and the fix.
 */
export async function checkSubmitExtrasAsync(
  checks: SubmitChecks,
  header: SubmitHeader,
  image: { width: number; height: number },
  mask: Uint8Array | undefined,
  limits: { maxImageBytes: number; image: ImageLimits },
): Promise<SubmitExtras> {
  const chainSteps = header.chain === undefined ? 0 : header.chain.length + 1;
  // The engine's chain takes instructions only: one expressive instruction or one noise seed set would not say which step it is for.
  if (chainSteps > 0 && header.expressiveInstruction !== undefined) {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', 'expressiveInstruction is for one edit, and a chain writes its own for each step. Drop expressiveInstruction, or submit the steps one at a time.');
  }
  if (chainSteps > 0 && header.variations !== undefined) {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', 'variations are for one edit, not a chain. Drop variations, or run the chain and then ask for variations of its last step on its own.');
  }
  const extras: SubmitExtras = { masked: mask !== undefined };
  if (header.expressiveInstruction !== undefined) extras.expressiveInstruction = checks.checkExpressiveInstruction(header.expressiveInstruction); // its messages name it
  if (header.variations !== undefined) extras.variations = checks.checkVariations(header.variations);
  if (header.chain !== undefined) extras.chain = header.chain.map((instruction, k) => withErrorPrefix(`Instruction ${k + 2} of the chain`, () => checks.checkInstruction(instruction)));
  if (mask !== undefined) {
    if (mask.length > limits.maxImageBytes) {
      throw new MgieError('MGIE_ERR_IMAGE_TOO_LARGE', `The mask is ${(mask.length / 2 ** 20).toFixed(1)} MB; the limit is ${(limits.maxImageBytes / 2 ** 20).toFixed(0)} MB. Export it as a black and white PNG (it compresses to little).`);
    }
    await checkEditMaskHeaderAsync(mask, image, limits.image);
  }
  return extras;
}

/** Whether the job answers with more than one result message (variations, chains): those skip the result cache. */
export function hasSeveralResults(extras: SubmitExtras): boolean {
  return extras.variations !== undefined || extras.chain !== undefined;
}

/** The parts of the extras that change the pixels, for the result cache key (the mask's bytes are hashed beside). */
export function cacheKeyPartsOf(extras: SubmitExtras): object | undefined {
  const { expressiveInstruction, variations, chain, masked } = extras;
  if (expressiveInstruction === undefined && variations === undefined && chain === undefined && !masked) return undefined;
  return { expressiveInstruction, variations, chain, masked };
}

/** A job's uploads while it waits: the image, and the mask beside it, held (spooled) alike. */
export interface HeldSubmission {
  image: HeldUpload;
  mask?: HeldUpload;
}

/**
 * Holds the image and the mask for a job: in memory when it starts now (synchronously, so no other submit
 * can take its free slot meanwhile), else in the spool, where the mask counts against the same byte cap.
 */
export function holdSubmissionNow(spool: UploadSpool, image: Uint8Array, mask: Uint8Array | undefined): HeldSubmission {
  return { image: spool.holdInMemory(image), ...(mask === undefined ? {} : { mask: spool.holdInMemory(mask) }) };
}

export async function holdSubmissionAsync(spool: UploadSpool, image: Uint8Array, mask: Uint8Array | undefined): Promise<HeldSubmission> {
  const held = await spool.holdAsync(image);
  if (mask === undefined) return { image: held };
  try {
    return { image: held, mask: await spool.holdAsync(mask) };
  } catch (error) {
    await held.releaseAsync();
    throw error;
  }
}

export async function releaseSubmissionAsync(held: HeldSubmission): Promise<void> {
  await Promise.all([held.image.releaseAsync(), held.mask?.releaseAsync()]);
}

/**
 * The extras' checks for a scale-out front, which has no tokenizer: all but the special tokens in a
 * designer's expressive instruction, which the worker's engine refuses when it runs the job.
 */
export function checksWithoutModel(maxInstructionLength: number): SubmitChecks {
  return {
    checkInstruction: (instruction) => checkInstruction(instruction, maxInstructionLength),
    checkExpressiveInstruction: (text) => checkExpressiveInstruction(text, maxInstructionLength, []),
    checkVariations: checkVariationCount,
  };
}

/**
 * POST /v1/edits: the designer features from the query. `instruction` given several times is a chain,
 * `variations=N` asks for N, `expressive=TEXT` is the designer's wording, and `maskBytes=N` says that the
 * body's last N bytes are the mask (after the image, as in a WebSocket submit frame). Jobs with several
 * results are answered as multipart/mixed, one image/png part per result (PROTOCOL.md, "HTTP").
 */
export function httpExtrasOf(query: Record<string, string | string[] | undefined>): Pick<SubmitHeader, 'instruction' | 'chain' | 'variations' | 'expressiveInstruction' | 'maskBytes'> {
  const once = (name: string): string | undefined => {
    const value = query[name];
    if (Array.isArray(value)) throw new MgieError('MGIE_ERR_BAD_PARAMETER', `${name} was given ${value.length} times; give it once.`);
    return value;
  };
  const whole = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (text.trim() === '' || !Number.isInteger(value)) throw new MgieError('MGIE_ERR_BAD_PARAMETER', `Query parameter ${name} must be a whole number, got "${text}".`);
    return value;
  };
  const instructions = query.instruction === undefined ? [''] : Array.isArray(query.instruction) ? query.instruction : [query.instruction];
  const [instruction, ...chain] = instructions;
  const expressive = once('expressive');
  const variations = whole('variations', once('variations'));
  const maskBytes = whole('maskBytes', once('maskBytes'));
  if (maskBytes !== undefined && maskBytes < 1) throw new MgieError('MGIE_ERR_BAD_PARAMETER', 'maskBytes must be the mask\'s length in bytes (at least 1), the mask following the image in the body.');
  return {
    instruction,
    ...(chain.length > 0 ? { chain } : {}),
    ...(variations !== undefined ? { variations } : {}),
    ...(expressive !== undefined ? { expressiveInstruction: expressive } : {}),
    ...(maskBytes !== undefined ? { maskBytes } : {}),
  };
}
