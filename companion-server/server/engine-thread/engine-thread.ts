// The pipeline in a worker thread (engine-thread-worker.ts), seen from the server as an EditEngine.
// onnxruntime-node runs each model synchronously on the calling thread (its promise only defers the
// call to setImmediate), so in the server's thread a UNet step or a 7B token would stall every socket,
// ping, cancel and submit for as long as it runs. Here the main thread keeps only the checks a submit
// passes (the manifest and tokenizer: milliseconds to load); jobs go to the engine thread and their
// progress comes back as the same protocol messages. If the thread dies, its jobs fail with a clear
// error and the next job starts a fresh one.
import { Worker } from 'node:worker_threads';
import { EditChecks } from '../../engine/edit-checks.ts';
import { type MgieErrorCode, errorCodes, MgieError } from '../../engine/errors.ts';
import type { PipelineOptions } from '../../engine/mgie-pipeline.ts';
import type { ServedModel } from '../edit-backend.ts';
import type { EditEngine } from '../edit-engine.ts';
import type { EditJobContext, EditJobInput, FinishedEdit } from '../run-edit-job.ts';
import type { EngineThreadSettings, FromEngineThread, SerializedError, ToEngineThread } from './engine-thread-messages.ts';

const ENTRY = new URL('./engine-thread-entry.js', import.meta.url);
/**
 * How long close waits for the running model run to end, the jobs to see their cancellation and the
 * models to be released. Never worker.terminate(): stopping a thread inside a native call (ONNX Runtime,
 * sharp) aborts the whole process. After this the thread is unref'd so that it cannot keep the process up.
 */
const CLOSE_TIMEOUT_MS = 30_000;

interface RunningJob {
  context: EditJobContext;
  resolve: (result: FinishedEdit) => void;
  reject: (error: unknown) => void;
}

export interface EngineThreadOptions {
  pipelineOptions?: Omit<PipelineOptions, 'probeProviders'>;
  /** One tiny edit after loading (what `mgie serve` does); default false. */
  warmUp?: boolean;
}

export class EngineThread implements EditEngine {
  private worker: Worker | null;
  private starting: Promise<Worker> | null = null;
  private readonly jobs = new Map<number, RunningJob>();
  private nextId = 1;
  private closing = false;

  private constructor(
    readonly checks: EditChecks,
    readonly model: ServedModel,
    readonly loadMilliseconds: number,
    worker: Worker,
    private readonly settings: EngineThreadSettings,
  ) {
    this.worker = worker;
    this.watch(worker);
  }

  /** Loads the checks here and the pipeline in a new thread; rejects with the load's error (a bad bundle, a missing provider). */
  static async startAsync(bundleDirectory: string, options: EngineThreadOptions = {}): Promise<EngineThread> {
    const pipelineOptions = options.pipelineOptions ?? {};
    const checks = await EditChecks.loadAsync(bundleDirectory, pipelineOptions.limits);
    const settings: EngineThreadSettings = { bundleDirectory, pipelineOptions, warmUp: options.warmUp ?? false };
    const { worker, model, loadMilliseconds } = await spawnAsync(settings);
    return new EngineThread(checks, model, loadMilliseconds, worker, settings);
  }

  async runJobAsync(job: EditJobInput, context: EditJobContext): Promise<FinishedEdit> {
    if (this.closing) throw new MgieError('MGIE_ERR_SHUTTING_DOWN', 'The server is shutting down. Run the edit again when it is back.');
    context.signal.throwIfAborted();
    const worker = this.worker ?? (await this.restartAsync());
    const id = this.nextId++;
    const promise = new Promise<FinishedEdit>((resolve, reject) => this.jobs.set(id, { context, resolve, reject }));
    const onAbort = (): void => this.post({ type: 'cancel', id });
    context.signal.addEventListener('abort', onAbort, { once: true });
    try {
      // The image is cloned, not transferred: the caller may still hold it (the result cache's key, a retry).
      this.post({ type: 'run', id, job: clonableInput(job), previewIntervalMs: context.previewIntervalMs }, worker);
      return await promise;
    } finally {
      context.signal.removeEventListener('abort', onAbort);
      this.jobs.delete(id);
    }
  }

  async closeAsync(): Promise<void> {
    this.closing = true;
    const worker = this.worker;
    this.worker = null;
    if (worker === null) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ type: 'close' } satisfies ToEngineThread);
    const timer = setTimeout(() => worker.unref(), CLOSE_TIMEOUT_MS);
    timer.unref();
    await exited;
    clearTimeout(timer);
  }

  private post(message: ToEngineThread, worker = this.worker): void {
    worker?.postMessage(message);
  }

  private watch(worker: Worker): void {
    worker.on('message', (message: FromEngineThread) => this.onMessage(message));
    const lost = (why: string): void => {
      if (this.worker === worker) this.worker = null;
      if (this.closing && this.jobs.size === 0) return;
      const error = new MgieError('MGIE_ERR_RUNTIME', `The engine thread stopped (${why}) and this edit was not finished. Run it again; if it keeps happening, see the server's log.`);
      for (const job of this.jobs.values()) job.reject(error);
      this.jobs.clear();
    };
    worker.on('error', (error) => lost(error.message));
    worker.on('exit', (code) => lost(`exit code ${code}`));
  }

  private onMessage(message: FromEngineThread): void {
    if (message.type === 'outgoing') this.jobs.get(message.id)?.context.send(message.outgoing);
    else if (message.type === 'done') {
      const { header, png } = message.result;
      this.jobs.get(message.id)?.resolve({ header, png: Buffer.from(png.buffer, png.byteOffset, png.byteLength) });
    } else if (message.type === 'failed') this.jobs.get(message.id)?.reject(deserialize(message.error));
  }

  /** A fresh thread after the last one died; jobs arriving meanwhile wait for the same one. */
  private restartAsync(): Promise<Worker> {
    this.starting ??= spawnAsync(this.settings)
      .then(({ worker }) => {
        this.worker = worker;
        this.watch(worker);
        return worker;
      })
      .finally(() => (this.starting = null));
    return this.starting;
  }
}

async function spawnAsync(settings: EngineThreadSettings): Promise<{ worker: Worker; model: ServedModel; loadMilliseconds: number }> {
  const worker = new Worker(ENTRY, { workerData: settings });
  // Only these listeners come off afterwards: removeAllListeners would also take Worker's own, and its messages stop.
  let onMessage: (message: FromEngineThread) => void = () => undefined;
  let onError: (error: Error) => void = () => undefined;
  let onExit: (code: number) => void = () => undefined;
  try {
    const ready = await new Promise<Extract<FromEngineThread, { type: 'ready' }>>((resolve, reject) => {
      onMessage = (message) => {
        if (message.type === 'ready') resolve(message);
        else if (message.type === 'load-failed') reject(deserialize(message.error));
      };
      onError = reject;
      onExit = (code) => reject(new MgieError('MGIE_ERR_RUNTIME', `The engine thread exited (code ${code}) while loading the bundle.`));
      worker.on('message', onMessage).once('error', onError).once('exit', onExit);
    });
    return { worker, model: ready.model, loadMilliseconds: ready.loadMilliseconds };
  } catch (error) {
    await worker.terminate();
    throw error;
  } finally {
    worker.off('message', onMessage).off('error', onError).off('exit', onExit);
  }
}

/** Only the job's input: callers pass their own job records (with spool handles and functions) that cannot be cloned. */
function clonableInput(job: EditJobInput): EditJobInput {
  const { jobId, clientJobId, instruction, image, mask, parameters, extras, previews, streamEvents } = job;
  return { jobId, clientJobId, instruction, image, mask, parameters, extras, previews, streamEvents };
}

function deserialize(error: SerializedError): Error {
  const revived = error.code !== undefined && error.code in errorCodes ? new MgieError(error.code as MgieErrorCode, error.message) : new Error(error.message);
  if (error.stack) revived.stack = error.stack;
  return revived;
}
