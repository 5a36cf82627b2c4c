// The CLI's own outcomes besides success, each with its exit code in report-cli-error.ts.

/** A mistake in how the command was called (flags, environment variables): exit code 2. */
export class UsageError extends Error {}

/** Something outside the command line the user can fix (a port in use, a missing file): exit code 1, one line. */
export class CommandFailure extends Error {}

/** `--help` or `-h`: the command's usage goes to stdout and the exit code is 0. */
export class HelpRequested extends Error {
  constructor(readonly usage: string) {
    super('help requested');
  }
}
