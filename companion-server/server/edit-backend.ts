// What the app needs from whatever runs the edits: the in-process EditService (one box, `mgie serve`) or
// a scale-out front (scale-out/redis-edit-service.ts, `mgie serve --queue redis://...`). build-app only
// chooses which one to create.
import type { MgiePipeline } from '../engine/mgie-pipeline.ts';
import type { ServerInfo, SubmitHeader } from '../protocol/messages.ts';
import type { FinishedEdit } from './run-edit-job.ts';

/** The model the server edits with, as `hello`, `/v1/info` and `/readyz` describe it. */
export type ServedModel = NonNullable<ServerInfo['model']> & { scheduler: string };

export interface SubmitOptions {
  /** False for HTTP jobs: their caller waits on whenDone() and has no socket to send events to. */
  streamEvents?: boolean;
  /** Whom fairness and limits count the job against (a user); the clientId when absent. */
  owner?: string;
  /** The mask that came after the image in the submit frame (header.maskBytes). */
  mask?: Uint8Array;
}

/** A finished job as its HTTP caller gets it: the last result, and a variations or chain job's earlier ones. */
export type DoneJob = FinishedEdit & { earlier?: FinishedEdit[] };

export interface ClientJobState {
  jobId: string;
  clientJobId: string;
  state: 'queued' | 'running';
  position: number;
}

export interface EditBackend {
  /** The model served; null while none is (a scale-out front with no live worker). */
  readonly model: ServedModel | null;
  readonly waiting: number;
  readonly running: number;
  /** Checks the submission and queues it; 'accepted' (and what follows) goes to the client. */
  submitAsync(clientId: string, header: SubmitHeader, image: Uint8Array, options?: SubmitOptions): Promise<{ jobId: string; position: number }>;
  /** Cancels one of the owner's jobs (the owner given at submit); throws MGIE_ERR_NOT_FOUND / MGIE_ERR_FORBIDDEN. */
  cancel(owner: string, jobId: string): void | Promise<void>;
  /** Cancels every job of the owner, waiting and running (a revoked user's); resolves to how many. */
  cancelAllOf(owner: string): number | Promise<number>;
  /** The client's queued and running jobs, to re-attach a reconnecting client (those it submitted as `owner`). */
  jobsOf(clientId: string, owner?: string): ClientJobState[] | Promise<ClientJobState[]>;
  /** Hands a (re)connected client what finished for it elsewhere (a scale-out front: results kept in Redis). */
  deliverKeptAsync?(clientId: string): Promise<void>;
  /**
   * The per-user submit rate limit, where the backend keeps it for several processes (a scale-out front:
   * one bucket per user in Redis for all fronts); absent: the server's own limiter counts.
   */
  takeRateAsync?(owner: string): Promise<boolean>;
  /** Waits for a job to end, for the HTTP endpoint. */
  /** `earlier`: a job's variations or chain steps before its last (in-process only; a front refuses such HTTP jobs). */
  whenDone(jobId: string): Promise<DoneJob>;
  closeAsync(): Promise<void>;
}

export function servedModelOf(pipeline: MgiePipeline): ServedModel {
  const { manifest, bundle } = pipeline;
  return {
    name: manifest.name,
    description: manifest.description,
    provider: bundle.executionProvider,
    providers: bundle.providers,
    defaults: manifest.diffusion.defaults,
    scheduler: manifest.diffusion.scheduler.type,
  };
}
