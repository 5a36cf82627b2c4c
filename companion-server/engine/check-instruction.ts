import { countCharacters } from '../protocol/count-characters.ts';
import { stripLikePython } from '../protocol/strip-like-python.ts';
import { MgieError } from './errors.ts';

/**
 * Checks an instruction (non-empty, well-formed Unicode, at most maxLength characters as countCharacters
 * counts them) and returns it trimmed as Python's str.strip() trims (stripLikePython: the reference runs in
 * Python, and JavaScript's trim() disagrees on U+0085, U+001C..U+001F and U+FEFF, which changes the prompt's
 * ids). Needs no model, so the CLI checks it before loading one.
 */
export function checkInstruction(instruction: unknown, maxLength: number): string {
  if (typeof instruction !== 'string' || stripLikePython(instruction).length === 0) {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', 'The instruction is empty. Describe the edit, for example "make it look like autumn".');
  }
  // JSON can carry half of a surrogate pair ("\ud800"): Python's tokenizer cannot encode such a string at all,
  // and the runtime's would read it as U+FFFD, so the ids would be no one's.
  const broken = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.exec(instruction);
  if (broken) {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', `The instruction has a broken character (an unpaired UTF-16 surrogate at position ${broken.index}). Retype the instruction and try again.`);
  }
  const length = countCharacters(instruction);
  if (length > maxLength) {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', `The instruction is ${length} characters long; the limit is ${maxLength}. Shorten it.`);
  }
  return stripLikePython(instruction);
}
