// One edit on the pipeline, its progress turned into protocol messages: what the in-process service
// and a scale-out worker (scale-out/edit-worker.ts) both run, so a worker sends exactly what `mgie serve`
// sends on its own.
import type { EditParameters } from '../engine/edit-parameters.ts';
import type { EditProgress, EditResult, MgiePipeline } from '../engine/mgie-pipeline.ts';
import { editWithExtrasAsync } from './run-edit-extras.ts';
import type { SubmitExtras } from './submit-extras.ts';
import type { ResultHeader, ServerMessage } from '../protocol/messages.ts';
import { latentPreviewJpegAsync } from './latent-preview.ts';

/** A message for one client: JSON, or a binary frame (header + bytes). */
export type Outgoing = { kind: 'json'; message: ServerMessage } | { kind: 'binary'; header: object; payload: Uint8Array; droppable: boolean };

export interface FinishedEdit {
  header: ResultHeader;
  png: Buffer;
}

export interface EditJobInput {
  jobId: string;
  clientJobId: string;
  instruction: string;
  image: Uint8Array;
  /** The mask's bytes, when the submit had one (extras.masked). */
  mask?: Uint8Array;
  parameters: EditParameters;
  /** Expressive instruction, variations, chain (submit-extras.ts); absent for a plain edit. */
  extras?: SubmitExtras;
  /** Send live previews (JPEG) as the job asks. */
  previews: boolean;
  /** False for HTTP jobs: their caller waits for the result and has no socket to send events to. */
  streamEvents: boolean;
}

export interface EditJobContext {
  signal: AbortSignal;
  /** Progress messages (stage, tokens, instruction, step, previews) for the job's owner. */
  send: (outgoing: Outgoing) => void;
  previewIntervalMs: number;
}

/** Runs the edit, sending its progress; resolves with the result header and PNG, rejects with the engine's error. */
export async function runEditJobAsync(pipeline: MgiePipeline, job: EditJobInput, context: EditJobContext): Promise<FinishedEdit> {
  const { jobId } = job;
  let lastPreview = 0;
  let previewBusy = false;
  const onProgress = (event: EditProgress): void => {
    if (!job.streamEvents) return;
    const json = (message: ServerMessage): void => context.send({ kind: 'json', message });
    if (event.type === 'stage') json({ type: 'stage', jobId, stage: event.stage });
    else if (event.type === 'token') json({ type: 'tokens', jobId, generated: event.generated, max: event.maxNewTokens });
    else if (event.type === 'chain-step') json({ type: 'chain-step', jobId, step: event.step, of: event.steps, instruction: event.instruction });
    else if (event.type === 'expressive-instruction') json({ type: 'instruction', jobId, text: event.text });
    else if (event.type === 'step') {
      json({ type: 'step', jobId, step: event.step, steps: event.steps });
      const now = Date.now();
      // Previews are throttled and skipped while the last one is still being encoded.
      if (job.previews && !previewBusy && now - lastPreview >= context.previewIntervalMs) {
        lastPreview = now;
        previewBusy = true;
        const latents = event.latents.slice();
        const { step, steps } = event;
        latentPreviewJpegAsync(latents, event.latentShape, event.latentRegion)
          .then(({ jpeg, width, height }) => context.send({ kind: 'binary', header: { type: 'preview', jobId, step, steps, width, height }, payload: jpeg, droppable: true }))
          .catch(() => undefined)
          .finally(() => (previewBusy = false));
      }
    }
  };
  const headerOf = (result: EditResult, instruction: string, more: Partial<ResultHeader>): ResultHeader => ({
    type: 'result',
    jobId,
    clientJobId: job.clientJobId,
    instruction,
    expressiveInstruction: result.expressiveInstruction,
    expressiveInstructionSource: result.expressiveInstructionSource,
    masked: result.masked,
    parameters: result.parameters,
    width: result.width,
    height: result.height,
    model: result.modelName,
    timings: Object.fromEntries(Object.entries(result.timings).map(([k, v]) => [k, Math.round(v)])),
    cached: false,
    ...more,
  });
  // Results before the job's last (variations, chain steps) are final messages too: kept for an absent
  // client, or (HTTP jobs, no events) collected by the service for the one answer.
  const sendEarlier = (earlier: FinishedEdit): void => {
    context.send({ kind: 'binary', header: earlier.header, payload: earlier.png, droppable: false });
  };
  return editWithExtrasAsync(pipeline, job, { signal: context.signal, onProgress }, headerOf, sendEarlier);
}
