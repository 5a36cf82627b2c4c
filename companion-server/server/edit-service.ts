// Edits as jobs: checks a submission before it queues, runs it on the engine through the fair
// queue, and turns engine progress and queue events into protocol messages for the job's owner.
import { type EditParameters } from '../engine/edit-parameters.ts';
import { MgieError } from '../engine/errors.ts';
import { checkImageHeaderAsync } from '../engine/image/decode-input-image.ts';
import type { EditProgress, EditResult, MgiePipeline } from '../engine/mgie-pipeline.ts';
import type { ResultHeader, ServerMessage, SubmitHeader } from '../protocol/messages.ts';
import type { FastifyBaseLogger } from 'fastify';
import { JobQueue, type QueueEvent } from './job-queue.ts';
import { latentPreviewJpegAsync } from './latent-preview.ts';
import { ResultCache } from './result-cache.ts';
import type { ServerMetrics } from './server-metrics.ts';
import type { ServerOptions } from './server-options.ts';
import type { HeldUpload, UploadSpool } from './upload-spool.ts';

/** A message for one client: JSON, or a binary frame (header + bytes). */
export type Outgoing = { kind: 'json'; message: ServerMessage } | { kind: 'binary'; header: object; payload: Uint8Array; droppable: boolean };

interface EditJob {
  clientId: string;
  clientJobId: string;
  /** False for HTTP jobs: their caller waits on whenDone() and has no socket to send events to. */
  streamEvents: boolean;
  instruction: string;
  /** In a spool file while the job waits (upload-spool.ts); read back when it starts. */
  upload: HeldUpload;
  parameters: EditParameters;
  previews: boolean;
  cacheKey: string;
}

export interface FinishedEdit {
  header: ResultHeader;
  png: Buffer;
}

export class EditService {
  private readonly queue: JobQueue<EditJob, FinishedEdit>;
  private readonly jobs = new Map<string, { clientId: string; job: EditJob }>();

  constructor(
    private readonly pipeline: MgiePipeline,
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

  get waiting(): number {
    return this.queue.waiting;
  }

  get running(): number {
    return this.queue.running;
  }

  /** Checks parameters and the image header now, so a bad edit fails before it waits in line. */
  async submitAsync(clientId: string, header: SubmitHeader, image: Uint8Array, options: { streamEvents?: boolean } = {}): Promise<{ jobId: string; position: number }> {
    if (image.length > this.options.maxImageBytes) {
      throw new MgieError('MGIE_ERR_IMAGE_TOO_LARGE', `The image is ${(image.length / 2 ** 20).toFixed(1)} MB; the limit is ${(this.options.maxImageBytes / 2 ** 20).toFixed(0)} MB. Export it at a smaller scale.`);
    }
    const parameters = this.pipeline.resolveParameters(header.parameters ?? {});
    const instruction = this.pipeline.checkInstruction(header.instruction);
    const { width, height } = await checkImageHeaderAsync(image, this.options.limits);
    // size mode 'native' over the edit size limit fails now (a side limit: EXIF rotation does not matter)
    this.pipeline.editSize(width, height, parameters);
    const cacheKey = this.cache ? ResultCache.keyOf({ image, instruction, parameters, seed: parameters.seed, model: this.pipeline.manifest.name }) : '';
    // A job that starts at once keeps its image in memory; one that waits, in a spool file.
    const startsNow = this.queue.waiting === 0 && this.queue.running < this.options.concurrency;
    // (decided and submitted without an await between, so no other submission can take the free slot meanwhile)
    const upload = startsNow ? this.spool.holdInMemory(image) : await this.spool.holdAsync(image);
    const job: EditJob = { clientId, clientJobId: header.clientJobId, streamEvents: options.streamEvents ?? true, instruction, upload, parameters, previews: header.previews ?? false, cacheKey };
    // The queue announces the job (and may start it) inside submit(): 'accepted' goes out from
    // its 'queued' event, so that it always precedes 'started'.
    this.submitting = job;
    try {
      return this.queue.submit(clientId, job);
    } catch (error) {
      void upload.releaseAsync();
      throw error;
    } finally {
      this.submitting = null;
    }
  }

  cancel(clientId: string, jobId: string): void {
    this.queue.cancel(clientId, jobId);
  }

  /** The client's queued and running jobs, to re-attach a reconnecting client. */
  jobsOf(clientId: string): Array<{ jobId: string; clientJobId: string; state: 'queued' | 'running'; position: number }> {
    return this.queue.jobsOf(clientId).map((j) => ({ ...j, clientJobId: this.jobs.get(j.jobId)?.job.clientJobId ?? '' }));
  }

  /** Waits for a job to end, for the HTTP endpoint. */
  whenDone(jobId: string): Promise<FinishedEdit> {
    return new Promise((resolve, reject) => this.waiters.set(jobId, { resolve, reject }));
  }

  async closeAsync(): Promise<void> {
    await this.queue.closeAsync({ graceMs: this.options.shutdownGraceMs });
  }

  private submitting: EditJob | null = null;
  private readonly waiters = new Map<string, { resolve: (r: FinishedEdit) => void; reject: (e: unknown) => void }>();

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

    let lastPreview = 0;
    let previewBusy = false;
    const onProgress = (event: EditProgress): void => {
      if (!job.streamEvents) return;
      const json = (message: ServerMessage): void => this.send(owner, { kind: 'json', message });
      if (event.type === 'stage') json({ type: 'stage', jobId, stage: event.stage });
      else if (event.type === 'token') json({ type: 'tokens', jobId, generated: event.generated, max: event.maxNewTokens });
      else if (event.type === 'expressive-instruction') json({ type: 'instruction', jobId, text: event.text });
      else if (event.type === 'step') {
        json({ type: 'step', jobId, step: event.step, steps: event.steps });
        const now = Date.now();
        // Previews are throttled and skipped while the last one is still being encoded.
        if (job.previews && !previewBusy && now - lastPreview >= this.options.previewIntervalMs) {
          lastPreview = now;
          previewBusy = true;
          const latents = event.latents.slice();
          const { step, steps } = event;
          latentPreviewJpegAsync(latents, event.latentShape, event.latentRegion)
            .then(({ jpeg, width, height }) => this.send(owner, { kind: 'binary', header: { type: 'preview', jobId, step, steps, width, height }, payload: jpeg, droppable: true }))
            .catch(() => undefined)
            .finally(() => (previewBusy = false));
        }
      }
    };
    const image = await job.upload.readAsync();
    void job.upload.releaseAsync(); // the running job holds the bytes now
    const result: EditResult = await this.pipeline.editAsync({ image, instruction: job.instruction, parameters: job.parameters }, { signal, onProgress });
    const header: ResultHeader = {
      type: 'result',
      jobId,
      clientJobId: job.clientJobId,
      instruction: job.instruction,
      expressiveInstruction: result.expressiveInstruction,
      parameters: result.parameters,
      width: result.width,
      height: result.height,
      model: result.modelName,
      timings: Object.fromEntries(Object.entries(result.timings).map(([k, v]) => [k, Math.round(v)])),
      cached: false,
    };
    await this.cache?.setAsync(job.cacheKey, result.png, { ...header });
    return { header, png: result.png };
  }

  private onQueueEvent(event: QueueEvent<FinishedEdit>): void {
    if (event.type === 'queued' && this.submitting) this.jobs.set(event.jobId, { clientId: event.clientId, job: this.submitting });
    const entry = this.jobs.get(event.jobId);
    const clientId = event.clientId;
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
        this.metrics.waitSeconds.observe(event.waitMs / 1000);
        json({ type: 'started', jobId: event.jobId });
        break;
      case 'succeeded':
        this.metrics.runSeconds.observe(event.runMs / 1000);
        this.metrics.jobs.inc({ outcome: 'succeeded' });
        if (stream) this.send(clientId, { kind: 'binary', header: event.result.header, payload: event.result.png, droppable: false });
        this.finish(event.jobId, (w) => w.resolve(event.result));
        break;
      case 'failed':
        this.metrics.jobs.inc({ outcome: 'failed' });
        json({ type: 'error', jobId: event.jobId, clientJobId: entry?.job.clientJobId, code: event.error.code, message: event.error.message });
        this.finish(event.jobId, (w) => w.reject(event.error));
        break;
      case 'cancelled':
        this.metrics.jobs.inc({ outcome: 'cancelled' });
        json({ type: 'cancelled', jobId: event.jobId });
        this.finish(event.jobId, (w) => w.reject(new MgieError('MGIE_ERR_CANCELLED', 'The edit was cancelled.')));
        break;
    }
  }

  private finish(jobId: string, settle: (waiter: { resolve: (r: FinishedEdit) => void; reject: (e: unknown) => void }) => void): void {
    // However the job ended (done, failed, cancelled waiting or running, shut down), its upload goes.
    void this.jobs.get(jobId)?.job.upload.releaseAsync();
    this.jobs.delete(jobId);
    const waiter = this.waiters.get(jobId);
    this.waiters.delete(jobId);
    if (waiter) settle(waiter);
  }
}
