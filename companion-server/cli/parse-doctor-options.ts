// Turns `mgie doctor` flags into its options: the same bundle, address and provider that `mgie serve`
// would be given (flags or MGIE_* variables), so the report is about the server the admin will run.
import { parseCommandArgs, parseProvider, PROVIDER_USAGE, wholeNumberInRange } from './parse-command-args.ts';
import type { DoctorCommandOptions } from './run-doctor-command.ts';

export const DOCTOR_USAGE = `Usage: mgie doctor [--bundle DIR] [--host H] [--port P] ${PROVIDER_USAGE} [--json]
Checks what an edit needs on this machine and exits 1 when something blocks one.
Environment: MGIE_BUNDLE, MGIE_HOST, MGIE_PORT (flags win), MGIE_CONFIG_DIR.`;

export function parseDoctorOptions(args: string[], env: NodeJS.ProcessEnv = process.env): DoctorCommandOptions {
  const values = parseCommandArgs(
    args,
    { bundle: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, provider: { type: 'string' }, json: { type: 'boolean', default: false } },
    DOCTOR_USAGE,
  );
  return {
    bundle: values.bundle ?? (env.MGIE_BUNDLE || undefined),
    host: values.host ?? (env.MGIE_HOST || '127.0.0.1'),
    port: wholeNumberInRange(values.port ?? (env.MGIE_PORT || '8765'), '--port / MGIE_PORT', 1, 65535),
    provider: parseProvider(values.provider),
    json: values.json ?? false,
  };
}
