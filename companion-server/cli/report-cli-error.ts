import { isMgieError } from '../engine/errors.ts';
import { CommandFailure, UsageError } from './cli-errors.ts';

/** Writes one line about what went wrong and what to do; returns the exit code (2: usage, 1: failure). */
export function reportCliError(error: unknown): number {
  if (error instanceof UsageError) {
    process.stderr.write(`mgie: ${error.message}\n`);
    return 2;
  }
  if (error instanceof CommandFailure) {
    process.stderr.write(`mgie: ${error.message}\n`);
    return 1;
  }
  if (isMgieError(error)) {
    process.stderr.write(`mgie: ${error.message} [${error.code}]\n`);
    return 1;
  }
  process.stderr.write(`mgie: unexpected failure: ${(error as Error)?.message ?? error}. Run again with MGIE_DEBUG=1 for details and report it.\n`);
  if (process.env.MGIE_DEBUG) console.error(error);
  return 1;
}
