// The engine thread: loads the pipeline and runs the jobs the main thread sends (engine-thread.ts), with
// the same code as an engine in the main thread (run-edit-job.ts). Model runs block this thread, not the
// server's: its sockets, timers and queue stay responsive while a UNet step or a 7B token runs.
import { parentPort, workerData } from 'node:worker_threads';
import { isMgieError } from '../../engine/errors.ts';
import { MgiePipeline } from '../../engine/mgie-pipeline.ts';
import { warmUpAsync } from '../../engine/warm-up.ts';
import { servedModelOf } from '../edit-backend.ts';
import { type Outgoing, runEditJobAsync } from '../run-edit-job.ts';
import { type EngineThreadSettings, type FromEngineThread, ownedBytes, type SerializedError, type ToEngineThread } from './engine-thread-messages.ts';

const port = parentPort;
if (port === null) throw new Error('engine-thread-worker.ts runs as a worker thread (engine-thread.ts starts it)');
const settings = workerData as EngineThreadSettings;
const running = new Map<number, AbortController>();

function post(message: FromEngineThread, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

function serialize(error: unknown): SerializedError {
  if (isMgieError(error)) return { message: error.message, code: error.code, stack: error.stack };
  return error instanceof Error ? { message: error.message, stack: error.stack } : { message: String(error) };
}

/** An outgoing message with its bytes made transferable (previews and early results are made here and used once). */
function transferable(outgoing: Outgoing): { outgoing: Outgoing; transfer: ArrayBuffer[] } {
  if (outgoing.kind !== 'binary') return { outgoing, transfer: [] };
  const payload = ownedBytes(outgoing.payload);
  return { outgoing: { ...outgoing, payload }, transfer: [payload.buffer] };
}

let pipeline: MgiePipeline;
try {
  pipeline = await MgiePipeline.loadAsync(settings.bundleDirectory, settings.pipelineOptions);
  if (settings.warmUp) await warmUpAsync(pipeline);
  post({ type: 'ready', model: servedModelOf(pipeline), loadMilliseconds: pipeline.bundle.loadMilliseconds });
} catch (error) {
  post({ type: 'load-failed', error: serialize(error) });
  port.close();
  process.exit(0);
}

port.on('message', (message: ToEngineThread) => {
  if (message.type === 'cancel') running.get(message.id)?.abort();
  else if (message.type === 'close') void closeAsync();
  else void runAsync(message);
});

async function runAsync({ id, job, previewIntervalMs }: Extract<ToEngineThread, { type: 'run' }>): Promise<void> {
  const controller = new AbortController();
  running.set(id, controller);
  try {
    const send = (outgoing: Outgoing): void => {
      const { outgoing: owned, transfer } = transferable(outgoing);
      post({ type: 'outgoing', id, outgoing: owned }, transfer);
    };
    const result = await runEditJobAsync(pipeline, job, { signal: controller.signal, send, previewIntervalMs });
    const png = ownedBytes(result.png);
    post({ type: 'done', id, result: { header: result.header, png: png as Buffer } }, [png.buffer]);
  } catch (error) {
    post({ type: 'failed', id, error: serialize(error) });
  } finally {
    running.delete(id);
  }
}

async function closeAsync(): Promise<void> {
  for (const controller of running.values()) controller.abort();
  await pipeline.releaseAsync().catch(() => undefined);
  post({ type: 'closed' });
  port!.close();
}
