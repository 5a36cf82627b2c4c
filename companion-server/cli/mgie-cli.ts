// Entry of the `mgie` command: picks the subcommand, turns errors into one line and an exit code.
import { EDIT_USAGE, parseEditOptions, UsageError } from './parse-edit-options.ts';
import { reportCliError } from './report-cli-error.ts';
import { runEditCommandAsync } from './run-edit-command.ts';
import { parseServeOptions, SERVE_USAGE } from './parse-serve-options.ts';
import { runServeCommandAsync } from './run-serve-command.ts';

const USAGE = `mgie: instruction-based image editing with MGIE.

${EDIT_USAGE}

${SERVE_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  if (command === 'edit') {
    await runEditCommandAsync(parseEditOptions(rest));
    return 0;
  }
  if (command === 'serve') {
    await runServeCommandAsync(parseServeOptions(rest));
    return 0;
  }
  throw new UsageError(`unknown command "${command}".\n${USAGE}`);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  process.exitCode = reportCliError(error);
}
