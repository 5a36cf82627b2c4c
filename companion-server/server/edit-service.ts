// Edits as jobs: checks a submission before it queues, runs it on the engine through the fair
// queue, and turns engine progress and queue events into protocol messages for the job's owner.
import { type EditParameters } from '../engine/edit-parameters.ts';
import { MgieError } from '../engine/errors.ts';
import { checkImageHeaderAsync } from '../engine/image/decode-input-image.ts';
import type { ResultHeader, ServerMessage, SubmitHeader } from '../protocol/messages.ts';
import type { FastifyBaseLogger } from 'fastify';
import { JobQueue, type QueueEvent } from './job-queue.ts';
import type { DoneJob, EditBackend, ServedModel, SubmitOptions } from './edit-backend.ts';
import type { EditEngine } from './edit-engine.ts';
import { ResultCache } from './result-cache.ts';
import type { FinishedEdit, Outgoing } from './run-edit-job.ts';
import type { ServerMetrics } from './server-metrics.ts';
import type { ServerOptions } from './server-options.ts';
import { cacheKeyPartsOf, checkSubmitExtrasAsync, hasSeveralResults, type HeldSubmission, holdSubmissionAsync, holdSubmissionNow, releaseSubmissionAsync, type SubmitExtras } from './submit-extras.ts';
import type { UploadSpool } from './upload-spool.ts';

export type { FinishedEdit, Outgoing } from './run-edit-job.ts';

interface EditJob {
  /** Where events and the result go (a connection's clientId); jobs are owned and queued by `user`. */
  clientId: string;
  user: string;
  clientJobId: string;
  /** False for HTTP jobs: their caller waits on whenDone() and has no socket to send events to. */
  streamEvents: boolean;
  instruction: string;
  /** Image and mask, in spool files while the job waits (upload-spool.ts); read back when it starts. */
  upload: HeldSubmission;
  extras: SubmitExtras;
  parameters: EditParameters;
  previews: boolean;
  cacheKey: string;
}

export class EditService implements EditBackend {
  private readonly queue: JobQueue<EditJob, FinishedEdit>;
  private readonly jobs = new Map<string, { clientId: string; job: EditJob }>();

  constructor(
    private readonly engine: EditEngine,
    private readonly options: ServerOptions,
    private readonly metrics: ServerMetrics,
    private readonly send: (clientId: string, outgoing: Outgoing) => void,
    private readonly cache: ResultCache | null,
    private readonly spool: UploadSpool,
    private readonly log?: FastifyBaseLogger,
  ) {
    this.queue = new JobQueue<EditJob, FinishedEdit>({
      run: (job, { signal, jobId }) => this.runAsync(jobId, job, signal),
      concurrency: options.concurrency,
      maxQueuedPerClient: options.maxQueuedPerClient,
      maxQueuedTotal: options.maxQueuedTotal,
      jobTimeoutMs: options.jobTimeoutMs,
      onEvent: (event) => this.onQueueEvent(event),
    });
  }

  get model(): ServedModel {
    return this.engine.model;
  }

  get waiting(): number {
    return this.queue.waiting;
  }

  get running(): number {
    return this.queue.running;
  }

  /**
   * Checks parameters and the image header now, so a bad edit fails before it waits in line. The queue's
   * owner (fair turns, the per-user limit, who may cancel) is `options.owner` (the user), else the clientId.
   */
  async submitAsync(clientId: string, header: SubmitHeader, image: Uint8Array, options: SubmitOptions = {}): Promise<{ jobId: string; position: number }> {
    if (image.length > this.options.maxImageBytes) {
      throw new MgieError('MGIE_ERR_IMAGE_TOO_LARGE', `The image is ${(image.length / 2 ** 20).toFixed(1)} MB; the limit is ${(this.options.maxImageBytes / 2 ** 20).toFixed(0)} MB. Export it at a smaller scale.`);
    }
    const { checks } = this.engine;
    const parameters = checks.resolveParameters(header.parameters ?? {});
    const instruction = checks.checkInstruction(header.instruction);
    const { width, height } = await checkImageHeaderAsync(image, this.options.limits);
    // size mode 'native' over the edit size limit fails now (a side limit: EXIF rotation does not matter)
    checks.editSize(width, height, parameters);
    const { mask } = options;
    const extras = await checkSubmitExtrasAsync(checks, header, { width, height }, mask, { maxImageBytes: this.options.maxImageBytes, image: this.options.limits });
    // Jobs with several results (variations, chains) are not cached: an entry holds one picture.
    const cacheKey = this.cache && !hasSeveralResults(extras) ? ResultCache.keyOf({ image, instruction, parameters, seed: parameters.seed, model: checks.manifest.name, extras: cacheKeyPartsOf(extras), mask }) : '';
    // A job that starts at once keeps its image in memory; one that waits, in a spool file.
    const startsNow = this.queue.waiting === 0 && this.queue.running < this.options.concurrency;
    // (decided and submitted without an await between, so no other submission can take the free slot meanwhile)
    const upload = startsNow ? holdSubmissionNow(this.spool, image, mask) : await holdSubmissionAsync(this.spool, image, mask);
    const user = options.owner ?? clientId;
    const job: EditJob = { clientId, user, clientJobId: header.clientJobId, streamEvents: options.streamEvents ?? true, instruction, upload, extras, parameters, previews: header.previews ?? false, cacheKey };
    // The queue announces the job (and may start it) inside submit(): 'accepted' goes out from
    // its 'queued' event, so that it always precedes 'started'.
    this.submitting = job;
    try {
      return this.queue.submit(user, job);
    } catch (error) {
      void releaseSubmissionAsync(upload);
      throw error;
    } finally {
      this.submitting = null;
    }
  }

  /** Cancels one of the owner's jobs (the owner given at submit: the user). */
  cancel(owner: string, jobId: string): void {
    this.queue.cancel(owner, jobId);
  }

  /** Cancels all of the owner's jobs, waiting and running (a revoked user's). Returns how many. */
  cancelAllOf(owner: string): number {
    const jobs = this.queue.jobsOf(owner);
    for (const { jobId } of jobs) this.queue.cancel(owner, jobId);
    return jobs.length;
  }

  /** The client's queued and running jobs, to re-attach a reconnecting client (only those it submitted as `owner`). */
  jobsOf(clientId: string, owner = clientId): Array<{ jobId: string; clientJobId: string; state: 'queued' | 'running'; position: number }> {
    return this.queue
      .jobsOf(owner)
      .filter((j) => this.jobs.get(j.jobId)?.job.clientId === clientId)
      .map((j) => ({ ...j, clientJobId: this.jobs.get(j.jobId)?.job.clientJobId ?? '' }));
  }

  /** Waits for a job to end, for the HTTP endpoint; `earlier` holds a job's variations or chain steps before its last. */
  whenDone(jobId: string): Promise<DoneJob> {
    return new Promise((resolve, reject) => this.waiters.set(jobId, { resolve, reject }));
  }

  async closeAsync(): Promise<void> {
    await this.queue.closeAsync({ graceMs: this.options.shutdownGraceMs });
    await this.engine.closeAsync();
  }

  private submitting: EditJob | null = null;
  private readonly earlierResults = new Map<string, FinishedEdit[]>();

  private collectEarlier(jobId: string, outgoing: Outgoing): void {
    if (outgoing.kind !== 'binary' || (outgoing.header as { type?: string }).type !== 'result') return;
    const list = this.earlierResults.get(jobId) ?? [];
    list.push({ header: outgoing.header as ResultHeader, png: Buffer.from(outgoing.payload) });
    this.earlierResults.set(jobId, list);
  }

  private readonly waiters = new Map<string, { resolve: (r: DoneJob) => void; reject: (e: unknown) => void }>();

  private async runAsync(jobId: string, job: EditJob, signal: AbortSignal): Promise<FinishedEdit> {
    const owner = job.clientId;
    // The queue calls run() inside submit() and announces the job ('accepted', 'started') right
    // after: yield so the engine's first progress event cannot overtake them. setImmediate, not a
    // microtask: the engine's first stretch is synchronous (tokenizer, pixel loops, ONNX Runtime runs
    // block the event loop), so frames already read in this turn (a burst of submits) get their header
    // checks going and their 'accepted' out first, instead of waiting behind it.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const cached = this.cache ? await this.cache.getAsync(job.cacheKey) : undefined;
    if (cached) return { header: { ...(cached.meta as unknown as ResultHeader), jobId, clientJobId: job.clientJobId, cached: true }, png: cached.png };

    const image = await job.upload.image.readAsync();
    const mask = await job.upload.mask?.readAsync();
    void releaseSubmissionAsync(job.upload); // the running job holds the bytes now
    // An HTTP job has no socket: its earlier results (variations, chain steps) wait for its one answer.
    const send = job.streamEvents ? (outgoing: Outgoing) => this.send(owner, outgoing) : (outgoing: Outgoing) => this.collectEarlier(jobId, outgoing);
    const { header, png } = await this.engine.runJobAsync({ ...job, image, mask, jobId }, { signal, send, previewIntervalMs: this.options.previewIntervalMs });
    if (job.cacheKey) await this.cache?.setAsync(job.cacheKey, png, { ...header });
    return { header, png };
  }

  private onQueueEvent(event: QueueEvent<FinishedEdit>): void {
    if (event.type === 'queued' && this.submitting) this.jobs.set(event.jobId, { clientId: event.clientId, job: this.submitting });
    const entry = this.jobs.get(event.jobId);
    // The queue's clientId is the owner (the user); events go to the connection's clientId.
    const clientId = entry?.job.clientId ?? event.clientId;
    const user = this.metrics.userLabel(event.clientId);
    const stream = entry?.job.streamEvents ?? true;
    // One log line per job transition, with ids and durations; never image bytes or tokens.
    if (event.type !== 'position') {
      const { result: _result, error, ...fields } = event as QueueEvent<FinishedEdit> & { result?: unknown; error?: { code: string } };
      this.log?.info({ ...fields, ...(error ? { errorCode: error.code } : {}) }, `job ${event.type}`);
    }
    const json = (message: ServerMessage): void => {
      if (stream) this.send(clientId, { kind: 'json', message });
    };
    switch (event.type) {
      case 'queued':
        json({ type: 'accepted', jobId: event.jobId, clientJobId: entry?.job.clientJobId ?? '', position: event.position });
        break;
      case 'position':
        json({ type: 'position', jobId: event.jobId, position: event.position });
        break;
      case 'started':
        this.metrics.waitSeconds.observe({ user }, event.waitMs / 1000);
        json({ type: 'started', jobId: event.jobId });
        break;
      case 'succeeded':
        this.metrics.runSeconds.observe({ user }, event.runMs / 1000);
        this.metrics.jobs.inc({ outcome: 'succeeded', user });
        if (stream) this.send(clientId, { kind: 'binary', header: event.result.header, payload: event.result.png, droppable: false });
        this.finishWithResult(event.jobId, event.result);
        break;
      case 'failed':
        this.metrics.jobs.inc({ outcome: 'failed', user });
        json({ type: 'error', jobId: event.jobId, clientJobId: entry?.job.clientJobId, code: event.error.code, message: event.error.message });
        this.finish(event.jobId, (w) => w.reject(event.error));
        break;
      case 'cancelled':
        this.metrics.jobs.inc({ outcome: 'cancelled', user });
        json({ type: 'cancelled', jobId: event.jobId });
        this.finish(event.jobId, (w) => w.reject(new MgieError('MGIE_ERR_CANCELLED', 'The edit was cancelled.')));
        break;
    }
  }

  /** (the earlier results are read before finish() forgets them) */
  private finishWithResult(jobId: string, result: FinishedEdit): void {
    const earlier = this.earlierResults.get(jobId);
    this.finish(jobId, (waiter) => waiter.resolve(earlier ? { ...result, earlier } : result));
  }

  private finish(jobId: string, settle: (waiter: { resolve: (r: DoneJob) => void; reject: (e: unknown) => void }) => void): void {
    // However the job ended (done, failed, cancelled waiting or running, shut down), its upload goes.
    const upload = this.jobs.get(jobId)?.job.upload;
    if (upload) void releaseSubmissionAsync(upload);
    this.jobs.delete(jobId);
    this.earlierResults.delete(jobId);
    const waiter = this.waiters.get(jobId);
    this.waiters.delete(jobId);
    if (waiter) settle(waiter);
  }
}
