// Turns `mgie serve` flags and MGIE_* environment variables into a typed options object.
import { parseArgs } from 'node:util';
import { UsageError } from './parse-edit-options.ts';

export interface ServeCommandOptions {
  bundle?: string;
  host: string;
  port: number;
  token?: string;
  allowedHosts: string[];
  allowedOrigins: string[];
  concurrency: number;
  tlsCert?: string;
  tlsKey?: string;
  executionProvider?: string;
  threads?: number;
  cacheDir?: string;
  cache: boolean;
}

export const SERVE_USAGE = `Usage: mgie serve [--bundle DIR] [--host H] [--port P] [--token T] [--allowed-host NAME]...
                  [--allowed-origin ORIGIN]... [--concurrency N] [--tls-cert FILE --tls-key FILE]
                  [--provider cpu|cuda|webgpu|coreml] [--threads N] [--cache-dir DIR | --no-cache]
Environment: MGIE_BUNDLE, MGIE_HOST, MGIE_PORT, MGIE_TOKEN (flags win).`;

export function parseServeOptions(args: string[], env: NodeJS.ProcessEnv = process.env): ServeCommandOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        bundle: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        token: { type: 'string' },
        'allowed-host': { type: 'string', multiple: true },
        'allowed-origin': { type: 'string', multiple: true },
        concurrency: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        provider: { type: 'string' },
        threads: { type: 'string' },
        'cache-dir': { type: 'string' },
        'no-cache': { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split('\n')[0]}\n${SERVE_USAGE}`);
  }
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) throw new UsageError('--tls-cert and --tls-key go together.');
  const port = integer(values.port ?? env.MGIE_PORT ?? '8765', '--port / MGIE_PORT', 0, 65535);
  return {
    bundle: values.bundle ?? env.MGIE_BUNDLE,
    host: values.host ?? env.MGIE_HOST ?? '127.0.0.1',
    port,
    token: values.token ?? env.MGIE_TOKEN,
    allowedHosts: values['allowed-host'] ?? [],
    allowedOrigins: values['allowed-origin'] ?? [],
    concurrency: integer(values.concurrency ?? '1', '--concurrency', 1, 64),
    tlsCert: values['tls-cert'],
    tlsKey: values['tls-key'],
    executionProvider: values.provider,
    threads: values.threads === undefined ? undefined : integer(values.threads, '--threads', 1, 1024),
    cacheDir: values['cache-dir'],
    cache: !values['no-cache'],
  };
}

function integer(text: string, name: string, min: number, max: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, got "${text}".`);
  return value;
}
