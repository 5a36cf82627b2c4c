// Turns `mgie serve` flags and MGIE_* environment variables into a typed options object.
import type { PairingMode } from '../server/pairing/pairing-policy.ts';
import { UsageError } from './cli-errors.ts';
import { parseCommandArgs, parseProvider, parseThreads, PROVIDER_USAGE, wholeNumberInRange } from './parse-command-args.ts';

/** pino's levels: anything else makes the logger throw at start. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServeCommandOptions {
  bundle?: string;
  host: string;
  port: number;
  token?: string;
  allowedHosts: string[];
  allowedOrigins: string[];
  concurrency: number;
  /** Where the token and users.json live (default: MGIE_CONFIG_DIR, else the platform's config folder). */
  configDir?: string;
  maxConnectionsPerUser: number;
  tlsCert?: string;
  tlsKey?: string;
  executionProvider?: string;
  threads?: number;
  cacheDir?: string;
  cache: boolean;
  logLevel: LogLevel;
  /** redis://HOST:PORT: run as a scale-out front (jobs go to `mgie worker`s through Redis); no bundle here. */
  queue?: string;
  /** Folder for the spool folder of waiting uploads (default: the OS temp folder) and its cap in bytes. */
  spoolDir?: string;
  maxSpoolBytes: number;
  /** Pairing from the plugin: 'auto' (on for a loopback server), 'on' (--allow-pairing), 'off' (--no-pairing). */
  pairing: PairingMode;
}

export const SERVE_USAGE = `Usage: mgie serve [--bundle DIR] [--host H] [--port P] [--token T] [--allowed-host NAME]...
                  [--allowed-origin ORIGIN]... [--concurrency N] [--tls-cert FILE --tls-key FILE]
                  ${PROVIDER_USAGE} [--threads N] [--cache-dir DIR | --no-cache]
                  [--config-dir DIR] [--max-connections-per-user N (default 8)] [--spool-dir DIR] [--max-spool-mb N]
                  [--queue redis://HOST:PORT] [--allow-pairing | --no-pairing]
  --queue: be a front of a scale-out deployment: edits go through Redis to \`mgie worker\` processes.
  Pairing (the plugin's Pair button; the code shows here): on by default on 127.0.0.1; a team box
  (--host 0.0.0.0) pairs only with --allow-pairing; --no-pairing turns it off everywhere.
Environment: MGIE_BUNDLE, MGIE_HOST, MGIE_PORT, MGIE_TOKEN, MGIE_CONFIG_DIR, MGIE_MAX_CONNECTIONS_PER_USER, MGIE_SPOOL_DIR,
             MGIE_MAX_SPOOL_MB, MGIE_QUEUE (flags win), MGIE_LOG_LEVEL. Per-user tokens (mgie token add) are read from
             the config folder's users.json.`;

export function parseServeOptions(args: string[], env: NodeJS.ProcessEnv = process.env): ServeCommandOptions {
  const values = parseCommandArgs(
    args,
    {
      bundle: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      token: { type: 'string' },
      'allowed-host': { type: 'string', multiple: true },
      'allowed-origin': { type: 'string', multiple: true },
      concurrency: { type: 'string' },
      'config-dir': { type: 'string' },
      'max-connections-per-user': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      provider: { type: 'string' },
      threads: { type: 'string' },
      'cache-dir': { type: 'string' },
      'no-cache': { type: 'boolean', default: false },
      queue: { type: 'string' },
      'spool-dir': { type: 'string' },
      'max-spool-mb': { type: 'string' },
      'allow-pairing': { type: 'boolean', default: false },
      'no-pairing': { type: 'boolean', default: false },
    },
    SERVE_USAGE,
  );
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) throw new UsageError('--tls-cert and --tls-key go together.');
  if (values['allow-pairing'] && values['no-pairing']) throw new UsageError('--allow-pairing and --no-pairing contradict each other: pick one.');
  const port = wholeNumberInRange(values.port ?? env.MGIE_PORT ?? '8765', '--port / MGIE_PORT', 0, 65535);
  const logLevel = (env.MGIE_LOG_LEVEL || 'info').trim().toLowerCase();
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) throw new UsageError(`MGIE_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.MGIE_LOG_LEVEL}".`);
  return {
    bundle: values.bundle ?? env.MGIE_BUNDLE,
    host: values.host ?? env.MGIE_HOST ?? '127.0.0.1',
    port,
    token: values.token ?? env.MGIE_TOKEN,
    allowedHosts: values['allowed-host'] ?? [],
    allowedOrigins: values['allowed-origin'] ?? [],
    concurrency: wholeNumberInRange(values.concurrency ?? '1', '--concurrency', 1, 64),
    configDir: values['config-dir'] ?? (env.MGIE_CONFIG_DIR || undefined),
    maxConnectionsPerUser: wholeNumberInRange(values['max-connections-per-user'] ?? (env.MGIE_MAX_CONNECTIONS_PER_USER || '8'), '--max-connections-per-user / MGIE_MAX_CONNECTIONS_PER_USER', 1, 1000),
    tlsCert: values['tls-cert'],
    tlsKey: values['tls-key'],
    executionProvider: parseProvider(values.provider),
    threads: parseThreads(values.threads),
    cacheDir: values['cache-dir'],
    cache: !values['no-cache'],
    logLevel: logLevel as LogLevel,
    queue: parseQueueUrl(values.queue ?? env.MGIE_QUEUE),
    spoolDir: values['spool-dir'] ?? (env.MGIE_SPOOL_DIR || undefined),
    // 1 MB at least: the cap must hold one upload over the in-memory size to mean anything.
    pairing: values['allow-pairing'] ? 'on' : values['no-pairing'] ? 'off' : 'auto',
    maxSpoolBytes: wholeNumberInRange(values['max-spool-mb'] ?? env.MGIE_MAX_SPOOL_MB ?? '2048', '--max-spool-mb / MGIE_MAX_SPOOL_MB', 1, 1024 * 1024) * 2 ** 20,
  };
}

/** --queue: a redis:// or rediss:// URL, checked here so a typo is a usage error, not a connection timeout. */
export function parseQueueUrl(text: string | undefined): string | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  if (!/^rediss?:\/\/[^\s]+$/.test(text.trim())) throw new UsageError(`--queue must be a Redis URL like redis://HOST:6379 (rediss:// for TLS), got "${text}".`);
  return text.trim();
}
