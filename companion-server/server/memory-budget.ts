// What users can make the server hold in memory, item by item, from its options: the "budget" in
// "RSS stays under model + budget" (README, "Memory"). The model part (weights, ONNX Runtime's arenas,
// the engine's tensors for the largest edit) does not depend on users; this part does, and every item
// is bounded by an option. The memory benchmark prints its peak against this.
import type { ServerOptions } from './server-options.ts';
import { maxFrameBytes } from './server-options.ts';

/**
 * Bytes of the running job's working set per input pixel, on top of its upload: the decoded RGBA (4),
 * the flattened RGB (3) and alpha (1), and the result resized back to the input size (3) with its PNG
 * (about 3 for a noisy image), not all live at once; the edit-size tensors are the model's part.
 */
export const RUNNING_JOB_BYTES_PER_PIXEL = 12;
/** A socket read that a small upload's view may keep alive beside it (upload-spool.ts). */
const SOCKET_READ_BYTES = 64 * 1024;

export interface MemoryBudgetItem {
  name: string;
  bytes: number;
  /** How the figure is made, with the options that set it. */
  formula: string;
}

/** The budget for `connections` open WebSocket connections and HTTP uploads (a connection cap bounds them). */
export function memoryBudget(options: ServerOptions, connections: number): MemoryBudgetItem[] {
  // ws gathers a frame's socket reads and then copies them into one buffer: until the reads are
  // collected, a frame takes twice its size.
  const frame = 2 * maxFrameBytes(options) + SOCKET_READ_BYTES;
  const perJob = options.maxImageBytes + RUNNING_JOB_BYTES_PER_PIXEL * options.limits.maxInputPixels;
  return [
    {
      name: 'frames in flight',
      bytes: connections * frame,
      formula: `connections (${connections}) x (2 x maxFrameBytes + one 64 KiB socket read): a connection is not read while its frame is handled`,
    },
    {
      name: 'small waiting uploads',
      bytes: options.maxQueuedTotal * (options.uploadSpool.inMemoryMaxBytes + SOCKET_READ_BYTES),
      formula: `maxQueuedTotal (${options.maxQueuedTotal}) x (uploadSpool.inMemoryMaxBytes + 64 KiB); larger ones wait on disk`,
    },
    {
      name: 'running jobs',
      bytes: options.concurrency * perJob,
      formula: `concurrency (${options.concurrency}) x (maxImageBytes + ${RUNNING_JOB_BYTES_PER_PIXEL} B x limits.maxInputPixels)`,
    },
    {
      name: 'kept results',
      bytes: options.resultsKeptMaxBytes,
      formula: 'resultsKeptMaxBytes; results waiting in send buffers are these same bytes (sent without a copy)',
    },
    {
      name: 'progress in send buffers',
      bytes: connections * options.slowReader.dropProgressBytes,
      formula: `connections (${connections}) x slowReader.dropProgressBytes: past it a connection gets no progress or previews`,
    },
  ];
}

export function memoryBudgetBytes(options: ServerOptions, connections: number): number {
  return memoryBudget(options, connections).reduce((sum, item) => sum + item.bytes, 0);
}
