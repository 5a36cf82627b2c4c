// A spy over a real ModelSession: every run still goes to ONNX Runtime, and a copy of what went in and
// what came out is kept, so a test can check a stage's inputs against values it computes itself.
// Feeds are copied before the run (the pipeline reuses and overwrites some buffers between runs,
// e.g. the UNet's batched sample), outputs right after it.
import { float32Data, type ModelSession, type Tensor } from '../../companion-server/engine/onnx-runtime.ts';

export interface RecordedTensor {
  dims: number[];
  /** Float tensors as float32 (float16 converted), int64 tensors as numbers. */
  data: Float32Array | number[];
}

export interface RecordedRun {
  feeds: Record<string, RecordedTensor>;
  outputs: Record<string, RecordedTensor>;
}

export interface SessionRecorder {
  readonly runs: RecordedRun[];
  /** Forgets what was recorded so far (e.g. between two edits). */
  clear(): void;
  /** Puts the session's own runAsync back. */
  restore(): void;
}

function snapshot(tensor: Tensor): RecordedTensor {
  const dims = [...tensor.dims];
  if (tensor.type === 'int64') return { dims, data: Array.from(tensor.data as BigInt64Array, Number) };
  return { dims, data: float32Data(tensor).slice() };
}

function snapshotAll(tensors: Record<string, Tensor>): Record<string, RecordedTensor> {
  return Object.fromEntries(Object.entries(tensors).map(([name, tensor]) => [name, snapshot(tensor)]));
}

export function recordSessionRuns(session: ModelSession): SessionRecorder {
  const runs: RecordedRun[] = [];
  const original = session.runAsync;
  // An own property shadows the prototype's method for this session only.
  session.runAsync = async function (this: ModelSession, feeds: Record<string, Tensor>) {
    const recordedFeeds = snapshotAll(feeds);
    const outputs = await original.call(session, feeds);
    runs.push({ feeds: recordedFeeds, outputs: snapshotAll(outputs) });
    return outputs;
  };
  return {
    runs,
    clear: () => void runs.splice(0),
    restore: () => void delete (session as { runAsync?: unknown }).runAsync,
  };
}

/** The float data of a recorded tensor (fails loudly on an int64 one). */
export function floats(tensor: RecordedTensor): Float32Array {
  if (!(tensor.data instanceof Float32Array)) throw new Error('expected a float tensor');
  return tensor.data;
}

/** The integer data of a recorded int64 tensor. */
export function ints(tensor: RecordedTensor): number[] {
  if (tensor.data instanceof Float32Array) throw new Error('expected an int64 tensor');
  return tensor.data;
}
