// One edit as the UI follows it, from the export to the placed result, and the pure function that moves
// it along as the server's events arrive. Images (previews, results) are attached by the caller, which
// owns their object URLs.
import type { EditStageName, JobParameters, ResultHeader, ServerMessage, WireEditParameters } from '../../companion-server/protocol/messages.ts';
import type { ExportedImage, Placement } from '../../plugin/types.ts';

export type JobPhase = 'queued' | 'running' | 'placing' | 'done' | 'failed' | 'cancelled';

export interface EditJob {
  clientJobId: string;
  /** Set once the server accepts the submit. */
  jobId?: string;
  sourceNodeId: string;
  sourceName: string;
  instruction: string;
  /** As sent; the server's full parameters (seed included) arrive with the result. */
  requested: WireEditParameters;
  phase: JobPhase;
  /** Jobs ahead of this one; 0 = starts now. */
  position?: number;
  stage?: EditStageName;
  tokens?: { generated: number; max: number };
  step?: { step: number; steps: number };
  expressiveInstruction?: string;
  preview?: { url: string; step: number; steps: number };
  result?: { header: ResultHeader; url: string; png: Uint8Array; parameters: JobParameters };
  placedNodeId?: string;
  /** For the designer: what happened and what to do. */
  error?: string;
  cancelRequested?: boolean;
  /** The server's error code when it failed on the server (describe-problem.ts fixForJob picks the button). */
  errorCode?: string;
  /** The layer as exported for this edit: Retry sends it again, unchanged. */
  source?: ExportedImage;
  /** Object URL of source.png, for before/after; revoked when the job is dropped from the history. */
  originalUrl?: string;
  /** The jobs of one submit over several layers share this (one group in the history). */
  batchId?: string;
  /** How the result was placed (or was to be): a refused 'replace-fills' offers "Place beside". */
  placement?: Placement;
  /** ms since epoch */
  submittedAt: number;
  startedAt?: number;
  stageStartedAt?: number;
  finishedAt?: number;
}

export function isActive(job: EditJob): boolean {
  return job.phase === 'queued' || job.phase === 'running';
}

/** Jobs the message is about: by jobId, or by clientJobId for answers to a submit. */
function matches(job: EditJob, message: { jobId?: string; clientJobId?: string }): boolean {
  if (message.jobId !== undefined && job.jobId !== undefined) return job.jobId === message.jobId;
  return message.clientJobId !== undefined && job.clientJobId === message.clientJobId;
}

/**
 * The jobs after one server event. `describeError` turns an error code and the server's message into
 * words for the designer. Events for unknown jobs (another window of the same client) change nothing.
 */
export function applyServerMessage(
  jobs: readonly EditJob[],
  message: ServerMessage,
  now: number,
  describeError: (code: string, message: string) => string,
): EditJob[] {
  if (!('jobId' in message) && !('clientJobId' in message)) return jobs as EditJob[];
  return jobs.map((job) => {
    if (!matches(job, message as { jobId?: string; clientJobId?: string })) return job;
    switch (message.type) {
      case 'accepted':
        // Also re-sent on reconnect for jobs still waiting or running.
        return { ...job, jobId: message.jobId, position: message.position, phase: job.phase === 'running' ? 'running' : 'queued' };
      case 'position':
        return { ...job, position: message.position };
      case 'started':
        return { ...job, phase: 'running', position: 0, startedAt: job.startedAt ?? now };
      case 'stage':
        return { ...job, phase: 'running', stage: message.stage, stageStartedAt: now };
      case 'tokens':
        return { ...job, tokens: { generated: message.generated, max: message.max } };
      case 'instruction':
        return { ...job, expressiveInstruction: message.text };
      case 'step':
        return { ...job, step: { step: message.step, steps: message.steps } };
      case 'cancelled':
        return { ...job, phase: 'cancelled', finishedAt: now };
      case 'error':
        return { ...job, phase: 'failed', error: describeError(message.code, message.message), errorCode: message.code, finishedAt: now };
      default:
        return job;
    }
  });
}
