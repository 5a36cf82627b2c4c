// Turns `mgie worker` flags into a typed options object.
import { UsageError } from './cli-errors.ts';
import { parseCommandArgs, parseProvider, parseThreads, PROVIDER_USAGE } from './parse-command-args.ts';
import { LOG_LEVELS, type LogLevel, parseQueueUrl } from './parse-serve-options.ts';

export interface WorkerCommandOptions {
  queue: string;
  bundle?: string;
  executionProvider?: string;
  threads?: number;
  /** Share results through the Redis result cache (on unless --no-cache). */
  cache: boolean;
  logLevel: LogLevel;
}

export const WORKER_USAGE = `Usage: mgie worker --queue redis://HOST:PORT [--bundle DIR] ${PROVIDER_USAGE} [--threads N] [--no-cache]
  Runs edits for the \`mgie serve --queue\` fronts of a scale-out deployment: one worker per GPU.
Environment: MGIE_QUEUE, MGIE_BUNDLE (flags win), MGIE_LOG_LEVEL.`;

export function parseWorkerOptions(args: string[], env: NodeJS.ProcessEnv = process.env): WorkerCommandOptions {
  const values = parseCommandArgs(
    args,
    {
      queue: { type: 'string' },
      bundle: { type: 'string' },
      provider: { type: 'string' },
      threads: { type: 'string' },
      'no-cache': { type: 'boolean', default: false },
    },
    WORKER_USAGE,
  );
  const queue = parseQueueUrl(values.queue ?? env.MGIE_QUEUE);
  if (!queue) throw new UsageError(`mgie worker needs --queue redis://HOST:PORT, the Redis its fronts use.\n${WORKER_USAGE}`);
  const logLevel = (env.MGIE_LOG_LEVEL || 'info').trim().toLowerCase();
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) throw new UsageError(`MGIE_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.MGIE_LOG_LEVEL}".`);
  return {
    queue,
    bundle: values.bundle ?? env.MGIE_BUNDLE,
    executionProvider: parseProvider(values.provider),
    threads: parseThreads(values.threads),
    cache: !values['no-cache'],
    logLevel: logLevel as LogLevel,
  };
}
