// A progress bar that keeps moving and a time-left estimate. The server reports stages, generated tokens
// and diffusion steps; how long each stage takes comes from the last finished edit when there is one
// (ResultHeader.timings), else from typical shares.
import type { EditStageName } from '../../companion-server/protocol/messages.ts';
import type { EditJob } from './edit-job.ts';

const STAGES: EditStageName[] = ['prepare', 'vision', 'generate', 'condition', 'encode', 'diffuse', 'decode'];

/** Typical shares of an edit's time (GPU, 100 steps); only used before any edit has finished. */
const TYPICAL_SHARE: Record<EditStageName, number> = { prepare: 0.02, vision: 0.03, generate: 0.15, condition: 0.02, encode: 0.03, diffuse: 0.7, decode: 0.05 };

const STAGE_LABEL: Record<EditStageName, string> = {
  prepare: 'Preparing the image',
  vision: 'Looking at the image',
  generate: 'Imagining the edit',
  condition: 'Planning the edit',
  encode: 'Encoding the image',
  diffuse: 'Editing',
  decode: 'Finishing',
};

/** The last finished edit: its stage durations in ms and its step count. */
export interface PastTimings {
  timings: Record<string, number>;
  steps: number;
}

export interface ProgressEstimate {
  /** 0..1 */
  fraction: number;
  label: string;
  /** Undefined until there is something to base it on. */
  secondsLeft?: number;
}

export function estimateProgress(job: EditJob, now: number, past?: PastTimings): ProgressEstimate {
  if (job.phase === 'queued') {
    const ahead = job.position ?? 0;
    return { fraction: 0, label: ahead > 0 ? `Waiting: ${ahead} ${ahead === 1 ? 'edit' : 'edits'} ahead` : 'Starting' };
  }
  if (job.phase !== 'running' || job.stage === undefined) return { fraction: job.phase === 'done' || job.phase === 'placing' ? 1 : 0, label: 'Starting' };

  const steps = job.step?.steps ?? job.requested.steps ?? past?.steps ?? 100;
  const expected = expectedStageMs(steps, past);
  const total = STAGES.reduce((sum, stage) => sum + expected[stage], 0);
  const index = STAGES.indexOf(job.stage);
  const before = STAGES.slice(0, index).reduce((sum, stage) => sum + expected[stage], 0);
  const within = withinStage(job);
  const fraction = Math.min(0.99, (before + within * expected[job.stage]) / total);

  let label = STAGE_LABEL[job.stage];
  if (job.stage === 'diffuse' && job.step) label = `Editing: step ${job.step.step} of ${job.step.steps}`;

  const elapsedInStage = job.stageStartedAt === undefined ? 0 : Math.max(0, now - job.stageStartedAt);
  const after = STAGES.slice(index + 1).reduce((sum, stage) => sum + expected[stage], 0);
  let msLeft: number | undefined;
  if (job.stage === 'diffuse' && job.step && job.step.step > 0) {
    // Measured on this edit: the most reliable figure.
    const perStep = elapsedInStage / job.step.step;
    msLeft = perStep * (job.step.steps - job.step.step) + (past ? after : perStep * 3);
  } else if (past) {
    msLeft = Math.max(0, expected[job.stage] - elapsedInStage) + after;
  }
  return { fraction, label, secondsLeft: msLeft === undefined ? undefined : Math.max(1, Math.round(msLeft / 1000)) };
}

function expectedStageMs(steps: number, past?: PastTimings): Record<EditStageName, number> {
  if (!past) return TYPICAL_SHARE;
  const expected = {} as Record<EditStageName, number>;
  for (const stage of STAGES) expected[stage] = Math.max(1, past.timings[stage] ?? 0);
  expected.diffuse *= steps / Math.max(1, past.steps);
  return expected;
}

/** How far into its current stage the job is, 0..1. */
function withinStage(job: EditJob): number {
  if (job.stage === 'generate' && job.tokens) return Math.min(1, job.tokens.generated / Math.max(1, job.tokens.max));
  if (job.stage === 'diffuse' && job.step) return job.step.step / Math.max(1, job.step.steps);
  return 0;
}

export function formatSecondsLeft(seconds: number | undefined): string {
  if (seconds === undefined) return '';
  if (seconds < 60) return `about ${seconds} s left`;
  const minutes = Math.round(seconds / 60);
  return `about ${minutes} min left`;
}

/**
 * Seconds until every job of a group is done: what the running ones have left plus a whole edit for each
 * waiting one, as long as the last finished edit took (its steps scaled to the job's). Undefined before
 * any edit has finished: there is nothing to base it on.
 */
export function estimateGroupSecondsLeft(jobs: readonly EditJob[], now: number, past?: PastTimings): number | undefined {
  if (!past) return undefined;
  let ms = 0;
  for (const job of jobs) {
    if (job.phase === 'running') ms += (estimateProgress(job, now, past).secondsLeft ?? 0) * 1000;
    else if (job.phase === 'queued') {
      const expected = expectedStageMs(job.requested.steps ?? past.steps, past);
      ms += STAGES.reduce((sum, stage) => sum + expected[stage], 0);
    }
  }
  return ms > 0 ? Math.max(1, Math.round(ms / 1000)) : undefined;
}
