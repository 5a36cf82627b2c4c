// What the in-process EditService needs from the engine: the checks a submit passes before it waits in
// line, the model it serves, and a way to run one job. The pipeline can run in this thread (tests, a
// library user) or, as `mgie serve` runs it, in a worker thread (engine-thread/), so that model runs,
// which block their thread for seconds on real weights, never hold up sockets, pings, cancels and submits.
import type { EditChecks } from '../engine/edit-checks.ts';
import type { MgiePipeline } from '../engine/mgie-pipeline.ts';
import { type ServedModel, servedModelOf } from './edit-backend.ts';
import { type EditJobContext, type EditJobInput, type FinishedEdit, runEditJobAsync } from './run-edit-job.ts';

export interface EditEngine {
  readonly checks: EditChecks;
  readonly model: ServedModel;
  /** How long the models took to load, for the metrics. */
  readonly loadMilliseconds: number;
  /** Runs one job (run-edit-job.ts): progress through context.send, the result or the engine's error at the end. */
  runJobAsync(job: EditJobInput, context: EditJobContext): Promise<FinishedEdit>;
  /** Releases the models; jobs still running fail. */
  closeAsync(): Promise<void>;
}

/** The pipeline run in this thread; closing it leaves the pipeline loaded (its owner releases it). */
export function inThisThread(pipeline: MgiePipeline): EditEngine {
  return {
    checks: pipeline.checks,
    model: servedModelOf(pipeline),
    loadMilliseconds: pipeline.bundle.loadMilliseconds,
    runJobAsync: (job, context) => runEditJobAsync(pipeline, job, context),
    closeAsync: async () => undefined,
  };
}
