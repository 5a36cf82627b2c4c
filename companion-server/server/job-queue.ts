// A fair queue of jobs shared by several clients (designers on one GPU box). It knows nothing of the
// engine: it runs whatever `run` it is given. Lessons from ComfyUI and AUTOMATIC1111 users
// (shared/design/field-notes.md): cancel only your own job, never everyone's; one client must not
// flood the queue; everyone waiting should know their place in line.
import { randomUUID } from 'node:crypto';
import { isMgieError, MgieError } from '../engine/errors.ts';

/** Idle clients whose last turn the queue remembers (a few KB); beyond it the oldest start afresh. */
const REMEMBERED_CLIENTS = 1024;

export interface JobContext {
  signal: AbortSignal;
  jobId: string;
}

export type QueueEvent<TResult> =
  | { type: 'queued'; jobId: string; clientId: string; position: number }
  | { type: 'position'; jobId: string; clientId: string; position: number }
  | { type: 'started'; jobId: string; clientId: string; waitMs: number }
  | { type: 'succeeded'; jobId: string; clientId: string; result: TResult; waitMs: number; runMs: number }
  | { type: 'failed'; jobId: string; clientId: string; error: MgieError; waitMs: number; runMs: number }
  | { type: 'cancelled'; jobId: string; clientId: string; wasRunning: boolean };

export interface JobQueueOptions<TInput, TResult> {
  run: (input: TInput, context: JobContext) => Promise<TResult>;
  /** Jobs running at once (default 1: one GPU runs one edit at a time). */
  concurrency?: number;
  /** Waiting jobs one client may have (default 10). */
  maxQueuedPerClient?: number;
  /** Waiting jobs in all (default 100). */
  maxQueuedTotal?: number;
  /** A running job is aborted after this long (default 10 minutes). */
  jobTimeoutMs?: number;
  /** Called synchronously for every event; one that throws is logged and the queue goes on. */
  onEvent?: (event: QueueEvent<TResult>) => void;
  /** Clock for waitMs and runMs (default Date.now). */
  now?: () => number;
}

export interface ClientJob {
  jobId: string;
  state: 'queued' | 'running';
  /** 1-based place among waiting jobs, 0 when running. */
  position: number;
}

interface Job<TInput> {
  readonly id: string;
  readonly clientId: string;
  readonly input: TInput;
  readonly queuedAt: number;
  state: 'queued' | 'running';
  position: number;
  startedAt: number;
  controller?: AbortController;
  timer?: NodeJS.Timeout;
}

export class JobQueue<TInput, TResult> {
  private readonly options: Required<Omit<JobQueueOptions<TInput, TResult>, 'onEvent'>> &
    Pick<JobQueueOptions<TInput, TResult>, 'onEvent'>;
  /** Every queued or running job, by id. */
  private readonly jobs = new Map<string, Job<TInput>>();
  /** Waiting jobs per client, FIFO. */
  private readonly waitingByClient = new Map<string, Job<TInput>[]>();
  /**
   * When each client last had a job started (a turn number; 0: never). The next turn goes to the client
   * served least recently, ties by arrival: a newcomer goes ahead of a client whose job just started, a
   * busy client's queue never re-enters the rotation ahead of it, and a client that comes back after its
   * jobs ended keeps its place. Idle clients are remembered up to REMEMBERED_CLIENTS.
   */
  private readonly lastTurn = new Map<string, number>();
  private turns = 0;
  /** Events are delivered only after a change is complete, so a handler always sees a consistent queue. */
  private readonly outbox: QueueEvent<TResult>[] = [];
  private delivering = false;
  private closing = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(options: JobQueueOptions<TInput, TResult>) {
    this.options = {
      concurrency: 1,
      maxQueuedPerClient: 10,
      maxQueuedTotal: 100,
      jobTimeoutMs: 10 * 60_000,
      now: Date.now,
      ...options,
    };
    for (const name of ['concurrency', 'maxQueuedPerClient', 'maxQueuedTotal', 'jobTimeoutMs'] as const) {
      const value = this.options[name];
      if (!Number.isInteger(value) || value < 1) {
        throw new MgieError('MGIE_ERR_BAD_PARAMETER', `JobQueue option ${name} must be a whole number of at least 1, not ${value}.`);
      }
    }
  }

  get waiting(): number {
    let count = 0;
    for (const list of this.waitingByClient.values()) count += list.length;
    return count;
  }

  get running(): number {
    return this.jobs.size - this.waiting;
  }

  submit(clientId: string, input: TInput): { jobId: string; position: number } {
    if (this.closing) {
      throw new MgieError('MGIE_ERR_SHUTTING_DOWN', 'The server is shutting down and takes no new jobs; try again once it is back.');
    }
    const mine = this.waitingByClient.get(clientId) ?? [];
    if (mine.length >= this.options.maxQueuedPerClient) {
      throw new MgieError(
        'MGIE_ERR_BUSY',
        `You already have ${mine.length} jobs waiting, the most one user may queue (maxQueuedPerClient), counting all your connections. ` +
          'Wait for one to start or cancel one, then try again.',
      );
    }
    if (this.waiting >= this.options.maxQueuedTotal) {
      throw new MgieError(
        'MGIE_ERR_BUSY',
        `The server already has ${this.waiting} jobs waiting, its limit (maxQueuedTotal). Try again in a few minutes.`,
      );
    }
    const job: Job<TInput> = { id: randomUUID(), clientId, input, queuedAt: this.options.now(), state: 'queued', position: 0, startedAt: 0 };
    this.jobs.set(job.id, job);
    this.waitingByClient.set(clientId, [...mine, job]);
    if (!this.lastTurn.has(clientId)) {
      this.forgetIdleClients();
      this.lastTurn.set(clientId, 0);
    }
    // A free slot means nobody waits (the queue is always pumped), so the job starts at once.
    const startsNow = this.running < this.options.concurrency;
    job.position = startsNow ? 0 : this.startOrder().indexOf(job) + 1;
    this.publish({ type: 'queued', jobId: job.id, clientId, position: job.position });
    this.pump();
    this.deliver();
    return { jobId: job.id, position: job.position };
  }

  /** Cancels one of the client's own jobs: removed if waiting, aborted if running. */
  cancel(clientId: string, jobId: string): void {
    const job = this.jobs.get(jobId);
    if (!job) throw new MgieError('MGIE_ERR_NOT_FOUND', `No queued or running job ${jobId}; it may have finished already.`);
    if (job.clientId !== clientId) throw new MgieError('MGIE_ERR_FORBIDDEN', `Job ${jobId} belongs to another client; only its owner may cancel it.`);
    if (job.state === 'running') {
      // The 'cancelled' event comes when the run settles, since the slot is busy until then.
      job.controller?.abort(new MgieError('MGIE_ERR_CANCELLED', 'The job was cancelled by its owner.'));
      return;
    }
    this.removeWaiting(job);
    this.refreshPositions();
    this.deliver();
  }

  jobsOf(clientId: string): ClientJob[] {
    return [...this.jobs.values()]
      .filter((job) => job.clientId === clientId)
      .map((job) => ({ jobId: job.id, state: job.state, position: job.position }))
      .sort((a, b) => a.position - b.position);
  }

  /** 1-based place among waiting jobs, 0 when running, undefined when unknown or finished. */
  positionOf(jobId: string): number | undefined {
    return this.jobs.get(jobId)?.position;
  }

  ownerOf(jobId: string): string | undefined {
    return this.jobs.get(jobId)?.clientId;
  }

  /**
   * Stops taking jobs, cancels the waiting ones, gives running ones graceMs to finish and then aborts them
   * (they end 'failed' with MGIE_ERR_SHUTTING_DOWN). Resolves once nothing runs.
   */
  async closeAsync(options: { graceMs: number }): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      for (const job of this.startOrder()) this.removeWaiting(job);
      this.deliver();
    }
    if (this.running === 0) return;
    const grace = setTimeout(() => {
      const reason = new MgieError('MGIE_ERR_SHUTTING_DOWN', 'The server shut down before the job finished; try again once it is back.');
      for (const job of this.jobs.values()) job.controller?.abort(reason);
    }, options.graceMs);
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    clearTimeout(grace);
  }

  // --- internals ---

  /** Clients with waiting jobs, the next to be served first: least recently served, ties by arrival. */
  private clientsInTurnOrder(): string[] {
    // The Map keeps insertion order and sort is stable, so equal turns stay in order of arrival.
    return [...this.waitingByClient.keys()].sort((a, b) => this.lastTurn.get(a)! - this.lastTurn.get(b)!);
  }

  /** Waiting jobs in the order they will start: one per client per round, clients in turn order, FIFO within each. */
  private startOrder(): Job<TInput>[] {
    const lists = this.clientsInTurnOrder().map((clientId) => this.waitingByClient.get(clientId)!);
    const order: Job<TInput>[] = [];
    for (let round = 0; lists.some((list) => list.length > round); round++) {
      for (const list of lists) if (list.length > round) order.push(list[round]);
    }
    return order;
  }

  private pump(): void {
    while (!this.closing && this.running < this.options.concurrency) {
      const clientId = this.clientsInTurnOrder()[0];
      if (clientId === undefined) break;
      const [job, ...rest] = this.waitingByClient.get(clientId)!;
      if (rest.length > 0) this.waitingByClient.set(clientId, rest);
      else this.waitingByClient.delete(clientId);
      this.lastTurn.set(clientId, ++this.turns);
      this.start(job);
    }
    this.refreshPositions();
  }

  private start(job: Job<TInput>): void {
    const { jobTimeoutMs, now } = this.options;
    const controller = new AbortController();
    job.state = 'running';
    job.position = 0;
    job.startedAt = now();
    job.controller = controller;
    job.timer = setTimeout(() => {
      controller.abort(new MgieError('MGIE_ERR_TIMEOUT', `The job ran longer than ${formatDuration(jobTimeoutMs)}, this server's limit per job, and was stopped.`));
    }, jobTimeoutMs);
    this.publish({ type: 'started', jobId: job.id, clientId: job.clientId, waitMs: job.startedAt - job.queuedAt });
    // new Promise also catches a run that throws synchronously.
    new Promise<TResult>((resolve) => resolve(this.options.run(job.input, { signal: controller.signal, jobId: job.id }))).then(
      (result) => this.finish(job, { result }),
      (error: unknown) => this.finish(job, { error }),
    );
  }

  private finish(job: Job<TInput>, outcome: { result: TResult } | { error: unknown }): void {
    clearTimeout(job.timer);
    this.jobs.delete(job.id);
    const { id: jobId, clientId } = job;
    const waitMs = job.startedAt - job.queuedAt;
    const runMs = this.options.now() - job.startedAt;
    // Once the queue has aborted a job, the reason decides its outcome, however the run settled.
    const signal = job.controller!.signal;
    const reason: unknown = signal.aborted ? signal.reason : undefined;
    if (isMgieError(reason, 'MGIE_ERR_CANCELLED')) this.publish({ type: 'cancelled', jobId, clientId, wasRunning: true });
    else if (isMgieError(reason)) this.publish({ type: 'failed', jobId, clientId, error: reason, waitMs, runMs });
    else if ('error' in outcome) this.publish({ type: 'failed', jobId, clientId, error: toMgieError(outcome.error), waitMs, runMs });
    else this.publish({ type: 'succeeded', jobId, clientId, result: outcome.result, waitMs, runMs });
    this.pump();
    this.deliver();
    if (this.running === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private removeWaiting(job: Job<TInput>): void {
    const list = this.waitingByClient.get(job.clientId)!.filter((other) => other !== job);
    if (list.length > 0) this.waitingByClient.set(job.clientId, list);
    else this.waitingByClient.delete(job.clientId);
    this.jobs.delete(job.id);
    this.publish({ type: 'cancelled', jobId: job.id, clientId: job.clientId, wasRunning: false });
  }

  /** Keeps the turn table bounded: past REMEMBERED_CLIENTS, the idle clients served longest ago start afresh. */
  private forgetIdleClients(): void {
    if (this.lastTurn.size < REMEMBERED_CLIENTS) return;
    const active = new Set([...this.jobs.values()].map((job) => job.clientId));
    const idle = [...this.lastTurn].filter(([clientId]) => !active.has(clientId)).sort(([, a], [, b]) => a - b);
    for (const [clientId] of idle.slice(0, this.lastTurn.size - REMEMBERED_CLIENTS / 2)) this.lastTurn.delete(clientId);
  }

  private refreshPositions(): void {
    this.startOrder().forEach((job, index) => {
      if (job.position === index + 1) return;
      job.position = index + 1;
      this.publish({ type: 'position', jobId: job.id, clientId: job.clientId, position: job.position });
    });
  }

  private publish(event: QueueEvent<TResult>): void {
    this.outbox.push(event);
  }

  /** Hands queued events to onEvent in order; calls made from a handler add theirs to the same outbox. */
  private deliver(): void {
    if (this.delivering) return;
    this.delivering = true;
    try {
      for (let event = this.outbox.shift(); event; event = this.outbox.shift()) {
        // A handler may have changed the queue since a 'position' was published: send only current ones.
        if (event.type === 'position' && this.jobs.get(event.jobId)?.position !== event.position) continue;
        try {
          this.options.onEvent?.(event);
        } catch (error) {
          console.error(`JobQueue: the onEvent handler threw on a '${event.type}' event; the queue goes on.`, error);
        }
      }
    } finally {
      this.delivering = false;
    }
  }
}

function toMgieError(error: unknown): MgieError {
  if (error instanceof MgieError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new MgieError('MGIE_ERR_RUNTIME', `The job failed: ${message}`, { cause: error });
}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.round(ms / 60_000)} min`;
}
