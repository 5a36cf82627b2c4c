import { countCharacters } from '../protocol/count-characters.ts';
import { MgieError } from './errors.ts';

/**
 * Checks an instruction (non-empty, at most maxLength characters as countCharacters counts them) and
 * returns it trimmed. Needs no model, so the CLI checks it before loading one.
 */
export function checkInstruction(instruction: unknown, maxLength: number): string {
  if (typeof instruction !== 'string' || instruction.trim().length === 0) {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', 'The instruction is empty. Describe the edit, for example "make it look like autumn".');
  }
  const length = countCharacters(instruction);
  if (length > maxLength) {
    throw new MgieError('MGIE_ERR_BAD_PARAMETER', `The instruction is ${length} characters long; the limit is ${maxLength}. Shorten it.`);
  }
  return instruction.trim();
}
