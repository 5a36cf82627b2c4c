// Messages between the server's main thread and its engine thread (engine-thread.ts <-> engine-thread-
// worker.ts). Byte arrays travel as transferred ArrayBuffers, not copies.
import { isMarkedAsUntransferable } from 'node:worker_threads';
import type { PipelineOptions } from '../../engine/mgie-pipeline.ts';
import type { ServedModel } from '../edit-backend.ts';
import type { EditJobInput, FinishedEdit, Outgoing } from '../run-edit-job.ts';

/** What the worker is started with (workerData). */
export interface EngineThreadSettings {
  bundleDirectory: string;
  /** PipelineOptions that survive structured cloning (no probe functions). */
  pipelineOptions: Omit<PipelineOptions, 'probeProviders'>;
  /** Run one tiny edit after loading, so that the first designer's edit does not pay for first-run costs. */
  warmUp: boolean;
}

export type ToEngineThread =
  | { type: 'run'; id: number; job: EditJobInput; previewIntervalMs: number }
  | { type: 'cancel'; id: number }
  | { type: 'close' };

export type FromEngineThread =
  | { type: 'ready'; model: ServedModel; loadMilliseconds: number }
  | { type: 'load-failed'; error: SerializedError }
  | { type: 'outgoing'; id: number; outgoing: Outgoing }
  | { type: 'done'; id: number; result: FinishedEdit }
  | { type: 'failed'; id: number; error: SerializedError }
  | { type: 'closed' };

/** An Error as it crosses threads: MgieError's code survives, so the client sees the same error either way. */
export interface SerializedError {
  message: string;
  code?: string;
  stack?: string;
}

/**
 * Bytes whose buffer can be transferred: a copy where the view does not own its whole buffer (Buffer's
 * pool) or the buffer may not move (native memory, such as sharp's output).
 */
export function ownedBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const { buffer } = bytes;
  const whole = bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength;
  if (whole && buffer instanceof ArrayBuffer && !isMarkedAsUntransferable(buffer)) return bytes as Uint8Array<ArrayBuffer>;
  return new Uint8Array(bytes);
}
