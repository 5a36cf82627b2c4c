// A scale-out front (`mgie serve --queue redis://...`): the same EditBackend as the in-process service,
// but jobs go into Redis through BullMQ and workers run them. It delivers to the clients connected to
// it whatever workers publish for them, and claims their final messages (kept in Redis, so a restarted
// front or another one can deliver them).
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import type { Redis, RedisOptions } from 'ioredis';
import { Counter, Gauge } from 'prom-client';
import { checkInstruction } from '../../engine/check-instruction.ts';
import { isMgieError, MgieError } from '../../engine/errors.ts';
import type { BundleManifest } from '../../engine/bundle/bundle-manifest.ts';
import { resolveEditParameters } from '../../engine/edit-parameters.ts';
import { checkImageHeaderAsync } from '../../engine/image/decode-input-image.ts';
import { editSize } from '../../engine/image/edit-size.ts';
import { checkSubmitExtrasAsync, checksWithoutModel, hasSeveralResults } from '../submit-extras.ts';
import { decodeBinaryFrame, type ResultHeader, type ServerMessage, type SubmitHeader, type WireEditParameters } from '../../protocol/messages.ts';
import type { ServiceContext } from '../build-app.ts';
import type { ClientJobState, EditBackend, ServedModel, SubmitOptions } from '../edit-backend.ts';
import type { FinishedEdit, Outgoing } from '../run-edit-job.ts';
import type { EditJobData, ScaleOutSettings } from './edit-job-data.ts';
import { type KeptFinal, QueueStore, type WorkerRegistration } from './queue-store.ts';
import { createFailFastRedis, createPatientRedis, queueUnavailable } from './redis-connection.ts';

/** How long a job's records live in Redis at most (a job waiting longer than this is forgotten). */
const JOB_RECORD_TTL_MS = 24 * 3600_000;
const POLL_MS = 1000;

type Waiter = { resolve: (r: FinishedEdit) => void; reject: (e: unknown) => void };

export class RedisEditService implements EditBackend {
  private readonly redis: Redis;
  private readonly subscriber: Redis;
  private readonly store: QueueStore;
  private readonly queue: Queue<EditJobData>;
  private readonly waiters = new Map<string, Waiter>();
  /** The last position sent for each waiting job of a client connected here. */
  private readonly positionsSent = new Map<string, number>();
  private workers: WorkerRegistration[] = [];
  private counts = { waiting: 0, running: 0 };
  private available = false;
  private closed = false;
  private readonly poller: NodeJS.Timeout;
  private positionRefresh: Promise<void> | null = null;
  private positionRefreshAgain = false;

  constructor(
    private readonly context: ServiceContext,
    redisOptions: RedisOptions,
    private readonly settings: ScaleOutSettings,
  ) {
    const { log } = context;
    this.redis = createFailFastRedis(redisOptions);
    this.subscriber = createPatientRedis(redisOptions);
    this.store = new QueueStore(this.redis, settings.prefix);
    this.queue = new Queue<EditJobData>(this.store.keys.queueName, { connection: this.redis, prefix: settings.prefix });
    this.queue.on('error', (error) => log.debug({ err: error.message }, 'queue error'));
    this.redis.on('error', (error) => log.debug({ err: error.message }, 'redis error'));
    this.subscriber.on('error', (error) => log.debug({ err: error.message }, 'redis subscriber error'));
    // The subscriber's state is the front's view of Redis: down means tell the clients, up means catch up.
    this.subscriber.on('ready', () => this.onRedisUp());
    this.subscriber.on('close', () => this.onRedisDown());
    this.subscriber.on('message', (_channel, message) => this.onEvent(message));
    void this.subscriber.subscribe(this.store.keys.events).catch(() => undefined);
    this.registerMetrics();
    this.poller = setInterval(() => void this.pollAsync(), POLL_MS);
    this.poller.unref();
    void this.pollAsync();
  }

  /** Waits until Redis answers and the front is subscribed (for `mgie serve --queue` to report a bad URL early). */
  async readyAsync(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.available) {
      if (Date.now() > deadline) throw queueUnavailable();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await this.pollAsync();
  }

  get model(): ServedModel | null {
    const worker = this.available ? this.workers[0] : undefined;
    return worker ? worker.model : null;
  }

  get waiting(): number {
    return this.counts.waiting;
  }

  get running(): number {
    return this.counts.running;
  }

  async submitAsync(clientId: string, header: SubmitHeader, image: Uint8Array, options: SubmitOptions = {}): Promise<{ jobId: string; position: number }> {
    const { options: server, send } = this.context;
    // 1. what needs no model is checked here; defaults and sizes need the bundle and are the worker's
    if (image.length > server.maxImageBytes) {
      throw new MgieError('MGIE_ERR_IMAGE_TOO_LARGE', `The image is ${(image.length / 2 ** 20).toFixed(1)} MB; the limit is ${(server.maxImageBytes / 2 ** 20).toFixed(0)} MB. Export it at a smaller scale.`);
    }
    const instruction = checkInstruction(header.instruction, server.limits.maxInstructionLength);
    const { width, height } = await checkImageHeaderAsync(image, server.limits);
    const { mask } = options;
    const extras = await checkSubmitExtrasAsync(checksWithoutModel(server.limits.maxInstructionLength), header, { width, height }, mask, { maxImageBytes: server.maxImageBytes, image: server.limits });
    if (options.streamEvents === false && hasSeveralResults(extras)) {
      // Only the job's last result is kept in Redis for a waiting HTTP answer; the others are events.
      throw new MgieError('MGIE_ERR_BAD_PARAMETER', 'Variations and chains answer several pictures, which a scale-out front (mgie serve --queue) answers over the WebSocket only. Use the WebSocket, or send one request per variation (seed, seed + 1, ...) or per step.');
    }
    // Parameters and the edit canvas against the live workers' model, so a bad edit fails before it waits
    // in line (the seed is drawn here, so a retried job gives the same picture). With no worker alive yet
    // they wait for the worker's own check.
    const diffusion = this.workers[0]?.diffusion;
    let parameters: WireEditParameters = header.parameters ?? {};
    if (diffusion) {
      const resolved = resolveEditParameters(parameters, { diffusion } as BundleManifest, server.limits);
      editSize(width, height, { mode: resolved.sizeMode, size: resolved.size, sizeMultiple: diffusion.sizeMultiple, vaeScaleFactor: diffusion.vaeScaleFactor, maxEditSize: server.limits.maxEditSize });
      parameters = resolved;
    }
    if (!this.available || this.closed) throw this.closed ? new MgieError('MGIE_ERR_SHUTTING_DOWN', 'The companion server is shutting down; try again when it is back.') : queueUnavailable();
    const jobId = randomUUID();
    const owner = options.owner ?? clientId;
    const streamEvents = options.streamEvents ?? true;
    try {
      // 2. the image goes first, under the byte budget: Redis memory stays bounded whatever clients send
      // (the mask rides in the same blob, after the image, and counts against the same budget)
      const blob = mask === undefined ? image : Buffer.concat([image, mask]);
      if (!(await this.store.putBlobAsync('images', this.store.keys.image(jobId), blob, JOB_RECORD_TTL_MS, this.settings.imageBudgetBytes, 'refuse'))) {
        throw new MgieError('MGIE_ERR_BUSY', 'The queue holds as many images as it may (its Redis byte budget); try again in a few minutes.');
      }
      // 3. limits and the fair-queue tag, atomically across fronts
      const [tag, position] = await this.store.admitAsync({ jobId, owner, clientId, clientJobId: header.clientJobId }, { perOwner: server.maxQueuedPerClient, total: server.maxQueuedTotal }, JOB_RECORD_TTL_MS);
      if (tag < 0) {
        await this.store.deleteBlobAsync('images', this.store.keys.image(jobId));
        throw tag === -2
          ? new MgieError('MGIE_ERR_BUSY', `You already have ${position} jobs waiting, the most one client may queue (maxQueuedPerClient). Wait for one to start or cancel one, then try again.`)
          : new MgieError('MGIE_ERR_BUSY', `The server already has ${position} jobs waiting, its limit (maxQueuedTotal). Try again in a few minutes.`);
      }
      // 4. 'accepted' before the job is visible to workers, so that it always precedes 'started'
      if (streamEvents) send(clientId, { kind: 'json', message: { type: 'accepted', jobId, clientJobId: header.clientJobId, position } });
      this.positionsSent.set(jobId, position);
      const data: EditJobData = { clientId, owner, clientJobId: header.clientJobId, instruction, parameters, previews: header.previews ?? false, streamEvents, queuedAt: Date.now(), extras, ...(mask === undefined ? {} : { maskBytes: mask.length }) };
      try {
        await this.queue.add('edit', data, { jobId, priority: tag, removeOnComplete: true, removeOnFail: true });
      } catch (error) {
        // Admitted but never queued (Redis went away in between): leave no place in line behind.
        await this.store.cancelAsync(jobId, clientId).then(() => this.store.forgetJobAsync(jobId, clientId)).catch(() => undefined);
        throw error;
      }
      this.context.log.info({ jobId, clientId, owner, position }, 'job queued');
      void this.store.publishAsync({ t: 'queue' }).catch(() => undefined); // other waiting jobs' places, not this submit's answer
      return { jobId, position };
    } catch (error) {
      if (isMgieError(error)) throw error;
      throw queueUnavailable(error);
    }
  }

  /** `owner`: the user cancelling (the owner given at submit); the 'cancelled' goes to the connection that submitted. */
  async cancel(owner: string, jobId: string): Promise<void> {
    let verdict;
    let clientId = owner;
    try {
      clientId = (await this.store.jobMetaAsync(jobId)).clientId ?? owner;
      verdict = await this.store.cancelAsync(jobId, owner);
    } catch (error) {
      throw queueUnavailable(error);
    }
    if (verdict === 'missing') throw new MgieError('MGIE_ERR_NOT_FOUND', `No queued or running job ${jobId}; it may have finished already.`);
    if (verdict === 'forbidden') throw new MgieError('MGIE_ERR_FORBIDDEN', `Job ${jobId} belongs to another user; only its owner may cancel it.`);
    if (verdict === 'running') {
      // The worker running it stops before its next model run and sends 'cancelled' itself.
      await this.redis.publish(this.store.keys.cancel, jobId);
      return;
    }
    // Out of line already (the script): remove it from BullMQ (a worker that takes it meanwhile skips it).
    await this.queue.remove(jobId).catch(() => undefined);
    await this.store.keepFinalAsync({ kind: 'json', message: { type: 'cancelled', jobId }, clientId, owner, jobId }, this.context.options.resultsKeptForMs);
    await this.store.forgetJobAsync(jobId, clientId);
    await this.store.publishAsync({ t: 'queue' });
  }

  /** The rate limit per user, one token bucket in Redis for every front (each front alone would allow N times it). */
  async takeRateAsync(owner: string): Promise<boolean> {
    // Redis away: let the submit through to its own clear error (the queue is unavailable).
    return this.store.takeRateAsync(owner, this.context.options.rateLimit).catch(() => true);
  }

  /** A revoked user's jobs, on every front and worker of the deployment. */
  async cancelAllOf(owner: string): Promise<number> {
    let cancelled = 0;
    for (const jobId of await this.store.jobIdsOfOwnerAsync(owner)) {
      try {
        await this.cancel(owner, jobId);
        cancelled += 1;
      } catch {
        // ended meanwhile
      }
    }
    return cancelled;
  }

  /** `clientId` is private to its user (build-app's clientKey), so it alone finds the client's jobs. */
  async jobsOf(clientId: string): Promise<ClientJobState[]> {
    if (!this.available) return [];
    const jobs: ClientJobState[] = [];
    for (const jobId of await this.store.jobIdsOfAsync(clientId)) {
      const meta = await this.store.jobMetaAsync(jobId);
      if (meta.state !== 'queued' && meta.state !== 'running') continue;
      const position = meta.state === 'queued' ? ((await this.store.positionOfAsync(jobId)) ?? 0) : 0;
      if (meta.state === 'queued') this.positionsSent.set(jobId, position);
      jobs.push({ jobId, clientJobId: meta.clientJobId ?? '', state: meta.state, position });
    }
    return jobs.sort((a, b) => a.position - b.position);
  }

  async deliverKeptAsync(clientId: string): Promise<void> {
    if (!this.available) return;
    for (const jobId of await this.store.finalJobIdsOfAsync(clientId)) await this.claimAsync(jobId, clientId);
  }

  whenDone(jobId: string): Promise<FinishedEdit> {
    const done = new Promise<FinishedEdit>((resolve, reject) => this.waiters.set(jobId, { resolve, reject }));
    // A final kept before this waiter existed (a result from the cache comes fast) is claimed now.
    void this.claimForWaiterAsync(jobId).catch(() => undefined);
    return done;
  }

  async closeAsync(): Promise<void> {
    // Jobs belong to the deployment, not to this front: they go on, and their results wait in Redis.
    this.closed = true;
    clearInterval(this.poller);
    for (const waiter of this.waiters.values()) waiter.reject(new MgieError('MGIE_ERR_SHUTTING_DOWN', 'The companion server is shutting down; try again when it is back.'));
    this.waiters.clear();
    await this.queue.close().catch(() => undefined);
    this.subscriber.disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  // --- events from workers and other fronts ---

  private onEvent(raw: string): void {
    let event: { t: string; clientId?: string; jobId?: string; owner?: string; waitMs?: number; outgoing?: WireOutgoing };
    try {
      event = JSON.parse(raw);
    } catch {
      return;
    }
    if (event.t === 'queue') return this.refreshPositions();
    if (event.t === 'final' && event.clientId && event.jobId) {
      if (this.waiters.has(event.jobId)) void this.claimForWaiterAsync(event.jobId);
      else if (this.context.hub.isConnected(event.clientId)) void this.claimAsync(event.jobId, event.clientId);
      return;
    }
    if (event.t === 'msg' && event.clientId && event.outgoing) {
      const outgoing = fromWire(event.outgoing);
      if (outgoing.kind === 'json' && outgoing.message.type === 'started') {
        this.positionsSent.delete(outgoing.message.jobId);
        // Every front hears every start; the one that holds the client counts its wait.
        if (this.context.hub.isConnected(event.clientId) && event.waitMs !== undefined) this.context.metrics.waitSeconds.observe(event.waitMs / 1000);
      }
      this.context.send(event.clientId, outgoing);
    }
  }

  /** Takes a kept final (exactly once across fronts) and hands it to the client's connections here. */
  private async claimAsync(jobId: string, clientId: string): Promise<void> {
    try {
      const final = await this.store.claimFinalAsync(jobId, clientId);
      if (!final) return;
      const outgoing = await this.outgoingOfAsync(final);
      this.positionsSent.delete(jobId);
      this.countOutcome(final, outgoing);
      this.context.send(clientId, outgoing);
    } catch (error) {
      this.context.log.warn({ jobId, err: (error as Error).message }, 'could not deliver a kept result');
    }
  }

  private async claimForWaiterAsync(jobId: string): Promise<void> {
    const waiter = this.waiters.get(jobId);
    if (!waiter) return;
    const meta = await this.store.jobMetaAsync(jobId).catch(() => ({}) as Record<string, string>);
    const clientId = meta.clientId ?? (await this.clientOfFinalAsync(jobId));
    if (!clientId) return;
    const final = await this.store.claimFinalAsync(jobId, clientId).catch(() => null);
    if (!final) return;
    this.waiters.delete(jobId);
    const outgoing = await this.outgoingOfAsync(final);
    this.countOutcome(final, outgoing);
    if (outgoing.kind === 'binary' && (outgoing.header as { type: string }).type === 'result') return waiter.resolve({ header: outgoing.header as ResultHeader, png: Buffer.from(outgoing.payload) });
    const message = outgoing.kind === 'json' ? outgoing.message : null;
    if (message?.type === 'cancelled') return waiter.reject(new MgieError('MGIE_ERR_CANCELLED', 'The edit was cancelled.'));
    if (message?.type === 'error') return waiter.reject(new MgieError((message.code as never) ?? 'MGIE_ERR_RUNTIME', message.message));
    waiter.reject(new MgieError('MGIE_ERR_RUNTIME', 'The job ended without a result.'));
  }

  private async clientOfFinalAsync(jobId: string): Promise<string | undefined> {
    const json = await this.redis.get(this.store.keys.final(jobId)).catch(() => null);
    return json ? (JSON.parse(json) as KeptFinal).clientId : undefined;
  }

  private async outgoingOfAsync(final: KeptFinal): Promise<Outgoing> {
    if (final.kind === 'json') return { kind: 'json', message: final.message as ServerMessage };
    const frame = await this.store.takeBlobAsync('results', final.key);
    if (!frame) {
      return { kind: 'json', message: { type: 'error', jobId: final.jobId, code: 'MGIE_ERR_NOT_FOUND', message: 'The result was dropped before it could be delivered (the queue kept too many undelivered results); submit the edit again.' } };
    }
    const { header, payload } = decodeBinaryFrame(frame);
    return { kind: 'binary', header: header as object, payload, droppable: false };
  }

  private countOutcome(final: KeptFinal, outgoing: Outgoing): void {
    const outcome = outgoing.kind === 'binary' ? 'succeeded' : outgoing.message.type === 'cancelled' ? 'cancelled' : 'failed';
    this.context.metrics.jobs.inc({ outcome });
    this.jobsByOwner.inc({ owner: final.owner, outcome });
  }

  // --- queue positions: recomputed from Redis when the line changes, sent only when changed ---

  private refreshPositions(): void {
    if (this.positionRefresh) {
      this.positionRefreshAgain = true;
      return;
    }
    this.positionRefresh = this.refreshPositionsAsync()
      .catch(() => undefined)
      .finally(() => {
        this.positionRefresh = null;
        if (this.positionRefreshAgain) {
          this.positionRefreshAgain = false;
          this.refreshPositions();
        }
      });
  }

  private async refreshPositionsAsync(): Promise<void> {
    const waitingIds = await this.store.waitingJobIdsAsync(Math.max(this.context.options.maxQueuedTotal, 1) + 16);
    const place = new Map(waitingIds.map((jobId, index) => [jobId, index + 1]));
    for (const [jobId, sent] of this.positionsSent) {
      const position = place.get(jobId);
      if (position === undefined) this.positionsSent.delete(jobId); // started or cancelled, whichever front saw it
      if (position === undefined || position === sent) continue;
      const clientId = (await this.store.jobMetaAsync(jobId)).clientId;
      this.positionsSent.set(jobId, position);
      if (clientId) this.context.send(clientId, { kind: 'json', message: { type: 'position', jobId, position } });
    }
  }

  // --- Redis up and down ---

  private onRedisUp(): void {
    if (this.available || this.closed) return;
    this.available = true;
    this.context.log.info('job queue (Redis) reachable');
    // Finals published while this front was away from Redis were missed: claim what is kept for its clients.
    void (async () => {
      for (const clientId of this.context.hub.clientIds()) await this.deliverKeptAsync(clientId).catch(() => undefined);
      for (const jobId of this.waiters.keys()) await this.claimForWaiterAsync(jobId).catch(() => undefined);
    })();
  }

  private onRedisDown(): void {
    if (!this.available || this.closed) return;
    this.available = false;
    this.workers = [];
    this.context.log.warn('job queue (Redis) unreachable; refusing new edits until it is back');
    const error = queueUnavailable();
    this.context.hub.broadcast({ kind: 'json', message: { type: 'error', code: error.code, message: error.message } });
  }

  private async pollAsync(): Promise<void> {
    if (!this.available) return;
    try {
      const [workers, waiting, running] = await Promise.all([this.store.liveWorkersAsync(this.settings.workerStaleMs), this.store.waitingCountAsync(), this.queue.getActiveCount()]);
      this.workers = workers;
      this.counts = { waiting, running };
    } catch {
      // Redis went away between two polls: the 'close' handler says so.
    }
  }

  // --- metrics: per worker (from their heartbeats) and per owner ---

  private jobsByOwner!: Counter<'owner' | 'outcome'>;

  private registerMetrics(): void {
    const registry = this.context.metrics.registry;
    const workers = (): WorkerRegistration[] => this.workers;
    this.jobsByOwner = new Counter({ name: 'mgie_owner_jobs_total', help: 'Edits delivered by this front, by owner (user) and outcome', labelNames: ['owner', 'outcome'] as const, registers: [registry] });
    new Gauge({
      name: 'mgie_workers_alive',
      help: 'Workers whose heartbeat is recent',
      registers: [registry],
      collect() {
        this.set(workers().length);
      },
    });
    new Gauge({
      name: 'mgie_worker_jobs',
      help: 'Edits each live worker has ended since it started, by outcome',
      labelNames: ['worker', 'outcome'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const w of workers()) for (const [outcome, count] of Object.entries(w.jobs)) this.set({ worker: w.id, outcome }, count);
      },
    });
    new Gauge({
      name: 'mgie_worker_run_seconds',
      help: 'Seconds each live worker has spent running edits since it started',
      labelNames: ['worker'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const w of workers()) this.set({ worker: w.id }, w.runSeconds);
      },
    });
    new Gauge({
      name: 'mgie_worker_busy',
      help: '1 while the worker runs an edit',
      labelNames: ['worker'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const w of workers()) this.set({ worker: w.id }, w.currentJobId ? 1 : 0);
      },
    });
  }
}

type WireOutgoing = { kind: 'json'; message: ServerMessage } | { kind: 'binary'; header: object; payload: string; droppable: boolean };

function fromWire(wire: WireOutgoing): Outgoing {
  return wire.kind === 'json' ? wire : { kind: 'binary', header: wire.header, payload: Buffer.from(wire.payload, 'base64'), droppable: wire.droppable };
}
