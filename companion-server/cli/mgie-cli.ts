// Entry of the `mgie` command: picks the subcommand, turns errors into one line and an exit code.
import { HelpRequested, UsageError } from './cli-errors.ts';
import { DOCTOR_USAGE, parseDoctorOptions } from './parse-doctor-options.ts';
import { EDIT_USAGE, parseEditOptions } from './parse-edit-options.ts';
import { reportCliError } from './report-cli-error.ts';
import { parseServeOptions, SERVE_USAGE } from './parse-serve-options.ts';
import { parseTokenOptions, TOKEN_USAGE } from './parse-token-options.ts';
import { parseWorkerOptions, WORKER_USAGE } from './parse-worker-options.ts';

const USAGE = `mgie: instruction-based image editing with MGIE.

${EDIT_USAGE}

${SERVE_USAGE}

${WORKER_USAGE}

${DOCTOR_USAGE}

${TOKEN_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  // Each command's code is imported when chosen: `mgie edit` need not load the server (fastify & co.),
  // so a mistake on its command line is reported sooner.
  if (command === 'edit') {
    const options = parseEditOptions(rest);
    const { runEditCommandAsync } = await import('./run-edit-command.ts');
    await runEditCommandAsync(options);
    return 0;
  }
  if (command === 'serve') {
    const options = parseServeOptions(rest);
    const { runServeCommandAsync } = await import('./run-serve-command.ts');
    await runServeCommandAsync(options);
    return 0;
  }
  if (command === 'worker') {
    const options = parseWorkerOptions(rest);
    const { runWorkerCommandAsync } = await import('./run-worker-command.ts');
    await runWorkerCommandAsync(options);
    return 0;
  }
  if (command === 'doctor') {
    const options = parseDoctorOptions(rest);
    const { runDoctorCommandAsync } = await import('./run-doctor-command.ts');
    return runDoctorCommandAsync(options);
  }
  if (command === 'token') {
    const options = parseTokenOptions(rest);
    const { runTokenCommandAsync } = await import('./run-token-command.ts');
    return runTokenCommandAsync(options);
  }
  throw new UsageError(`unknown command "${command}".\n${USAGE}`);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof HelpRequested) {
    process.stdout.write(`${error.usage}\n`);
    process.exitCode = 0;
  } else process.exitCode = reportCliError(error);
}
