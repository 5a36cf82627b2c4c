// A scale-out worker (`mgie worker --queue redis://...`): takes edits from BullMQ one at a time, runs
// them on its engine with the same code as `mgie serve` (runEditJobAsync, in the engine thread), and sends everything the
// job's owner should see through Redis to the fronts. One per GPU.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { type ConnectionOptions, type Job, Worker } from 'bullmq';
import type { Redis, RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { isMgieError, MgieError } from '../../engine/errors.ts';
import { decodeBinaryFrame, encodeBinaryFrame, type ResultHeader, type ServerMessage, splitSubmitPayload } from '../../protocol/messages.ts';
import type { EditEngine } from '../edit-engine.ts';
import { ResultCache } from '../result-cache.ts';
import type { FinishedEdit, Outgoing } from '../run-edit-job.ts';
import { cacheKeyPartsOf, hasSeveralResults } from '../submit-extras.ts';
import type { ServerOptions } from '../server-options.ts';
import type { EditJobData, ScaleOutSettings } from './edit-job-data.ts';
import { QueueStore, type WorkerRegistration } from './queue-store.ts';
import { createPatientRedis } from './redis-connection.ts';

/** A job whose worker died this many times is likely what kills workers: it ends rather than take another one down. */
const MAX_STARTS = 3;

export interface EditWorkerOptions {
  redis: RedisOptions;
  settings: ScaleOutSettings;
  server: Pick<ServerOptions, 'jobTimeoutMs' | 'previewIntervalMs' | 'resultsKeptForMs'>;
  log: Logger;
}

export class EditWorker {
  readonly id = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly store: QueueStore;
  private readonly worker: Worker<EditJobData>;
  private readonly running = new Map<string, AbortController>();
  private readonly registration: WorkerRegistration;
  private heartbeat: NodeJS.Timeout | undefined;
  /** Work for after the result is delivered (storing it in the shared cache). */
  private afterResult: (() => Promise<unknown>) | undefined;

  constructor(
    private readonly engine: EditEngine,
    private readonly options: EditWorkerOptions,
  ) {
    const { settings, log } = options;
    this.redis = createPatientRedis(options.redis);
    this.subscriber = createPatientRedis(options.redis);
    this.store = new QueueStore(this.redis, settings.prefix);
    for (const [name, connection] of [['commands', this.redis], ['subscriber', this.subscriber]] as const) {
      connection.on('error', (error) => log.warn({ err: error.message, connection: name }, 'redis connection error; reconnecting'));
    }
    this.subscriber.on('message', (channel, jobId) => {
      if (channel === this.store.keys.cancel) this.running.get(jobId)?.abort(new MgieError('MGIE_ERR_CANCELLED', 'The job was cancelled by its owner.'));
    });
    void this.subscriber.subscribe(this.store.keys.cancel).catch((error) => log.warn({ err: error.message }, 'cannot subscribe to cancellations yet'));
    const { model } = engine;
    this.registration = { id: this.id, host: hostname(), pid: process.pid, model, diffusion: engine.checks.manifest.diffusion, startedAt: Date.now(), heartbeatAt: Date.now(), jobs: { succeeded: 0, failed: 0, cancelled: 0 }, runSeconds: 0, currentJobId: null };
    this.worker = new Worker<EditJobData>(this.store.keys.queueName, (job) => this.processAsync(job), {
      connection: { ...options.redis } as ConnectionOptions,
      prefix: settings.prefix,
      concurrency: 1,
      lockDuration: settings.lockDurationMs,
      stalledInterval: settings.stalledIntervalMs,
      // BullMQ's own limit is a backstop; MAX_STARTS below ends such a job with a message for its owner.
      maxStalledCount: MAX_STARTS + 2,
      autorun: false,
    });
    // BullMQ's own errors (Redis away, a lock lost) are reported, never thrown: the worker goes on.
    this.worker.on('error', (error) => log.warn({ err: error.message }, 'queue worker error'));
    this.worker.on('failed', (job, error) => log.warn({ jobId: job?.id, err: error.message }, 'queue job failed'));
  }

  /** Registers, starts the heartbeat and takes jobs. */
  async startAsync(): Promise<void> {
    const beat = (): void => {
      this.registration.heartbeatAt = Date.now();
      this.store.registerWorkerAsync(this.registration).catch(() => undefined);
    };
    beat();
    this.heartbeat = setInterval(beat, Math.max(250, Math.round(this.options.settings.workerStaleMs / 4)));
    void this.worker.run().catch((error) => this.options.log.error({ err: error.message }, 'queue worker stopped'));
    await this.worker.waitUntilReady();
  }

  /** Finishes the running job (BullMQ waits for it), then leaves. */
  async closeAsync(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.worker.close();
    await this.store.unregisterWorkerAsync(this.id).catch(() => undefined);
    this.subscriber.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async processAsync(job: Job<EditJobData>): Promise<void> {
    const jobId = job.id!;
    const data = job.data;
    const { log, settings, server } = this.options;
    const controller = new AbortController();
    this.running.set(jobId, controller);
    try {
      // 1. take the job, unless it was cancelled meanwhile
      const verdict = await this.store.startAsync(jobId, this.id);
      if (verdict === 'skip') return;
      if (verdict === 'cancelled') {
        await this.endAsync(jobId, data, { kind: 'json', message: { type: 'cancelled', jobId } }, 'cancelled', 0);
        return;
      }
      if ((job.attemptsStarted ?? 1) > MAX_STARTS) {
        const message = `The edit was started ${MAX_STARTS} times and each time its worker died (a crash or out of memory); it is not tried again. Try a smaller size or fewer steps, and tell the server admin.`;
        await this.endAsync(jobId, data, { kind: 'json', message: { type: 'error', jobId, clientJobId: data.clientJobId, code: 'MGIE_ERR_RUNTIME', message } }, 'failed', 0);
        return;
      }
      const startedAt = Date.now();
      this.registration.currentJobId = jobId;
      log.info({ jobId, owner: data.owner, attempt: job.attemptsStarted }, 'job started');
      // 2. the owner hears 'started' (again, after a retry: the job starts over) and everyone their new place
      // (sent together: ioredis pipelines concurrent commands, one round trip instead of two)
      await Promise.all([this.publishAsync(data, { kind: 'json', message: { type: 'started', jobId } }, { waitMs: startedAt - data.queuedAt }), this.store.publishAsync({ t: 'queue' })]);

      const timer = setTimeout(() => {
        controller.abort(new MgieError('MGIE_ERR_TIMEOUT', `The job ran longer than ${Math.round(server.jobTimeoutMs / 1000)} s, this server's limit per job, and was stopped.`));
      }, server.jobTimeoutMs);
      let outcome: { result: FinishedEdit } | { error: MgieError };
      try {
        outcome = { result: await this.runAsync(jobId, data, controller.signal) };
      } catch (error) {
        const reason: unknown = controller.signal.aborted ? controller.signal.reason : error;
        outcome = { error: isMgieError(reason) ? reason : new MgieError('MGIE_ERR_RUNTIME', `The job failed: ${(reason as Error)?.message ?? reason}`, { cause: reason }) };
      } finally {
        clearTimeout(timer);
      }
      const runSeconds = (Date.now() - startedAt) / 1000;
      // 3. the final message waits in Redis until a front delivers it (the owner may be away, a front may restart)
      if ('result' in outcome) {
        const { header, png } = outcome.result;
        const key = this.store.keys.result(jobId);
        await this.store.putBlobAsync('results', key, encodeBinaryFrame(header, png), server.resultsKeptForMs, settings.resultBudgetBytes, 'evict');
        await this.store.keepFinalAsync({ kind: 'blob', key, clientId: data.clientId, owner: data.owner, jobId }, server.resultsKeptForMs);
        await this.endAsync(jobId, data, null, 'succeeded', runSeconds);
        await this.afterResult?.().catch(() => undefined);
      } else if (outcome.error.code === 'MGIE_ERR_CANCELLED') {
        await this.endAsync(jobId, data, { kind: 'json', message: { type: 'cancelled', jobId } }, 'cancelled', runSeconds);
      } else {
        const { code, message } = outcome.error;
        await this.endAsync(jobId, data, { kind: 'json', message: { type: 'error', jobId, clientJobId: data.clientJobId, code, message } }, 'failed', runSeconds);
      }
      log.info({ jobId, outcome: 'result' in outcome ? 'succeeded' : outcome.error.code, runMs: Math.round(runSeconds * 1000) }, 'job ended');
    } finally {
      this.running.delete(jobId);
      this.registration.currentJobId = null;
      this.afterResult = undefined;
    }
  }

  private async runAsync(jobId: string, data: EditJobData, signal: AbortSignal): Promise<FinishedEdit> {
    const { settings, server } = this.options;
    const blob = await this.store.getBlobAsync(this.store.keys.image(jobId));
    if (!blob) throw new MgieError('MGIE_ERR_NOT_FOUND', 'The uploaded image is no longer in the queue (it expired, or Redis lost it in a restart); submit the edit again.');
    // The front checked what needs no model; the rest (defaults, sizes) needs the bundle.
    const parameters = this.engine.checks.resolveParameters(data.parameters ?? {});
    const instruction = this.engine.checks.checkInstruction(data.instruction);
    const { image, mask } = splitSubmitPayload(data, blob);
    const extras = data.extras ?? { masked: false };
    // Jobs with several results are not cached, as in-process: an entry holds one picture.
    const cacheable = settings.cacheBudgetBytes > 0 && !hasSeveralResults(extras);
    const cacheKey = cacheable ? ResultCache.keyOf({ image, instruction, parameters, seed: parameters.seed, model: this.engine.checks.manifest.name, extras: cacheKeyPartsOf(extras), mask }) : '';
    if (cacheKey) {
      const cached = await this.store.getBlobAsync(this.store.keys.cached(cacheKey));
      if (cached) {
        const { header, payload } = decodeBinaryFrame(cached);
        return { header: { ...(header as ResultHeader), jobId, clientJobId: data.clientJobId, cached: true }, png: Buffer.from(payload) };
      }
    }
    const job = { jobId, clientJobId: data.clientJobId, instruction, image, mask, extras, parameters, previews: data.previews, streamEvents: data.streamEvents };
    const finished = await this.engine.runJobAsync(job, { signal, send: (outgoing) => void this.publishAsync(data, outgoing).catch(() => undefined), previewIntervalMs: server.previewIntervalMs });
    // Cached after the owner's result is on its way (off the critical path).
    if (cacheKey) this.afterResult = () => this.store.putBlobAsync('cache', this.store.keys.cached(cacheKey), encodeBinaryFrame(finished.header, finished.png), settings.cacheTtlMs, settings.cacheBudgetBytes, 'evict');
    return finished;
  }

  /** Progress for the owner's client, through every front (the one holding its connection delivers). */
  private async publishAsync(data: EditJobData, outgoing: Outgoing, extra: object = {}): Promise<void> {
    if (!data.streamEvents) return;
    const wire = outgoing.kind === 'json' ? { kind: 'json', message: outgoing.message } : { kind: 'binary', header: outgoing.header, payload: Buffer.from(outgoing.payload).toString('base64'), droppable: outgoing.droppable };
    await this.store.publishAsync({ t: 'msg', clientId: data.clientId, owner: data.owner, outgoing: wire, ...extra });
  }

  private async endAsync(jobId: string, data: EditJobData, final: { kind: 'json'; message: ServerMessage } | null, outcome: 'succeeded' | 'failed' | 'cancelled', runSeconds: number): Promise<void> {
    if (final) await this.store.keepFinalAsync({ ...final, message: final.message as never, clientId: data.clientId, owner: data.owner, jobId }, this.options.server.resultsKeptForMs);
    await this.store.forgetJobAsync(jobId, data.clientId);
    this.registration.jobs[outcome] += 1;
    this.registration.runSeconds += runSeconds;
    this.registration.heartbeatAt = Date.now();
    await this.store.registerWorkerAsync(this.registration).catch(() => undefined); // the counts, without waiting for the next beat
  }
}
