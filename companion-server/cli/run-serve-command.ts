// `mgie serve` (and `npm start`): listen first so /healthz answers, load and warm the bundle, then
// mark ready and print the banner. SIGINT/SIGTERM shut down gracefully and exit 0.
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { buildApp, type MgieApp } from '../server/build-app.ts';
import type { ServedModel } from '../server/edit-backend.ts';
import { EngineThread } from '../server/engine-thread/engine-thread.ts';
import { defaultResultCacheDir } from '../server/result-cache.ts';
import { isLoopbackHost } from '../server/request-guards.ts';
import { DEFAULT_SERVER_OPTIONS, type ServerOptions } from '../server/server-options.ts';
import { defaultConfigDir, loadOrCreateTokenAsync } from '../server/token-store.ts';
import { usersFilePath } from '../server/user-tokens.ts';
import { CommandFailure } from './cli-errors.ts';
import { describeListenError } from './describe-listen-error.ts';
import { exitOnSignals } from './exit-on-signals.ts';
import type { ServeCommandOptions } from './parse-serve-options.ts';
import { resolveBundleDirAsync, TINY_BUNDLE_NOTICE } from './resolve-bundle-dir.ts';

const CACHE_BYTES = 512 * 2 ** 20;

export async function runServeCommandAsync(command: ServeCommandOptions): Promise<void> {
  const configDir = command.configDir ?? defaultConfigDir();
  const token = await loadOrCreateTokenAsync({ token: command.token, configDir });
  const options: ServerOptions = {
    ...DEFAULT_SERVER_OPTIONS,
    host: command.host,
    port: command.port,
    token: token.token,
    usersFile: usersFilePath(configDir),
    maxConnectionsPerUser: command.maxConnectionsPerUser,
    allowedHosts: command.allowedHosts,
    allowedOrigins: command.allowedOrigins,
    concurrency: command.concurrency,
    // A scale-out front keeps no cache of its own: the workers share one in Redis.
    cache: command.cache && !command.queue ? { dir: command.cacheDir ?? defaultResultCacheDir(), maxBytes: CACHE_BYTES } : null,
    uploadSpool: { ...DEFAULT_SERVER_OPTIONS.uploadSpool, dir: command.spoolDir ?? null, maxBytes: command.maxSpoolBytes },
    pairing: { ...DEFAULT_SERVER_OPTIONS.pairing, mode: command.pairing },
    tls: command.tlsCert && command.tlsKey ? { cert: await readTlsFileAsync(command.tlsCert, '--tls-cert'), key: await readTlsFileAsync(command.tlsKey, '--tls-key') } : null,
  };
  let server: MgieApp;
  try {
    server = buildApp(options, { level: command.logLevel });
  } catch (error) {
    // OpenSSL refuses a file that is not a PEM certificate or key, or a key that is not the certificate's.
    if (options.tls && /^ERR_OSSL|^ERR_SSL/.test((error as NodeJS.ErrnoException).code ?? '')) {
      throw new CommandFailure(`--tls-cert ${command.tlsCert} and --tls-key ${command.tlsKey} are not a usable PEM certificate and its key (${(error as Error).message}).`, { cause: error });
    }
    throw error;
  }
  const log = server.app.log;

  exitOnSignals(log, { stopping: 'shutting down: finishing or cancelling the running edit', failed: 'shutdown failed' }, () => server.closeAsync());

  const cacheWarning = await server.cache?.prepareAsync();
  // Spool folders of a server that was killed or crashed hold designers' images: remove them now.
  for (const folder of await server.spool.sweepStaleAsync()) log.info({ folder }, 'removed the upload spool folder of a server process that is gone');
  try {
    await server.app.listen({ host: options.host, port: options.port });
  } catch (error) {
    await server.closeAsync().catch(() => {});
    throw describeListenError(error, options.host, options.port);
  }
  if (command.queue) {
    await startFrontAsync(server, command.queue, token, options);
    return;
  }
  let engine: EngineThread;
  let bundleDir: string;
  try {
    bundleDir = await resolveBundleDirAsync(command.bundle);
    // The models run in their own thread, so that sockets stay responsive while they do (engine-thread.ts).
    engine = await EngineThread.startAsync(bundleDir, {
      pipelineOptions: { executionProvider: command.executionProvider, intraOpNumThreads: command.threads, limits: options.limits },
      warmUp: true,
    });
  } catch (error) {
    // A server that can never become ready should not linger: stop and report.
    await server.closeAsync();
    throw error;
  }
  server.attachEngine(engine);

  const address = server.app.server.address() as AddressInfo;
  const scheme = options.tls ? 'https' : 'http';
  const url = `${scheme}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  const lines = [
    '',
    `MGIE companion server ready at ${url} (WebSocket ${url.replace(/^http/, 'ws')}/v1/ws)`,
    `  model:    ${engine.model.name} from ${bundleDir} (${(engine.loadMilliseconds / 1000).toFixed(1)} s to load)`,
    ...describeProviders(engine.model.providers),
    // The token itself is never printed: this output often ends up in log files.
    token.file ? `  token:    in ${token.file}${token.created ? ' (new)' : ''}; show it with: cat '${token.file}'` : '  token:    the one given by --token / MGIE_TOKEN',
    `  users:    ${describeUsers(server.userCount, options.usersFile!)}`,
    `  pairing:  ${describePairing(options)}`,
    ...(token.warning ? [`  warning:  ${token.warning}`] : []),
    ...(cacheWarning ? [`  warning:  ${cacheWarning}`] : []),
    ...(options.host === '127.0.0.1' || options.host === 'localhost' ? ['  reachable from this computer only; use --host 0.0.0.0 --allowed-host NAME on a team box'] : []),
    ...(path.basename(bundleDir) === 'mgie-tiny' ? [`  note:     ${TINY_BUNDLE_NOTICE}`] : []),
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

function describeUsers(count: number, file: string): string {
  if (count === 0) return `the token above is the only one (user "default"); give each designer their own with mgie token add NAME (kept in ${file})`;
  return `${count} with a token of their own (mgie token list; ${file}), besides "default" with the token above`;
}

/** Whether the plugin's Pair button works here; its codes appear on this terminal. */
function describePairing(options: ServerOptions): string {
  if (options.pairing.mode === 'off') return 'off (--no-pairing); designers paste a token from mgie token add';
  if (options.pairing.mode === 'on' || isLoopbackHost(options.host)) return "on: a designer's Pair button in the plugin shows a one-time code here, to type in the plugin";
  return 'off on a team box; start with --allow-pairing to read designers the code shown here, or give tokens with mgie token add';
}

/** A scale-out front: no bundle here; edits go through Redis to `mgie worker`s, ready once one is alive. */
async function startFrontAsync(server: MgieApp, queue: string, token: Awaited<ReturnType<typeof loadOrCreateTokenAsync>>, options: ServerOptions): Promise<void> {
  const { RedisEditService } = await import('../server/scale-out/redis-edit-service.ts');
  const { redisOptionsFromUrl } = await import('../server/scale-out/redis-connection.ts');
  const { scaleOutSettingsFromEnv } = await import('../server/scale-out/edit-job-data.ts');
  let front: InstanceType<typeof RedisEditService> | undefined;
  server.attachService((context) => (front = new RedisEditService(context, redisOptionsFromUrl(queue), scaleOutSettingsFromEnv())));
  try {
    await front!.readyAsync(15_000);
  } catch (error) {
    await server.closeAsync();
    throw new CommandFailure(`Cannot reach the job queue at ${queue} (Redis) within 15 s. Check that Redis runs there and that --queue is right.`, { cause: error });
  }
  const address = server.app.server.address() as AddressInfo;
  const scheme = options.tls ? 'https' : 'http';
  const url = `${scheme}://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  const lines = [
    '',
    `MGIE companion front ready at ${url} (WebSocket ${url.replace(/^http/, 'ws')}/v1/ws)`,
    `  queue:    ${queue.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')}; edits run on \`mgie worker\` processes (${front!.model ? `model ${front!.model.name}` : 'none alive yet: /readyz answers 503 until one is'})`,
    token.file ? `  token:    in ${token.file}${token.created ? ' (new)' : ''}; show it with: cat '${token.file}'` : '  token:    the one given by --token / MGIE_TOKEN',
    // each front checks tokens against its own config folder
    `  users:    ${describeUsers(server.userCount, options.usersFile!)}; give every front the same users.json`,
    `  pairing:  ${describePairing(options)}`,
    ...(token.warning ? [`  warning:  ${token.warning}`] : []),
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

/** The provider, how it was chosen, and why each other GPU provider is not used (same words as mgie doctor). */
function describeProviders({ requested, chosen, notChosen }: ServedModel['providers']): string[] {
  const how = requested === 'auto' ? ', chosen by --provider auto' : '';
  if (notChosen.length === 0) return [`  provider: ${chosen}${how}`];
  return [`  provider: ${chosen}${how}; not used:`, ...notChosen.map(({ name, reason }) => `            ${name}: ${reason}`)];
}

async function readTlsFileAsync(file: string, flag: string): Promise<Buffer> {
  return readFile(file).catch((cause: NodeJS.ErrnoException) => {
    throw new CommandFailure(`Cannot read ${flag} ${file} (${cause.code ?? cause.message}). Check the path; the file must be PEM.`, { cause });
  });
}
