// One edit as the UI follows it, from the export to the placed result, and the pure function that moves
// it along as the server's events arrive. Images (previews, results) are attached by the caller, which
// owns their object URLs.
import type { EditStageName, JobParameters, ResultHeader, ServerMessage, WireEditParameters } from '../../companion-server/protocol/messages.ts';
import type { ChainPlacement, ExportedImage, Placement } from '../../plugin/types.ts';

export type JobPhase = 'queued' | 'running' | 'placing' | 'done' | 'failed' | 'cancelled';

/** One picture the server sent back for a job, with the object URL the caller made for it. */
export interface JobResult {
  header: ResultHeader;
  url: string;
  png: Uint8Array;
  parameters: JobParameters;
}

/** One step of a chain as the UI follows it: known from its `chain-step` message, then its result. */
export interface ChainStepState {
  /** 1-based. */
  step: number;
  instruction: string;
  expressiveInstruction?: string;
  result?: JobResult;
}

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
  /** The picture this job placed or will place (a chain's final step; for variations, the one picked). */
  result?: JobResult;
  placedNodeId?: string;
  // ---- designer features (protocol 2); absent for a plain edit ----
  /** The designer's own expressive instruction, sent instead of letting MGIE write one ("Run again with this"). */
  givenExpressiveInstruction?: string;
  /** Variations asked for (2..): the job ends with that many results to pick from, none placed by itself. */
  variations?: number;
  /** Arrived variations, in variation order (index = variation - 1 once all are in). */
  variationResults?: JobResult[];
  /** Variations placed so far (1-based), so the strip can mark them. */
  placedVariations?: number[];
  /** A chain's instructions, step 1 (= instruction) first. */
  chain?: string[];
  /** The step running now and the steps so far. */
  chainStep?: { step: number; of: number };
  chainSteps?: ChainStepState[];
  /** A region mask went with the image (the selection had shapes over the layer). */
  maskSent?: boolean;
  regionShapeNames?: string[];
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

/** What the job asked for, in one line: a chain's steps joined ("add snow → make it night"). */
export function titleOf(job: EditJob): string {
  return job.chain !== undefined && job.chain.length > 1 ? job.chain.join(' → ') : job.instruction;
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
        return { ...job, expressiveInstruction: message.text, chainSteps: withChainStep(job, job.chainStep?.step, { expressiveInstruction: message.text }) };
      case 'chain-step':
        // A new step starts its own stages and steps: the previous step's progress no longer applies.
        return {
          ...job,
          chainStep: { step: message.step, of: message.of },
          chainSteps: withChainStep(job, message.step, { instruction: message.instruction }),
          stage: undefined,
          step: undefined,
          tokens: undefined,
          expressiveInstruction: undefined,
        };
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

/** The job's chain steps with step `step` changed (and created when it is the first news of it). */
function withChainStep(job: EditJob, step: number | undefined, change: Partial<ChainStepState>): ChainStepState[] | undefined {
  if (step === undefined || job.chain === undefined) return job.chainSteps;
  const steps = [...(job.chainSteps ?? [])];
  const index = steps.findIndex((candidate) => candidate.step === step);
  const current = index >= 0 ? steps[index] : { step, instruction: job.chain[step - 1] ?? '' };
  const updated = { ...current, ...change };
  if (index >= 0) steps[index] = updated;
  else steps.push(updated);
  return steps.sort((a, b) => a.step - b.step);
}

/**
 * Where one arrived result goes: a variation joins the strip, a chain step's picture joins its step, a
 * plain result is the job's. `finished` when it is the job's last one (variation or step `of` of `of`);
 * `duplicate` when it was already there (results are delivered again after a reconnect): change nothing.
 */
export function attachResult(job: EditJob, result: JobResult): { job: EditJob; finished: boolean; duplicate: boolean } {
  const { header } = result;
  const expressiveInstruction = header.expressiveInstruction;
  if (header.variation !== undefined) {
    const arrived = job.variationResults ?? [];
    if (arrived.some((other) => other.header.variation === header.variation)) return { job, finished: false, duplicate: true };
    const variationResults = [...arrived, result].sort((a, b) => (a.header.variation ?? 0) - (b.header.variation ?? 0));
    const finished = variationResults.length >= (header.of ?? 1);
    return { job: { ...job, jobId: header.jobId, expressiveInstruction, variationResults }, finished, duplicate: false };
  }
  if (header.chainStep !== undefined) {
    const existing = job.chainSteps?.find((step) => step.step === header.chainStep);
    if (existing?.result) return { job, finished: false, duplicate: true };
    const chainSteps = withChainStep({ ...job, chain: job.chain ?? [] }, header.chainStep, { instruction: header.instruction, expressiveInstruction, result });
    const finished = header.chainStep === header.of;
    return { job: { ...job, jobId: header.jobId, chainSteps, ...(finished ? { result, expressiveInstruction } : {}) }, finished, duplicate: false };
  }
  if (job.result) return { job, finished: false, duplicate: true };
  return { job: { ...job, jobId: header.jobId, expressiveInstruction, result }, finished: true, duplicate: false };
}

/**
 * What a finished job places by itself, in order: a plain edit its result; a chain its final result, or
 * every step's with 'every-step'; variations nothing (the designer picks from the strip first).
 */
export function resultsToPlace(job: EditJob, chainPlacement: ChainPlacement): JobResult[] {
  if (job.variations !== undefined && job.variations > 1) return [];
  if (job.chainSteps !== undefined && job.chain !== undefined) {
    if (chainPlacement === 'every-step') return job.chainSteps.flatMap((step) => (step.result ? [step.result] : []));
    return job.result ? [job.result] : [];
  }
  return job.result ? [job.result] : [];
}

/** The result a re-run starts from: the placed or final one, else the first variation. */
export function representativeResult(job: EditJob): JobResult | undefined {
  return job.result ?? job.variationResults?.[0];
}
