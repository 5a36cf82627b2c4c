// `mgie worker`: load and warm the bundle (the demo bundle by default, like `mgie serve`), then take
// edits from the queue until SIGINT/SIGTERM, which let the running edit finish before leaving.
import path from 'node:path';
import { pino } from 'pino';
import { EngineThread } from '../server/engine-thread/engine-thread.ts';
import { EditWorker } from '../server/scale-out/edit-worker.ts';
import { scaleOutSettingsFromEnv } from '../server/scale-out/edit-job-data.ts';
import { redisOptionsFromUrl } from '../server/scale-out/redis-connection.ts';
import { DEFAULT_SERVER_OPTIONS } from '../server/server-options.ts';
import type { WorkerCommandOptions } from './parse-worker-options.ts';
import { resolveBundleDirAsync, TINY_BUNDLE_NOTICE } from './resolve-bundle-dir.ts';
import { exitOnSignals } from './exit-on-signals.ts';

export async function runWorkerCommandAsync(command: WorkerCommandOptions): Promise<void> {
  const log = pino({ level: command.logLevel });
  const redis = redisOptionsFromUrl(command.queue);
  const settings = scaleOutSettingsFromEnv();
  const bundleDir = await resolveBundleDirAsync(command.bundle);
  // The models in their own thread (as in mgie serve): a model run must not hold up BullMQ's lock renewals,
  // the heartbeat or cancellations, which all run on this thread's timers.
  const engine = await EngineThread.startAsync(bundleDir, {
    pipelineOptions: { executionProvider: command.executionProvider, intraOpNumThreads: command.threads, limits: DEFAULT_SERVER_OPTIONS.limits },
    warmUp: true,
  });
  const worker = new EditWorker(engine, { redis, settings: command.cache ? settings : { ...settings, cacheBudgetBytes: 0 }, server: DEFAULT_SERVER_OPTIONS, log });

  exitOnSignals(log, { stopping: 'worker stopping: finishing the running edit', failed: 'worker shutdown failed' }, () => worker.closeAsync().finally(() => engine.closeAsync()));

  await worker.startAsync();
  const lines = [
    '',
    `MGIE worker ${worker.id} taking edits from ${describeQueue(command.queue)} (key prefix ${settings.prefix})`,
    `  model:    ${engine.model.name} from ${bundleDir} on ${engine.model.provider}`,
    ...(path.basename(bundleDir) === 'mgie-tiny' ? [`  note:     ${TINY_BUNDLE_NOTICE}`] : []),
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

/** The URL without its password (this line often ends up in log files). */
function describeQueue(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
